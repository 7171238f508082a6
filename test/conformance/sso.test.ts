/**
 * An org's SSO connection over HTTP, on every runtime and store, against an OpenID
 * provider on loopback that approves at once (test/fixtures/fake-oidc.ts; the real
 * `oidc-provider` in Chromium is test/browser/sso-connection.test.ts): made, read without
 * its secret, refused enabling until a test sign-in through it worked and enforcing
 * unless enabled (the exact message), tested through /sso/callback, enabled, enforced,
 * removed, each step in the audit trail; owners and admins may, members may not, API keys
 * only read, another org's admin finds no org; the secret in no answer and not at rest.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiAnswer, apiCall } from '../fixtures/api-call.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { addMember, deviceLogin } from '../fixtures/oauth-client.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const CLIENT_ID = 'acme-sso';
const SECRET = 'conformance-sso-secret-4kT9wQ2zR7';

let server: RunningWorker;
let provider: Awaited<ReturnType<typeof startFakeOidc>>;
const tokens = { owner: '', admin: '', member: '', globex: '', key: '' };

const sso = (method: string, bearer: string, suffix = '', body?: Record<string, unknown>, org = 'acme') =>
  apiCall(server.url, method, `/v1/orgs/${org}/sso${suffix}`, bearer, body);
const put = (body: Record<string, unknown>, bearer = tokens.owner) =>
  sso('PUT', bearer, '', { issuer: provider.issuer, client_id: CLIENT_ID, ...body });

function expectStatus(answer: ApiAnswer, status: number, what: string) {
  assert.equal(answer.status, status, `${what}: ${answer.text}`);
}

/** A test sign-in: started over the API, answered at once by the provider, its callback page read. */
async function testSignIn(bearer = tokens.admin) {
  const started = await sso('POST', bearer, '/test');
  expectStatus(started, 201, 'test start');
  assert.equal(started.json.expires_in, 600);
  const authorize = new URL(String(started.json.authorization_url));
  assert.equal(authorize.origin, provider.issuer);
  assert.equal(authorize.searchParams.get('redirect_uri'), `${server.url}/sso/callback`);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  const answered = await fetch(authorize, { redirect: 'manual' });
  const back = answered.headers.get('location') ?? '';
  assert.ok(back.startsWith(`${server.url}/sso/callback?`), back);
  const page = await fetch(back, { redirect: 'manual' });
  return { status: page.status, html: await page.text(), back };
}

before(async () => {
  provider = await startFakeOidc(await freePort(), CLIENT_ID);
  server = await startWorker();
  tokens.owner = (await deviceLogin(server.url, 'owner@acme.example')).access_token;
  tokens.globex = (await deviceLogin(server.url, 'owner@globex.example')).access_token;
  expectStatus(await apiCall(server.url, 'POST', '/v1/orgs', tokens.owner, { slug: 'acme' }), 201, 'acme');
  expectStatus(await apiCall(server.url, 'POST', '/v1/orgs', tokens.globex, { slug: 'globex' }), 201, 'globex');
  tokens.admin = await addMember(server.url, tokens.owner, 'acme', 'admin@acme.example', 'admin');
  tokens.member = await addMember(server.url, tokens.owner, 'acme', 'member@acme.example', 'member');
  // globex's owner is an admin of acme's neighbour only: acme is nothing to them.
  const key = await apiCall(server.url, 'POST', '/v1/orgs/acme/keys', tokens.owner, { name: 'automation', role: 'admin' });
  expectStatus(key, 201, 'key');
  tokens.key = String(key.json.key);
});
after(async () => {
  await server?.stop();
  await provider?.stop();
});

