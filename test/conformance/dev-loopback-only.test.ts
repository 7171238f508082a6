/**
 * The dev identity provider signs in any email typed into a form, so a server running it
 * must answer no one but this machine, whatever its variables say: a request that names a
 * public host (Host, X-Forwarded-Host, Forwarded) or comes through a proxy from elsewhere
 * (X-Forwarded-For, Forwarded for=) is refused before any page or sign-in. That is what a
 * dev configuration deployed by mistake, a tunnel, or a DNS-rebinding page would send.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { networkInterfaces } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker, testTarget } from '../fixtures/worker-server.ts';

let worker: RunningWorker;

before(async () => {
  worker = await startWorker({ LATCHKEY_IDENTITY: 'dev' });
});
after(async () => {
  await worker?.stop();
});

/** A raw request, so the Host header is exactly what an attacker chose. */
function send(path: string, headers: Record<string, string>, form?: Record<string, string>, base = worker.url) {
  const url = new URL(path, base);
  const body = form ? new URLSearchParams(form).toString() : undefined;
  return new Promise<{ status: number; body: string; cookies: string[] }>((resolve, reject) => {
    const call = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: form ? 'POST' : 'GET',
        headers: { ...headers, ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: text, cookies: response.headers['set-cookie'] ?? [] }),
        );
      },
    );
    call.on('error', reject);
    call.end(body);
  });
}

/** A signed-in-ready form: the CSRF cookie and field from a loopback visit. */
async function loopbackForm() {
  const page = await send('/device', {});
  assert.equal(page.status, 200, page.body);
  // As a browser keeps them: the last Set-Cookie of a name wins.
  const jar = new Map(page.cookies.map((line) => (line.split(';')[0] ?? '').split(/=(.*)/s) as [string, string]));
  const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  return { cookie, csrf: FormBrowser.field(page.body, 'csrf') };
}

const hostile: [string, Record<string, string>][] = [
  ['a public Host', { host: 'latchkey.example.com' }],
  ['a rebinding name', { host: 'attacker.example:8787' }],
  ['X-Forwarded-Host from a proxy', { 'x-forwarded-host': 'latchkey.example.com' }],
  ['Forwarded host=', { forwarded: 'for=127.0.0.1;host=latchkey.example.com;proto=https' }],
  ['X-Forwarded-For from a tunnel', { 'x-forwarded-for': '203.0.113.7' }],
  ['Forwarded for= an outside address', { forwarded: 'for=203.0.113.7' }],
];

describe('a dev server answers only on loopback', () => {
  test('on loopback, the sign-in works (the control)', async () => {
    const { cookie, csrf } = await loopbackForm();
    const signedIn = await send('/signin', { cookie }, { csrf, return_to: '/device', email: 'dev@example.com' });
    assert.equal(signedIn.status, 303, signedIn.body);
    assert.ok(signedIn.cookies.some((line) => line.startsWith('lk_session')));
  });

  test('the credential check alone skips the guard, and tells a credential-less caller nothing', async () => {
    for (const [, headers] of hostile) {
      const checked = await send('/v1/me', headers);
      assert.equal(checked.status, 401, checked.body);
      assert.doesNotMatch(checked.body, /dev identity provider/);
      for (const path of ['/v1/me/', '/v1/orgs', '/healthz', '/.well-known/jwks.json']) {
        assert.equal((await send(path, headers)).status, 403, `${path} is guarded`);
      }
    }
  });

  for (const [name, headers] of hostile) {
    test(`refused: ${name} — no sign-in page, no session`, async () => {
      const page = await send('/device', headers);
      assert.equal(page.status, 403, page.body);
      assert.doesNotMatch(page.body, /name="csrf"/);
      assert.match(page.body, /dev identity provider answers only/);

      const { cookie, csrf } = await loopbackForm();
      const signIn = await send('/signin', { cookie, ...headers }, { csrf, return_to: '/device', email: 'ceo@example.com' });
      assert.equal(signIn.status, 403, signIn.body);
      assert.ok(!signIn.cookies.some((line) => line.startsWith('lk_session')), 'no session cookie');
    });
  }
});

// Only the Node target may bind past loopback here: the test Deno is allowed loopback
// sockets only, and workerd's dev server names no peer. Both use the same guard.
const bindsItself = testTarget().startsWith('node');
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((address) => address && !address.internal && address.family === 'IPv4')?.address;

describe('a dev server bound past loopback (HOST=0.0.0.0)', { skip: !bindsItself || !outsideAddress }, () => {
  let exposed: RunningWorker;
  before(async () => {
    exposed = await startWorker({ LATCHKEY_IDENTITY: 'dev', HOST: '0.0.0.0' });
  });
  after(async () => {
    await exposed?.stop();
  });

  test('refuses a peer on another interface even when it claims Host: 127.0.0.1', async () => {
    const port = new URL(exposed.url).port;
    const page = await send('/device', { host: `127.0.0.1:${port}` }, undefined, `http://${outsideAddress}:${port}`);
    assert.equal(page.status, 403, page.body);
    assert.match(page.body, /dev identity provider answers only requests that come over loopback/);
    assert.equal((await send('/device', {}, undefined, exposed.url)).status, 200);
  });
});
