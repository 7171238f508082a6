/**
 * Durations in and out (cli/durations.ts): flags take a unit, always; what is printed is
 * whole days, hours, minutes or seconds, never "0 min" nor "129600 min". The commands are
 * run in process (test/fixtures/cli-fakes.ts) against a fake server: only the network is faked.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { durationFlag, spokenDuration, untilText } from '../../cli/durations.ts';
import { CliError } from '../../cli/errors.ts';
import { createClient } from '../../packages/client/src/client.ts';
import { runWith } from '../fixtures/cli-fakes.ts';

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);
const nowSeconds = NOW / 1000;

/** A server that answers each path from `routes` (JSON, status 200 unless given); records what was asked. */
function fakeServer(routes: Record<string, unknown | { status: number; body: unknown }>) {
  const asked: string[] = [];
  const serve = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    asked.push(`${init?.method ?? 'GET'} ${url.pathname}`);
    const route = routes[url.pathname];
    if (route === undefined) return new Response('{"error":"not_found","error_description":"no route"}', { status: 404 });
    const { status, body } =
      typeof route === 'object' && route !== null && 'status' in route
        ? (route as { status: number; body: unknown })
        : { status: 200, body: route };
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return {
    asked,
    client: async (server: string, clientId: string) => createClient({ server, clientId, fetch: serve }),
  };
}

const me = (overrides: Record<string, unknown>) => ({
  sub: 'key_1',
  kind: 'api_key',
  email: null,
  org: 'acme',
  project: null,
  scope: 'read',
  exp: nowSeconds + 90 * 86400,
  session_id: null,
  client_id: 'latchkey-cli',
  ...overrides,
});

describe('durations in', () => {
  test('a number with a unit is seconds; s, m, h and d', () => {
    assert.deepEqual(
      ['30s', '15m', '12h', '90d', ' 7d '].map((text) => durationFlag('--expires', text)),
      [30, 900, 43200, 7776000, 604800],
    );
  });

  test('a bare number is refused with the units to choose from (it once made a key of 10 seconds)', () => {
    assert.throws(
      () => durationFlag('--expires', '10'),
      (error: unknown) =>
        error instanceof CliError &&
        error.code === 'usage' &&
        error.message === '--expires 10: add a unit, e.g. 10d, 10h, 10m or 10s',
    );
  });

  test('nothing else passes: no unit we know, zero, empty, negative', () => {
    for (const text of ['soon', '0s', '', '-5m', '10w', '1.5h']) {
      assert.throws(() => durationFlag('--grace', text), { code: 'usage' }, text);
    }
  });
});

describe('durations out', () => {
  test('the largest unit that gives at least two, rounded down', () => {
    assert.equal(spokenDuration(90 * 86400 - 60), '89 days');
    assert.equal(spokenDuration(2 * 86400), '2 days');
    assert.equal(spokenDuration(2 * 86400 - 1), '47 hours');
    assert.equal(spokenDuration(3 * 3600 + 59), '3 hours');
    assert.equal(spokenDuration(45 * 60), '45 minutes');
    assert.equal(spokenDuration(119), '119 seconds');
    assert.equal(spokenDuration(45), '45 seconds');
    assert.equal(spokenDuration(1), '1 second');
  });

  test('relative to now: ahead, past, and now', () => {
    assert.equal(untilText(nowSeconds + 30, NOW), 'in 30 seconds');
    assert.equal(untilText(nowSeconds + 129600 * 60, NOW), 'in 90 days');
    assert.equal(untilText(nowSeconds - 180, NOW), '3 minutes ago');
    assert.equal(untilText(nowSeconds, NOW + 400), 'now');
  });
});

