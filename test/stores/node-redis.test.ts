/**
 * The Node entry on a shared Redis (real redis-server behind the Upstash REST bridge):
 * two server processes, one store, and single-use still means single use across them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceLogin, FormBrowser, pollToken, refresh, startDeviceLogin } from '../fixtures/oauth-client.ts';
import { type RedisFixture, startRedisBridge } from '../fixtures/upstash-bridge.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let redis: RedisFixture;
let servers: RunningWorker[] = [];

before(async () => {
  redis = await startRedisBridge();
  const options = { target: 'node-redis', redis } as const;
  servers = await Promise.all([startWorker({}, options), startWorker({}, options)]);
});
after(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await redis?.stop();
});

describe('Node + Redis, two processes sharing one store', () => {
  test('50 redemptions of one approved device code, spread over both processes: exactly one wins', async () => {
    const [a, b] = servers as [RunningWorker, RunningWorker];
    const started = await startDeviceLogin(a.url);
    await new FormBrowser(b.url).decide(started.user_code, 'approve', 'shared@example.com');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => pollToken((i % 2 ? a : b).url, started.device_code)));
    const ok = results.filter((result) => result.status === 200);
    assert.equal(ok.length, 1, JSON.stringify(results.map((result) => result.json.error ?? 'ok')));
    for (const result of results) assert.ok(result.status < 500, JSON.stringify(result.json));
  });

  test('a refresh token rotated on one process is spent on the other; the store keeps no token', async () => {
    const [a, b] = servers as [RunningWorker, RunningWorker];
    const started = await startDeviceLogin(a.url);
    await new FormBrowser(a.url).decide(started.user_code, 'approve', 'rotate@example.com');
    const login = await pollToken(a.url, started.device_code);
    assert.equal(login.status, 200, JSON.stringify(login.json));
    const first = await refresh(a.url, String(login.json.refresh_token));
    const retry = await refresh(b.url, String(login.json.refresh_token));
    assert.equal(first.status, 200);
    assert.equal(retry.json.refresh_token, first.json.refresh_token);
    const dump = await redis.dump();
    for (const token of [login.json.refresh_token, first.json.refresh_token, first.json.access_token]) {
      assert.equal(dump.includes(String(token)), false);
    }
  });
});

describe('Node + Redis, round trips', () => {
  test('a Bearer check reads one record, its session (ended, or this token revoked), in one request', async () => {
    const [a] = servers as [RunningWorker];
    const started = await startDeviceLogin(a.url);
    await new FormBrowser(a.url).decide(started.user_code, 'approve', 'pipeline@example.com');
    const login = await pollToken(a.url, started.device_code);
    const before = redis.requests().length;
    const response = await fetch(`${a.url}/v1/me`, { headers: { authorization: `Bearer ${login.json.access_token}` } });
    assert.equal(response.status, 200);
    const made = redis.requests().slice(before);
    assert.deepEqual(made, [{ path: '/pipeline', commands: 1 }]);
  });
});

describe('Node + Redis, LATCHKEY_SESSION_CACHE: checks skip the read, revocations wait out the bound', () => {
  test('one read per session per bound; a session ended through either process is refused from the first request after the answer', async () => {
    const options = { target: 'node-redis', redis } as const;
    const BOUND_MS = 2000;
    const [a, b] = (await Promise.all([
      startWorker({ LATCHKEY_SESSION_CACHE: '2s' }, options),
      startWorker({ LATCHKEY_SESSION_CACHE: '2s' }, options),
    ])) as [RunningWorker, RunningWorker];
    try {
      const me = (server: RunningWorker, token: string) =>
        fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      const reads = async (server: RunningWorker, token: string) => {
        const before = redis.requests().length;
        assert.equal((await me(server, token)).status, 200);
        return redis.requests().length - before;
      };
      const sessionOf = async (token: string) =>
        String(((await (await me(a, token)).json()) as { session_id: string }).session_id);
      /** Ends the session through `server`; how long the answer took. */
      const revoke = async (server: RunningWorker, token: string, sid: string) => {
        const started = Date.now();
        const response = await fetch(`${server.url}/v1/sessions/${sid}/revoke`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(response.status, 200, await response.text());
        return Date.now() - started;
      };

      const first = (await deviceLogin(a.url, 'cached@example.com')).access_token;
      assert.equal(await reads(a, first), 1, 'the first check reads the session');
      assert.equal(await reads(a, first), 0, 'the next one does not');
      assert.ok((await revoke(a, first, await sessionOf(first))) >= BOUND_MS, 'the revocation answers after the bound');
      assert.equal((await me(a, first)).status, 401, 'ended through this process: refused on its next request');

      // Each process is its own issuer, so B ends A's session with a sign-in of its own.
      const second = (await deviceLogin(a.url, 'cached@example.com')).access_token;
      const secondSid = await sessionOf(second); // also the read that fills A's memory
      const filledAt = Date.now();
      assert.equal(await reads(a, second), 0);
      const onB = (await deviceLogin(b.url, 'cached@example.com')).access_token;
      const answered = revoke(b, onB, secondSid);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // While B waits, A's copy from before the change is all that still admits the token.
      if (Date.now() - filledAt < BOUND_MS - 500) assert.equal(await reads(a, second), 0, 'A trusts its copy, reading nothing');
      assert.ok((await answered) >= BOUND_MS);
      assert.equal(
        (await me(a, second)).status,
        401,
        'ended through the other process: refused on the next request after the answer',
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('Node + Redis, API key reads', () => {
  test('a malformed key costs no store read; a valid one costs one', async () => {
    const [a] = servers as [RunningWorker];
    const owner = (await deviceLogin(a.url, 'keys-owner@example.com')).access_token;
    const post = (path: string, body: unknown) =>
      fetch(`${a.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal((await post('/v1/orgs', { slug: 'reads' })).status, 201);
    const key = String(((await (await post('/v1/orgs/reads/keys', { name: 'bench' })).json()) as { key: string }).key);
    const me = (token: string) => fetch(`${a.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await me(key)).status, 200); // first use also records last_used_at

    const commands = async (token: string, status: number) => {
      const before = redis.requests().length;
      assert.equal((await me(token)).status, status);
      return redis
        .requests()
        .slice(before)
        .reduce((sum, request) => sum + request.commands, 0);
    };
    assert.equal(await commands(key, 200), 1, 'one read for a valid key');
    assert.equal(await commands(`${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`, 401), 0, 'bad checksum: no read');
    assert.equal(await commands('lk_live_short', 401), 0, 'bad shape: no read');
  });
});
