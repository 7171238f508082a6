/**
 * Attacks on an org's SSO connection (worker/accounts/sso-connections.ts, sso-sign-in.ts,
 * the shared OpenID client in worker/identity/oidc.ts), in process over a memory store,
 * against a fake provider that signs whatever flaw a test asks for
 * (test/fixtures/fake-oidc.ts) and hostile discovery endpoints on loopback: a discovery
 * document naming another issuer, or endpoints an org may not point the server at; a
 * huge, slow or redirecting discovery answer; ID tokens from another issuer or for another
 * audience, with another nonce, a foreign key, expired; a replayed state; a connection
 * changed while its test was under way; the old secret sent to a new provider; loopback,
 * private and link-local issuers on a public deployment; and the client secret in no
 * response, audit entry, log line or store record.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ENFORCE_NEEDS_ENABLED } from '../../worker/accounts/sso-connections.ts';
import { parseConfig } from '../../worker/config.ts';
import { discoverProvider } from '../../worker/identity/oidc.ts';
import { internalHost, tenantUrl } from '../../worker/identity/tenant-url.ts';
import { UPSTREAM_MAX_BYTES } from '../../worker/identity/upstream.ts';
import { servicesLoader } from '../../worker/services.ts';
import { type ApiAnswer, apiCall } from '../fixtures/api-call.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { addMember, deviceLogin } from '../fixtures/oauth-client.ts';
import { freePort } from '../fixtures/worker-server.ts';

const CLIENT_ID = 'acme-latchkey';
const SECRET = 'sso-client-secret-Zq8vW2xK9pL4mN7r';

let app: InProcess;
let provider: Awaited<ReturnType<typeof startFakeOidc>>;
let hostile: Awaited<ReturnType<typeof startHostileDiscovery>>;
const tokens = { acme: '', globex: '', member: '' };
const logged: string[] = [];
const consoleMethods = ['log', 'error', 'warn', 'info'] as const;
const originals = consoleMethods.map((name) => console[name]);

const sso = (method: string, suffix = '', body?: Record<string, unknown>, bearer = tokens.acme, org = 'acme') =>
  apiCall(app.base, method, `/v1/orgs/${org}/sso${suffix}`, bearer, body);
const put = (body: Record<string, unknown>, bearer = tokens.acme, org = 'acme') => sso('PUT', '', body, bearer, org);
const connect = (issuer = provider.issuer, extra: Record<string, unknown> = {}) =>
  put({ issuer, client_id: CLIENT_ID, client_secret: SECRET, ...extra });

function expectStatus(answer: ApiAnswer, status: number, what: string) {
  assert.equal(answer.status, status, `${what}: ${answer.text}`);
}

/** Starts a test sign-in, lets the (fake) provider answer, and returns the callback URL it sent the browser to. */
async function providerAnswer(org = 'acme', bearer = tokens.acme): Promise<string> {
  const started = await sso('POST', '/test', undefined, bearer, org);
  expectStatus(started, 201, 'test start');
  const url = new URL(String(started.json.authorization_url));
  assert.equal(url.origin, provider.issuer);
  assert.equal(url.searchParams.get('client_id'), CLIENT_ID);
  assert.equal(url.searchParams.get('redirect_uri'), `${app.base}/sso/callback`);
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(url.searchParams.get('nonce'));
  const answered = await fetch(url, { redirect: 'manual' });
  return answered.headers.get('location') ?? '';
}

async function callback(url: string) {
  const response = await fetch(url, { redirect: 'manual' });
  return { status: response.status, html: await response.text() };
}

const testedAt = async () => (await sso('GET')).json.tested_at;

before(async () => {
  for (const [index, name] of consoleMethods.entries()) {
    const original = originals[index] as (...args: unknown[]) => void;
    console[name] = (...args: unknown[]) => {
      logged.push(args.map(String).join(' '));
      original(...args);
    };
  }
  provider = await startFakeOidc(await freePort(), CLIENT_ID);
  hostile = await startHostileDiscovery();
  // The app's clock is the real one here: the fake provider dates its ID tokens by it.
  app = await startInProcess({}, Date.now());
  tokens.acme = (await deviceLogin(app.base, 'owner@acme.example')).access_token;
  tokens.globex = (await deviceLogin(app.base, 'owner@globex.example')).access_token;
  for (const org of ['acme', 'globex'] as const) {
    const bearer = tokens[org];
    expectStatus(await apiCall(app.base, 'POST', '/v1/orgs', bearer, { slug: org }), 201, org);
  }
  tokens.member = await addMember(app.base, tokens.acme, 'acme', 'member@acme.example', 'member');
});
after(async () => {
  for (const [index, name] of consoleMethods.entries()) console[name] = originals[index] as never;
  app?.close();
  await provider?.stop();
  await hostile?.stop();
});
beforeEach(async () => {
  provider.setFlaw('none');
  await sso('DELETE');
});

