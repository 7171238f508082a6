/**
 * Faults on the store's bindings, on the runtimes whose store is their own: workerd (the
 * production bundle under a raw `workerd serve`, behind Durable Object and KV bindings
 * that fail on demand: test/fixtures/faulty-bindings-worker.ts) and Deno (the app over a
 * Deno KV handle that fails on demand: test/fixtures/faulty-deno-entry.ts). A store call
 * that fails or never answers makes every request a 503 with Retry-After within the
 * store's bound, and /healthz says the store is down until it is back. A call whose answer
 * is lost after the store committed loses nothing and spends nothing twice: the refresh
 * retried gets the one successor the lost answer held, and a device code redeemed is not
 * redeemed again. (On workerd KV holds nothing a token path reads: every record lives in a
 * Durable Object; /healthz still reports KV, the binding a deployment needs.)
 *
 * workerd-kv and deno-kv only; Redis faults on every runtime are test/stores/store-faults.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FormBrowser, pollToken, postForm, refresh, startDeviceLogin } from '../fixtures/oauth-client.ts';
import { startWorker, testTarget } from '../fixtures/worker-server.ts';
import { startWorkerdServe } from '../fixtures/workerd-serve.ts';

/** The store's bound (2 s, STORE_TIMEOUT_MS) plus room for a busy two-core machine. */
const ANSWER_WITHIN_MS = 3500;
const GRACE_SECONDS = 30;
const VARS = { LATCHKEY_REFRESH_GRACE: `${GRACE_SECONDS}s`, LATCHKEY_SESSION_CACHE: '0' };

type Mode = 'none' | 'fail' | 'hang' | 'after';
/** Per target: its server, the name of the binding every token path uses, and the call that commits an atomic change. */
const FAULTY = {
  'workerd-kv': { start: () => startWorkerdServe(VARS), store: 'do', commit: 'transact' },
  'deno-kv': {
    start: () => startWorker(VARS, { target: 'deno-kv', entry: 'test/fixtures/faulty-deno-entry.ts' }),
    store: 'store',
    commit: 'commit',
  },
} as const;
const target = testTarget();
const faulty = target in FAULTY ? FAULTY[target as keyof typeof FAULTY] : undefined;

