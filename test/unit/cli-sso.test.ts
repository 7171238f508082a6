/**
 * `latchkey sso` in process (test/fixtures/cli-fakes.ts) against a fake server: argv
 * errors are usage errors before anything is sent; `set` sends the secret read from
 * standard input (its trailing newline dropped) and prints it nowhere; the switches send the
 * connection's issuer and client id with the switch; `test` prints the provider's URL on
 * stdout and opens nothing (it is not the server's origin); a hostile server's text with
 * terminal escapes is printed escaped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createClient } from '../../packages/client/src/client.ts';
import type { SsoConnectionInfo } from '../../shared/schemas.ts';
import { runWith } from '../fixtures/cli-fakes.ts';
import { fakeV1Server } from '../fixtures/fake-v1-server.ts';

const env = { LATCHKEY_TOKEN: 'a.b.c', LATCHKEY_SERVER: 'http://latchkey.test', LATCHKEY_ORG: 'acme' };
const SECRET = 'the-client-secret';

const info = (overrides: Partial<SsoConnectionInfo> = {}): SsoConnectionInfo => ({
  issuer: 'https://acme.okta.example',
  client_id: 'client-1',
  enabled: false,
  enforced: false,
  jit_role: null,
  tested_at: null,
  tested_by: null,
  created_at: 1_790_000_000,
  created_by: 'owner@acme.example',
  updated_at: 1_790_000_000,
  redirect_uri: 'http://latchkey.test/sso/callback',
  ...overrides,
});

describe('latchkey sso', () => {
  test('argv errors are usage errors, and nothing is sent', async () => {
    const server = fakeV1Server({});
    for (const argv of [
      ['sso', 'frobnicate'],
      ['sso', 'enable', '--client-secret-stdin'],
      ['sso', 'show', '--issuer', 'https://x.example'],
      ['sso', 'test', 'extra'],
    ]) {
      const ran = await runWith(argv, { env, client: server.client, stdin: SECRET });
      assert.equal(ran.code, 2, `${argv.join(' ')}: ${ran.stderr}`);
    }
    assert.deepEqual(server.asked, []);
  });

  test('set: the secret from stdin, without its newline, and printed nowhere', async () => {
    const server = fakeV1Server({ 'PUT /v1/orgs/acme/sso': { status: 201, body: info() } });
    const ran = await runWith(
      ['sso', 'set', '--issuer', 'https://acme.okta.example', '--client-id', 'client-1', '--client-secret-stdin'],
      { env, client: server.client, stdin: `${SECRET}\n` },
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(server.asked, [
      `PUT /v1/orgs/acme/sso ${JSON.stringify({ issuer: 'https://acme.okta.example', client_id: 'client-1', client_secret: SECRET })}`,
    ]);
    assert.equal(`${ran.stdout}${ran.stderr}`.includes(SECRET), false);
    assert.match(ran.stderr, /Register http:\/\/latchkey\.test\/sso\/callback/);
    assert.match(ran.stderr, /latchkey sso test/);
  });

  test('set --jit-role: member, admin or off (null) sent with the connection as it is; owner and others are usage errors', async () => {
    const server = fakeV1Server({
      'GET /v1/orgs/acme/sso': { body: info() },
      'PUT /v1/orgs/acme/sso': { body: info({ jit_role: 'member' }) },
    });
    for (const role of ['member', 'admin', 'off']) {
      const ran = await runWith(['sso', 'set', '--jit-role', role], { env, client: server.client });
      assert.equal(ran.code, 0, ran.stderr);
    }
    const puts = server.asked.filter((line) => line.startsWith('PUT'));
    const sent = (jit_role: string | null) =>
      `PUT /v1/orgs/acme/sso ${JSON.stringify({ issuer: 'https://acme.okta.example', client_id: 'client-1', jit_role })}`;
    assert.deepEqual(puts, [sent('member'), sent('admin'), sent(null)]);
    const shown = await runWith(['sso', 'show'], { env, client: server.client });
    assert.match(shown.stdout, /jit role\s+off/);
    const asked = server.asked.length;
    for (const argv of [
      ['sso', 'set', '--jit-role', 'owner'],
      ['sso', 'set', '--jit-role', 'Member'],
      ['sso', 'enable', '--jit-role', 'member'],
    ]) {
      const ran = await runWith(argv, { env, client: server.client });
      assert.equal(ran.code, 2, `${argv.join(' ')}: ${ran.stderr}`);
    }
    assert.equal(server.asked.length, asked, 'a usage error sends nothing');
  });

  test('enable and disable send the connection as it is with the switch; the refusal is the server’s words', async () => {
    const server = fakeV1Server({
      'GET /v1/orgs/acme/sso': { body: info({ tested_at: 1_790_000_100 }) },
      'PUT /v1/orgs/acme/sso': { body: info({ enabled: true, tested_at: 1_790_000_100 }) },
    });
    assert.equal((await runWith(['sso', 'enable'], { env, client: server.client })).code, 0);
    assert.equal((await runWith(['sso', 'disable'], { env, client: server.client })).code, 0);
    const puts = server.asked.filter((line) => line.startsWith('PUT'));
    assert.deepEqual(puts, [
      `PUT /v1/orgs/acme/sso ${JSON.stringify({ issuer: 'https://acme.okta.example', client_id: 'client-1', enabled: true })}`,
      `PUT /v1/orgs/acme/sso ${JSON.stringify({ issuer: 'https://acme.okta.example', client_id: 'client-1', enabled: false, enforced: false })}`,
    ]);
    const refusing = fakeV1Server({
      'GET /v1/orgs/acme/sso': { body: info() },
      'PUT /v1/orgs/acme/sso': {
        status: 409,
        body: { error: 'conflict', error_description: 'Cannot enforce SSO when SSO is not enabled' },
      },
    });
    const refused = await runWith(['sso', 'enforce'], { env, client: refusing.client });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Cannot enforce SSO when SSO is not enabled/);
  });

  test("test: the provider's URL on stdout, escaped, and never opened", async () => {
    let opened = 0;
    const server = fakeV1Server({
      'POST /v1/orgs/acme/sso/test': {
        status: 201,
        body: { authorization_url: 'https://idp.example/authorize?x=1\u001b]0;pwned\u0007', expires_in: 600 },
      },
      'GET /v1/orgs/acme/sso': { body: info({ issuer: 'https://idp.example\u001b[2J' }) },
    });
    const openBrowser = async () => {
      opened += 1;
      return true;
    };
    const ran = await runWith(['sso', 'test'], { env, client: server.client, openBrowser, canOpenBrowser: () => true });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.includes('\u001b'), false, 'a terminal escape reached stdout');
    assert.match(ran.stdout, /^https:\/\/idp\.example\/authorize\?x=1/);
    assert.equal(opened, 0);
    const shown = await runWith(['sso', 'show'], { env, client: server.client });
    assert.equal(shown.stdout.includes('\u001b'), false, 'a terminal escape reached the table');
  });
});