describe('the connection and its test sign-in', () => {
  test('made untested; enabling refused until a test sign-in works; enforcing refused unless enabled', async () => {
    const made = await connect();
    expectStatus(made, 201, 'create');
    assert.equal(made.json.enabled, false);
    assert.equal(made.json.tested_at, null);
    assert.equal(made.json.redirect_uri, `${app.base}/sso/callback`);
    assert.equal(made.text.includes(SECRET), false);

    const early = await put({ issuer: provider.issuer, client_id: CLIENT_ID, enabled: true });
    expectStatus(early, 409, 'enable before a test');
    assert.match(String(early.json.error_description), /test sign-in/);
    const enforced = await put({ issuer: provider.issuer, client_id: CLIENT_ID, enforced: true });
    expectStatus(enforced, 409, 'enforce while disabled');
    assert.equal(enforced.json.error_description, ENFORCE_NEEDS_ENABLED);

    const page = await callback(await providerAnswer());
    assert.equal(page.status, 200, page.html);
    assert.match(page.html, /works/);
    assert.match(page.html, /upstream@example\.com/);
    assert.equal(typeof (await testedAt()), 'number');

    expectStatus(await put({ issuer: provider.issuer, client_id: CLIENT_ID, enabled: true }), 200, 'enable once tested');
    const both = await put({ issuer: provider.issuer, client_id: CLIENT_ID, enforced: true });
    expectStatus(both, 200, 'enforce once enabled');
    assert.equal(both.json.enforced, true);
    // Turning SSO off turns its requirement off; asking for both is refused with the exact rule.
    const off = await put({ issuer: provider.issuer, client_id: CLIENT_ID, enabled: false, enforced: true });
    assert.equal(off.json.error_description, ENFORCE_NEEDS_ENABLED);
    const disabled = await put({ issuer: provider.issuer, client_id: CLIENT_ID, enabled: false });
    expectStatus(disabled, 200, 'disable');
    assert.equal(disabled.json.enforced, false);
  });

  test('a new client id is a new provider: its test is gone, SSO is off, and the old secret is not kept for it', async () => {
    await connect();
    await callback(await providerAnswer());
    expectStatus(await put({ issuer: provider.issuer, client_id: CLIENT_ID, enabled: true, enforced: true }), 200, 'on');
    const noSecret = await put({ issuer: provider.issuer, client_id: 'another-client' });
    expectStatus(noSecret, 400, 'new client id without its secret');
    assert.match(String(noSecret.json.error_description), /client_secret is required/);
    const changed = await put({ issuer: provider.issuer, client_id: 'another-client', client_secret: 'another-secret' });
    expectStatus(changed, 200, 'new client id');
    assert.deepEqual([changed.json.tested_at, changed.json.enabled, changed.json.enforced], [null, false, false]);
  });
});

describe('who names the provider', () => {
  test('only an owner: an admin may not make the connection or change its issuer or client id, but may re-key and switch it', async () => {
    await sso('DELETE'); // none, whatever the tests before left
    const admin = await addMember(app.base, tokens.acme, 'acme', 'idp-admin@acme.example', 'admin');
    const made = await put({ issuer: provider.issuer, client_id: CLIENT_ID, client_secret: SECRET }, admin);
    expectStatus(made, 403, 'an admin makes one');
    assert.match(String(made.json.error_description), /only an owner of org "acme" names its identity provider/);
    expectStatus(await sso('GET', '', undefined, admin), 404, 'nothing was made');
    expectStatus(await connect(), 201, 'the owner makes it');
    const renamed = await put({ issuer: provider.issuer, client_id: 'their-own-client', client_secret: 'x' }, admin);
    expectStatus(renamed, 403, 'an admin points it at another client');
    assert.equal((await sso('GET')).json.client_id, CLIENT_ID);
    const rekeyed = await put({ issuer: provider.issuer, client_id: CLIENT_ID, client_secret: 'a-new-secret-4kq9' }, admin);
    expectStatus(rekeyed, 200, 'an admin replaces the secret for the same provider');
  });
});