describe(`faults on the store's bindings (${target})`, { skip: !faulty && 'workerd-kv and deno-kv only' }, () => {
  let server: { url: string; stop: () => Promise<void> };
  before(async () => {
    // Revocation is checked on every request (LATCHKEY_SESSION_CACHE=0), so a cached session cannot hide a fault.
    server = await (faulty as NonNullable<typeof faulty>).start();
  });
  after(async () => {
    await server?.stop();
  });
  const { store, commit } = faulty ?? FAULTY['workerd-kv'];

  const fault = async (binding: string, mode: Mode, methods?: string[]) => {
    const set = await fetch(`${server.url}/__faults`, {
      method: 'POST',
      body: JSON.stringify({ binding, mode, ...(methods ? { methods } : {}) }),
    });
    assert.equal(set.status, 204);
  };
  const hits = async () => (await (await fetch(`${server.url}/__faults`)).json()) as Record<string, number>;
  const login = async (email: string) => {
    const started = await startDeviceLogin(server.url);
    await new FormBrowser(server.url).decide(started.user_code, 'approve', email);
    const { status, json } = await pollToken(server.url, started.device_code);
    assert.equal(status, 200, JSON.stringify(json));
    return json as { access_token: string; refresh_token: string };
  };
  const me = (token: string) => fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  const unavailable = async (name: string, request: () => Promise<{ status: number; headers?: Headers; json: unknown }>) => {
    const started = performance.now();
    const result = await request();
    const ms = performance.now() - started;
    assert.equal(result.status, 503, `${name}: ${JSON.stringify(result.json)}`);
    assert.equal((result.json as { error?: string }).error, 'temporarily_unavailable', name);
    if (result.headers) assert.match(result.headers.get('retry-after') ?? '', /^\d+$/, `${name}: Retry-After`);
    assert.ok(ms < ANSWER_WITHIN_MS, `${name} took ${Math.round(ms)} ms`);
  };
  const storeDown = async () => {
    const started = performance.now();
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 503);
    assert.deepEqual(await health.json(), { status: 'degraded', store: 'down' });
    assert.ok(performance.now() - started < ANSWER_WITHIN_MS, '/healthz within the bound');
  };
  const asJson = async (response: Response) => ({
    status: response.status,
    headers: response.headers,
    json: await response.json(),
  });

  for (const mode of ['fail', 'hang'] as const) {
    test(`store calls that ${mode === 'fail' ? 'fail' : 'never answer'}: 503 within the bound everywhere, /healthz down; back: the same tokens work, once`, async () => {
      const session = await login(`do-${mode}@faults.example`);
      await fault(store, mode);
      try {
        await storeDown();
        await unavailable('refresh', () => refresh(server.url, session.refresh_token));
        await unavailable('device authorization', () =>
          postForm(`${server.url}/oauth/device_authorization`, { client_id: 'latchkey-cli' }),
        );
        await unavailable('/v1/me', () => me(session.access_token).then(asJson));
        assert.ok(Number((await hits())[store]) > 0, 'the fault was hit');
      } finally {
        await fault(store, 'none');
      }
      assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok', store: 'up' });
      assert.equal((await me(session.access_token)).status, 200);
      const [first, second] = await Promise.all([
        refresh(server.url, session.refresh_token),
        refresh(server.url, session.refresh_token),
      ]);
      assert.equal(first.status, 200, JSON.stringify(first.json));
      assert.equal(second.json.refresh_token, first.json.refresh_token, 'one successor');
    });
  }

  test('workerd: KV calls that fail: /healthz says the store is down; no token path reads KV, so sign-in and refresh go on', {
    skip: target !== 'workerd-kv' && 'workerd only',
  }, async () => {
    await fault('kv', 'fail');
    try {
      await storeDown();
      const session = await login('kv-down@faults.example');
      assert.equal((await refresh(server.url, session.refresh_token)).status, 200);
      assert.equal((await me(session.access_token)).status, 200);
    } finally {
      await fault('kv', 'none');
    }
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  test('a refresh whose answer is lost after the store committed: the retry gets the same successor, and only it works on', async () => {
    const session = await login('lost-refresh@faults.example');
    await fault(store, 'after', [commit]);
    try {
      await unavailable('refresh', () => refresh(server.url, session.refresh_token));
      assert.equal((await hits())[store], 1);
    } finally {
      await fault(store, 'none');
    }
    // The rotation committed; within the grace window the client's retry is answered with it.
    const [retry, again] = await Promise.all([
      refresh(server.url, session.refresh_token),
      refresh(server.url, session.refresh_token),
    ]);
    assert.equal(retry.status, 200, JSON.stringify(retry.json));
    assert.equal(again.json.refresh_token, retry.json.refresh_token, 'one successor, whatever the retries');
    const onward = await refresh(server.url, String(retry.json.refresh_token));
    assert.equal(onward.status, 200, JSON.stringify(onward.json));
  });

  test('a device code whose redemption answer is lost after the store committed cannot be redeemed again', async () => {
    const started = await startDeviceLogin(server.url);
    await new FormBrowser(server.url).decide(started.user_code, 'approve', 'lost-poll@faults.example');
    await fault(store, 'after', [commit]);
    try {
      await unavailable('device poll', () => pollToken(server.url, started.device_code));
    } finally {
      await fault(store, 'none');
    }
    const second = await pollToken(server.url, started.device_code);
    assert.equal(second.status, 400, JSON.stringify(second.json));
    assert.ok(!('access_token' in (second.json as object)), 'a second set of tokens');
    assert.match(String((second.json as { error: string }).error), /^(invalid_grant|expired_token)$/);
  });
});
