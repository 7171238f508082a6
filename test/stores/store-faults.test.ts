/**
 * Store faults, on every runtime that can use Redis: the real redis-server behind the
 * Upstash REST bridge is killed, then frozen, in the middle of use. Requests must get a
 * 503 JSON error with Retry-After within the store's time bound (never a hang), /healthz
 * must say the store is down, and once Redis is back every session carries on: no refresh
 * token lost, none spent twice.
 *
 * Redis here appends every write to disk, as a managed Redis would keep it; a restart with
 * no data would be a different failure (every session gone), not a fault to ride out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceLogin, postForm, refresh } from '../fixtures/oauth-client.ts';
import { type RedisFixture, startRedisBridge } from '../fixtures/upstash-bridge.ts';
import { type RunningWorker, startWorker, type Target } from '../fixtures/worker-server.ts';

/** The adapter's bound (2 s, STORE_TIMEOUT_MS) plus room for a busy two-core machine. */
const ANSWER_WITHIN_MS = 3500;
const GRACE_SECONDS = 2;

for (const target of ['node-redis', 'deno-redis', 'workerd-redis'] as const satisfies readonly Target[]) {
  describe(`store faults on ${target}`, () => {
    let redis: RedisFixture;
    let server: RunningWorker;
    before(async () => {
      redis = await startRedisBridge({ durable: true });
      server = await startWorker({ LATCHKEY_REFRESH_GRACE: `${GRACE_SECONDS}s` }, { target, redis });
    });
    after(async () => {
      await server?.stop();
      await redis?.stop();
    });

    const timed = async <T>(request: () => Promise<T>) => {
      const started = Date.now();
      const result = await request();
      return { result, ms: Date.now() - started };
    };
    const me = (token: string) => fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    const assertUnavailable = async (
      name: string,
      request: () => Promise<{ status: number; headers: Headers; json: unknown }>,
    ) => {
      const { result, ms } = await timed(request);
      assert.equal(result.status, 503, `${name}: ${JSON.stringify(result.json)}`);
      assert.equal((result.json as { error?: string }).error, 'temporarily_unavailable', name);
      assert.match(result.headers.get('retry-after') ?? '', /^\d+$/, `${name}: Retry-After`);
      assert.equal(result.headers.get('cache-control'), 'no-store', `${name}: Cache-Control`);
      assert.match(result.headers.get('x-request-id') ?? '', /^req_/, `${name}: request id`);
      assert.ok(ms < ANSWER_WITHIN_MS, `${name} took ${ms} ms`);
    };
    const jsonOf = async (response: Response) => ({
      status: response.status,
      headers: response.headers,
      json: await response.json(),
    });

    test('Redis killed: 503 with Retry-After everywhere, /healthz down; back up: the same tokens work, once', async () => {
      const login = await deviceLogin(server.url, `faults-${target}@example.com`);
      await redis.stopRedis();
      try {
        const health = await timed(() => fetch(`${server.url}/healthz`).then(jsonOf));
        assert.equal(health.result.status, 503);
        assert.deepEqual(health.result.json, { status: 'degraded', store: 'down' });
        await assertUnavailable('refresh', () => refresh(server.url, login.refresh_token));
        await assertUnavailable('device authorization', () =>
          postForm(`${server.url}/oauth/device_authorization`, { client_id: 'latchkey-cli' }),
        );
        // Revocation cannot be checked, so a valid access token is not honoured either.
        await assertUnavailable('/v1/me', () => me(login.access_token).then(jsonOf));
      } finally {
        await redis.startRedis();
      }
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      assert.equal((await me(login.access_token)).status, 200);
      // The refresh token presented during the outage was not spent by it.
      const [first, second] = await Promise.all([
        refresh(server.url, login.refresh_token),
        refresh(server.url, login.refresh_token),
      ]);
      assert.equal(first.status, 200, JSON.stringify(first.json));
      assert.equal(second.json.refresh_token, first.json.refresh_token, 'two successors from one refresh token');
      assert.equal((await refresh(server.url, String(first.json.refresh_token))).status, 200);
    });

    test('Redis frozen: answers within the bound instead of hanging; thawed: nothing lost or spent twice', async () => {
      const login = await deviceLogin(server.url, `frozen-${target}@example.com`);
      redis.freeze();
      try {
        const health = await timed(() => fetch(`${server.url}/healthz`));
        assert.equal(health.result.status, 503);
        assert.ok(health.ms < ANSWER_WITHIN_MS, `/healthz took ${health.ms} ms`);
        await assertUnavailable('refresh', () => refresh(server.url, login.refresh_token));
        await assertUnavailable('device authorization', () =>
          postForm(`${server.url}/oauth/device_authorization`, { client_id: 'latchkey-cli' }),
        );
      } finally {
        redis.thaw();
      }
      const rotated = await refresh(server.url, login.refresh_token);
      assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
      // After the grace window the first token is spent: using it again is reuse.
      await new Promise((resolve) => setTimeout(resolve, GRACE_SECONDS * 1000 + 500));
      const reuse = await refresh(server.url, login.refresh_token);
      assert.equal(reuse.status, 400);
      assert.equal(reuse.json.error, 'invalid_grant');
    });
  });
}