describe('ID tokens the test refuses (nothing is marked tested)', () => {
  for (const [flaw, message] of [
    ['other-issuer', /&quot;iss&quot; claim is wrong/],
    ['wrong-audience', /&quot;aud&quot; claim is wrong/],
    ['wrong-nonce', /nonce does not match/],
    ['foreign-key', /signature does not verify/],
    ['expired', /expired/],
    ['unverified-email', /did not vouch for an email/],
  ] as const) {
    test(flaw, async () => {
      await connect();
      provider.setFlaw(flaw);
      const page = await callback(await providerAnswer());
      assert.equal(page.status, 400, page.html);
      assert.match(page.html, message);
      assert.equal(await testedAt(), null);
      expectStatus(await put({ issuer: provider.issuer, client_id: CLIENT_ID, enabled: true }), 409, 'still untested');
    });
  }

  test('a state answers once: the same callback again is refused, and a made-up state is refused', async () => {
    await connect();
    const url = await providerAnswer();
    assert.equal((await callback(url)).status, 200);
    const again = await callback(url);
    assert.equal(again.status, 400);
    assert.match(again.html, /expired or was already used/);
    const forged = new URL(url);
    forged.searchParams.set('state', 'A'.repeat(32));
    assert.match((await callback(forged.href)).html, /expired or was already used/);
  });

  test('a test begun on one connection does not mark the next one tested', async () => {
    await connect();
    const url = await providerAnswer();
    // Changed while the admin was at the provider: a new secret is a new connection.
    expectStatus(await put({ issuer: provider.issuer, client_id: CLIENT_ID, client_secret: 'rotated-secret' }), 200, 'rotate');
    const page = await callback(url);
    assert.equal(page.status, 409, page.html);
    assert.match(page.html, /changed since this sign-in began/);
    assert.equal(await testedAt(), null);
  });

  test('an admin demoted while at the provider marks nothing tested with the sign-in begun before', async () => {
    const admin = await addMember(app.base, tokens.acme, 'acme', 'admin@acme.example', 'admin');
    await connect();
    const url = await providerAnswer('acme', admin);
    const demoted = await apiCall(app.base, 'PUT', '/v1/orgs/acme/members/admin@acme.example', tokens.acme, { role: 'member' });
    expectStatus(demoted, 200, 'demote');
    const page = await callback(url);
    assert.equal(page.status, 403, page.html);
    assert.match(page.html, /no longer an admin/);
    assert.equal(await testedAt(), null);
  });

  test("another org's admin cannot test, read or change acme's connection, nor acme's test mark theirs", async () => {
    await connect();
    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['POST', '/test', undefined],
      ['PUT', '', { issuer: provider.issuer, client_id: CLIENT_ID, client_secret: 'x' }],
      ['DELETE', '', undefined],
    ] as const) {
      const answer = await sso(method, suffix, body, tokens.globex);
      expectStatus(answer, 404, `globex ${method} ${suffix}`);
      assert.equal(answer.json.error_description, 'no org "acme"');
    }
    expectStatus(await sso('GET', '', undefined, tokens.globex, 'globex'), 404, "globex's own: none");
    await callback(await providerAnswer());
    expectStatus(await sso('GET', '', undefined, tokens.globex, 'globex'), 404, "acme's test made none for globex");
  });
});