describe("an org's SSO connection", () => {
  test('made by the owner: shown without its secret, untested, off', async () => {
    expectStatus(await sso('GET', tokens.owner), 404, 'none yet');
    const made = await put({ client_secret: SECRET });
    expectStatus(made, 201, 'create');
    assert.deepEqual(Object.keys(made.json).sort(), [
      'client_id',
      'created_at',
      'created_by',
      'enabled',
      'enforced',
      'issuer',
      'jit_role',
      'redirect_uri',
      'tested_at',
      'tested_by',
      'updated_at',
    ]);
    assert.equal(made.json.issuer, provider.issuer);
    assert.equal(made.json.enabled, false);
    assert.equal(made.json.enforced, false);
    assert.equal(made.json.tested_at, null);
    assert.equal(made.json.created_by, 'owner@acme.example');
    assert.equal(made.json.redirect_uri, `${server.url}/sso/callback`);
    const read = await sso('GET', tokens.admin);
    expectStatus(read, 200, 'admin reads');
    assert.equal(read.text.includes(SECRET), false);
    assert.equal(read.text.includes('secret'), false, 'no secret field at all');
  });

  test('enabling is refused until tested; enforcing is refused unless enabled, with the exact message', async () => {
    const enable = await put({ enabled: true });
    expectStatus(enable, 409, 'enable untested');
    assert.match(String(enable.json.error_description), /^Cannot enable SSO before a test sign-in/);
    const enforce = await put({ enforced: true });
    expectStatus(enforce, 409, 'enforce disabled');
    assert.equal(enforce.json.error_description, 'Cannot enforce SSO when SSO is not enabled');
    expectStatus(await put({ enabled: true, enforced: true }), 409, 'both at once, untested');
    assert.equal((await sso('GET', tokens.owner)).json.enabled, false);
  });

  test('a test sign-in through the provider marks it tested; then it is enabled, then enforced', async () => {
    const tested = await testSignIn();
    assert.equal(tested.status, 200, tested.html);
    assert.match(tested.html, /works/);
    const read = await sso('GET', tokens.owner);
    assert.equal(typeof read.json.tested_at, 'number');
    assert.equal(read.json.tested_by, 'admin@acme.example');
    // The callback answers once.
    const replay = await fetch(tested.back, { redirect: 'manual' });
    assert.equal(replay.status, 400);
    assert.match(await replay.text(), /expired or was already used/);

    const enabled = await put({ enabled: true }, tokens.admin);
    expectStatus(enabled, 200, 'enable');
    assert.equal(enabled.json.enabled, true);
    const enforced = await put({ enforced: true }, tokens.admin);
    expectStatus(enforced, 200, 'enforce');
    assert.deepEqual([enforced.json.enabled, enforced.json.enforced], [true, true]);
  });

  test('the secret can be replaced without being shown; a new issuer or client id needs its own', async () => {
    const rotated = await put({ client_secret: `${SECRET}-rotated` });
    expectStatus(rotated, 200, 'rotate');
    assert.equal(rotated.json.enforced, true, 'a new secret for the same client keeps the test');
    assert.equal(rotated.text.includes(SECRET), false);
    const newClient = await put({ client_id: 'another-client' });
    expectStatus(newClient, 400, 'new client id without a secret');
    assert.match(String(newClient.json.error_description), /client_secret is required/);
  });

  test('who may: members are forbidden, API keys only read, another org finds nothing, strangers 401', async () => {
    for (const [method, suffix] of [
      ['GET', ''],
      ['PUT', ''],
      ['POST', '/test'],
      ['DELETE', ''],
    ] as const) {
      const body = method === 'PUT' ? { issuer: provider.issuer, client_id: CLIENT_ID, enabled: false } : undefined;
      expectStatus(await sso(method, tokens.member, suffix, body), 403, `member ${method}${suffix}`);
      const globex = await sso(method, tokens.globex, suffix, body);
      expectStatus(globex, 404, `another org's owner ${method}${suffix}`);
      assert.equal(globex.json.error_description, 'no org "acme"');
      expectStatus(await apiCall(server.url, method, `/v1/orgs/acme/sso${suffix}`, null, body), 401, `anonymous ${method}`);
      if (method !== 'GET') expectStatus(await sso(method, tokens.key, suffix, body), 403, `key ${method}${suffix}`);
    }
    const keyRead = await sso('GET', tokens.key);
    expectStatus(keyRead, 200, 'key reads');
    assert.equal(keyRead.json.enforced, true, 'nothing above changed it');
  });

  test('the audit trail has each step, and never the secret', async () => {
    const audit = await apiCall(server.url, 'GET', '/v1/orgs/acme/audit?limit=200', tokens.owner);
    expectStatus(audit, 200, 'audit');
    const entries = audit.json.entries as { action: string; actor: string; subject: string; detail: string | null }[];
    const sso = entries.filter((entry) => entry.action.startsWith('sso.'));
    assert.deepEqual(
      sso.map((entry) => [entry.action, entry.actor]),
      [
        ['sso.connection_created', 'owner@acme.example'],
        ['sso.connection_tested', 'admin@acme.example'],
        ['sso.connection_enabled', 'admin@acme.example'],
        ['sso.connection_enforced', 'admin@acme.example'],
        ['sso.connection_updated', 'owner@acme.example'],
      ],
    );
    assert.equal(sso[4]?.detail, 'client secret replaced');
    assert.equal(audit.text.includes(SECRET), false);
  });

  test('not at rest in the clear', async (t) => {
    const dump = await server.dump();
    if (dump === null) return t.skip(`${server.target} keeps its state in the server's memory: nothing at rest`);
    assert.ok(dump.includes(CLIENT_ID), 'the connection is in the dump (so the dump is where it would be)');
    assert.equal(dump.includes(SECRET), false, 'the client secret is stored in the clear');
    assert.equal(server.logs().includes(SECRET), false, 'the client secret is in a log line');
  });

  test('removed by an admin: gone, audited; a test sign-in then finds no connection', async () => {
    const removed = await sso('DELETE', tokens.admin);
    expectStatus(removed, 200, 'remove');
    assert.equal(removed.text.includes(SECRET), false);
    expectStatus(await sso('GET', tokens.owner), 404, 'gone');
    expectStatus(await sso('POST', tokens.owner, '/test'), 404, 'nothing to test');
    const audit = await apiCall(server.url, 'GET', '/v1/orgs/acme/audit?limit=200', tokens.owner);
    const last = (audit.json.entries as { action: string; detail: string }[]).at(-1);
    assert.equal(last?.action, 'sso.connection_removed');
    assert.match(last?.detail ?? '', /was enforced/);
  });
});