describe('commands that show a time to expiry', () => {
  test('status of an API key: "in 89 days", and nothing about renewing it', async () => {
    const server = fakeServer({ '/v1/me': me({ exp: nowSeconds + 90 * 86400 - 60 }) });
    const env = { LATCHKEY_TOKEN: 'lk_test_key', LATCHKEY_SERVER: 'http://latchkey.test' };
    const ran = await runWith(['status'], { env, client: server.client, now: () => NOW });
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /^ {2}key expires: 2026-04-10T11:59:00Z \(in 89 days\)$/m);
    assert.doesNotMatch(ran.stdout, /refresh|renew|min\)/);
    const json = JSON.parse((await runWith(['status', '--json'], { env, client: server.client, now: () => NOW })).stdout);
    assert.equal(json.expires_at, '2026-04-10T11:59:00Z');
    assert.equal(json.renewed_automatically, false);
  });

  test('status of a 30-second token says "in 30 seconds", not "in 0 min"', async () => {
    const server = fakeServer({
      '/v1/me': me({ kind: 'user', sub: 'u1', email: 'ada@example.com', exp: nowSeconds + 30, session_id: 'ses_x' }),
    });
    const env = { LATCHKEY_TOKEN: 'a.b.c', LATCHKEY_SERVER: 'http://latchkey.test' };
    const ran = await runWith(['status'], { env, client: server.client, now: () => NOW });
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /token expires: 2026-01-10T12:00:30Z \(in 30 seconds\)$/m);
    // A token passed in LATCHKEY_TOKEN is not renewed by latchkey, session or not.
    assert.doesNotMatch(ran.stdout, /renewed/);
  });

  test('keys create --expires 10 is refused before anything is sent; 90d goes as seconds and is shown as days', async () => {
    const created = {
      id: 'key_1',
      name: 'deploy',
      org: 'acme',
      project: null,
      role: 'member',
      created_at: nowSeconds,
      created_by: 'ada@example.com',
      expires_at: nowSeconds + 90 * 86400,
      last_used_at: null,
      revoked_at: null,
      key: 'lk_test_secret',
    };
    const server = fakeServer({ '/v1/orgs/acme/keys': created });
    const env = { LATCHKEY_TOKEN: 'a.b.c', LATCHKEY_SERVER: 'http://latchkey.test', LATCHKEY_ORG: 'acme' };
    const bare = await runWith(['keys', 'create', '--name', 'deploy', '--expires', '10'], { env, client: server.client });
    assert.equal(bare.code, 2);
    assert.equal(bare.stderr, 'latchkey: --expires 10: add a unit, e.g. 10d, 10h, 10m or 10s\n');
    assert.deepEqual(server.asked, []);
    const ok = await runWith(['keys', 'create', '--name', 'deploy', '--expires', '90d'], {
      env,
      client: server.client,
      now: () => NOW,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /expires 2026-04-10T12:00:00Z \(in 90 days\)/);
    assert.equal(ok.stdout, 'lk_test_secret\n');
  });

  test('members invite --expires 7 asks for a unit; keys rotate --grace 0 needs none', async () => {
    const server = fakeServer({});
    const env = { LATCHKEY_TOKEN: 'a.b.c', LATCHKEY_SERVER: 'http://latchkey.test', LATCHKEY_ORG: 'acme' };
    const invite = await runWith(['members', 'invite', 'x@example.com', '--expires', '7'], { env, client: server.client });
    assert.equal(invite.code, 2);
    assert.match(invite.stderr, /--expires 7: add a unit/);
    const rotate = await runWith(['keys', 'rotate', 'key_1', '--grace', '0'], { env, client: server.client });
    assert.equal(rotate.code, 2, 'no terminal and no --confirm');
    assert.match(rotate.stderr, /stops working at once/);
    const later = await runWith(['keys', 'rotate', 'key_1', '--grace', '36h'], { env, client: server.client });
    assert.match(later.stderr, /stops working in 36 hours/);
  });
});

describe('times in JSON from a hostile server', () => {
  test('a time no date can hold is the server’s error (exit 4), not a crash of the CLI', async () => {
    const key = {
      id: 'key_1',
      name: 'k',
      org: 'acme',
      project: null,
      role: 'member',
      created_at: nowSeconds,
      created_by: 'x',
      expires_at: 1e15,
      last_used_at: null,
      revoked_at: null,
    };
    const server = fakeServer({ '/v1/orgs/acme/keys': { keys: [key] } });
    const env = { LATCHKEY_TOKEN: 'a.b.c', LATCHKEY_SERVER: 'http://latchkey.test', LATCHKEY_ORG: 'acme' };
    for (const argv of [
      ['keys', 'list', '--json'],
      ['keys', 'list'],
    ]) {
      const ran = await runWith(argv, { env, client: server.client, now: () => NOW });
      assert.equal(ran.code, 4, `${argv.join(' ')}: ${ran.stderr}`);
      assert.match(ran.stderr, /time out of range/);
    }
  });
});