describe('discovery documents the connection refuses', () => {
  test('one naming another issuer (also one differing only by a trailing slash)', async () => {
    const other = await put({ issuer: `${hostile.url}/other-issuer`, client_id: CLIENT_ID, client_secret: SECRET });
    expectStatus(other, 400, 'other issuer');
    assert.match(String(other.json.error_description), /names another issuer/);
    const slash = await put({ issuer: `${provider.issuer}/`, client_id: CLIENT_ID, client_secret: SECRET });
    expectStatus(slash, 400, 'trailing slash');
    expectStatus(await sso('GET'), 404, 'nothing was stored');
  });

  test('endpoints off https, or carrying credentials', async () => {
    for (const path of ['/plain-http-endpoint', '/userinfo-in-endpoint']) {
      const answer = await put({ issuer: `${hostile.url}${path}`, client_id: CLIENT_ID, client_secret: SECRET });
      expectStatus(answer, 400, path);
      assert.match(String(answer.json.error_description), /authorization_endpoint/);
    }
  });

  test('a huge answer is not read to its end; a redirect is not followed', async () => {
    const huge = await put({ issuer: `${hostile.url}/huge`, client_id: CLIENT_ID, client_secret: SECRET });
    expectStatus(huge, 400, 'huge');
    assert.match(String(huge.json.error_description), /over 256 KiB/);
    const chunked = await put({ issuer: `${hostile.url}/huge-chunked`, client_id: CLIENT_ID, client_secret: SECRET });
    expectStatus(chunked, 400, 'huge, no length');
    const redirect = await put({ issuer: `${hostile.url}/redirect`, client_id: CLIENT_ID, client_secret: SECRET });
    expectStatus(redirect, 400, 'redirect');
    assert.match(String(redirect.json.error_description), /redirect, which is not followed/);
  });

  test('a slow answer ends at the deadline as the provider not answering (503)', async () => {
    const config = parseConfig({ LATCHKEY_ISSUER: app.base, LATCHKEY_IDENTITY: 'dev' });
    const services = await servicesLoader(config, { store: app.store, now: app.now })();
    const started = Date.now();
    await assert.rejects(
      discoverProvider(
        services,
        { issuer: `${hostile.url}/slow`, clientId: CLIENT_ID, clientSecret: undefined, emailsVerified: false, tenant: true },
        300,
      ),
      (error: Error & { code?: string }) => error.code === 'temporarily_unavailable',
    );
    assert.ok(Date.now() - started < 3000, 'the slow body was given up at its deadline');
  });
});

describe('issuers an org may not name', () => {
  test('on a public deployment: loopback, private, link-local, metadata addresses, plain http, credentials', () => {
    for (const bad of [
      'http://idp.example.com',
      'https://127.0.0.1',
      'https://localhost:8443',
      'https://10.1.2.3',
      'https://172.20.0.1',
      'https://192.168.1.1',
      'https://169.254.169.254',
      'https://100.64.0.1',
      'https://0.0.0.0',
      'https://[::1]',
      'https://[fd00::1]',
      'https://[fe80::1]',
      'https://[::ffff:127.0.0.1]',
      'https://[::ffff:a9fe:a9fe]',
      'https://metadata.google.internal',
      'https://user:pass@idp.example.com',
      'ftp://idp.example.com',
      'not a url',
    ]) {
      assert.throws(() => tenantUrl(bad, false, 'issuer'), /issuer/, bad);
    }
    assert.equal(tenantUrl('https://idp.example.com/tenant', false, 'issuer').host, 'idp.example.com');
    assert.equal(internalHost('203.0.113.9'), false);
    // A loopback deployment (development, tests) lets plain http on loopback through, and nothing else plain.
    assert.equal(tenantUrl('http://127.0.0.1:9999', true, 'issuer').port, '9999');
    assert.throws(() => tenantUrl('http://idp.example.com', true, 'issuer'), /https/);
  });

  test('over the API: an issuer with a query, or plain http elsewhere than loopback', async () => {
    for (const issuer of [`${provider.issuer}?tenant=x`, 'http://idp.example.com', 'javascript:alert(1)']) {
      expectStatus(await put({ issuer, client_id: CLIENT_ID, client_secret: SECRET }), 400, issuer);
    }
  });
});

describe('the client secret', () => {
  test('appears in no response, audit entry, log line or store record', async () => {
    const answers = [await connect()];
    answers.push(await sso('GET'));
    await callback(await providerAnswer());
    answers.push(await put({ issuer: provider.issuer, client_id: CLIENT_ID, enabled: true, enforced: true }));
    answers.push(await put({ issuer: provider.issuer, client_id: CLIENT_ID, client_secret: `${SECRET}-2` }));
    answers.push(await sso('GET'));
    answers.push(await apiCall(app.base, 'GET', '/v1/orgs/acme/audit?limit=200', tokens.acme));
    const audit = answers.at(-1) as ApiAnswer;
    const actions = (audit.json.entries as { action: string }[]).map((entry) => entry.action);
    for (const action of ['sso.connection_created', 'sso.connection_tested', 'sso.connection_enabled', 'sso.connection_enforced'])
      assert.ok(actions.includes(action), `${action} in ${actions.join(', ')}`);
    answers.push(await sso('DELETE'));
    for (const answer of answers) {
      assert.equal(answer.text.includes(SECRET), false, answer.text.slice(0, 200));
      assert.equal(answer.text.includes('client_secret'), false, answer.text.slice(0, 200));
    }
    const records = JSON.stringify(app.store.dump());
    assert.equal(records.includes(SECRET), false, 'a store record holds the secret');
    assert.equal(logged.join('\n').includes(SECRET), false, 'a log line holds the secret');
  });

  test('the stored seal opens only for its org and connection', async () => {
    await connect();
    const record = app.store.dump()['sso:acme'] as string;
    assert.ok(record, 'the connection is stored under sso:acme');
    // Moved under another org, the connection's secret does not open: its test sign-in cannot start.
    await app.store.put('sso:globex', record, 60);
    const moved = await sso('POST', '/test', undefined, tokens.globex, 'globex');
    expectStatus(moved, 503, 'a moved seal');
    assert.match(String(moved.json.error_description), /cannot be opened/);
    await app.store.delete('sso:globex');
  });
});

describe('who may', () => {
  test('a member is forbidden; an API key reads but never writes, tests or removes', async () => {
    await connect();
    for (const [method, suffix] of [
      ['GET', ''],
      ['PUT', ''],
      ['POST', '/test'],
      ['DELETE', ''],
    ] as const) {
      const answer = await sso(
        method,
        suffix,
        method === 'PUT' ? { issuer: provider.issuer, client_id: CLIENT_ID } : undefined,
        tokens.member,
      );
      expectStatus(answer, 403, `member ${method}`);
    }
    const key = await apiCall(app.base, 'POST', '/v1/orgs/acme/keys', tokens.acme, { name: 'automation', role: 'admin' });
    const secret = String(key.json.key);
    expectStatus(await sso('GET', '', undefined, secret), 200, 'key reads');
    for (const [method, suffix] of [
      ['PUT', ''],
      ['POST', '/test'],
      ['DELETE', ''],
    ] as const) {
      const answer = await sso(
        method,
        suffix,
        method === 'PUT' ? { issuer: provider.issuer, client_id: CLIENT_ID } : undefined,
        secret,
      );
      expectStatus(answer, 403, `key ${method}`);
    }
  });
});

/**
 * Discovery endpoints a hostile provider could serve, by path: each path is its own issuer
 * (`<url><path>`), with its document at `<path>/.well-known/openid-configuration`.
 */
async function startHostileDiscovery() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const document = (issuer: string, overrides: Record<string, string> = {}) =>
    JSON.stringify({
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      ...overrides,
    });
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').replace('/.well-known/openid-configuration', '');
    const json = (body: string, headers: Record<string, string> = {}) => {
      response.writeHead(200, { 'content-type': 'application/json', ...headers });
      response.end(body);
    };
    switch (path) {
      case '/other-issuer':
        return json(document('https://idp.attacker.example'));
      case '/plain-http-endpoint':
        return json(document(`${url}${path}`, { authorization_endpoint: 'http://idp.attacker.example/authorize' }));
      case '/userinfo-in-endpoint':
        return json(document(`${url}${path}`, { authorization_endpoint: 'https://user:pw@idp.attacker.example/authorize' }));
      case '/huge': {
        const body = ' '.repeat(UPSTREAM_MAX_BYTES * 2);
        return json(body, { 'content-length': String(body.length) });
      }
      case '/huge-chunked': {
        response.writeHead(200, { 'content-type': 'application/json' });
        // Written until the reader goes away (at most 64 MiB).
        let written = 0;
        const more = () => {
          while (written < 64 * 1024 * 1024) {
            written += 65536;
            if (!response.write(' '.repeat(65536))) return response.once('drain', more);
          }
          response.end();
        };
        response.on('close', () => {
          written = Number.POSITIVE_INFINITY;
        });
        return more();
      }
      case '/redirect':
        response.writeHead(302, { location: `${provider.issuer}/.well-known/openid-configuration` });
        return response.end();
      case '/slow':
        // Headers at once, then a byte a second: slow in the body, not the answer.
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write('{');
        return void setTimeout(() => response.end('}'), 5000).unref();
      default:
        response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
