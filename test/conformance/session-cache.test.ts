/**
 * The isolate cache of session and API-key records at its default (LATCHKEY_SESSION_CACHE
 * 1 s), on every target: a revocation answers only once no isolate can still hold a copy
 * from before it, so the credential is refused by the very next request. (The other suites
 * run their servers with the cache off, so that each revocation they make does not wait
 * its second; this one keeps the default a deployment runs.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { deviceLogin, postForm } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const CACHE_MS = 1000;

describe('revocation with the isolate cache at its default', () => {
  let server: RunningWorker;
  before(async () => {
    server = await startWorker({ LATCHKEY_SESSION_CACHE: `${CACHE_MS / 1000}s` });
  });
  after(async () => {
    await server?.stop();
  });
  const me = (token: string) => fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  const timed = async <T>(run: () => Promise<T>) => {
    const started = performance.now();
    const result = await run();
    return { result, ms: performance.now() - started };
  };

  test('a session: its token, read into the cache, is refused by the first request after the revocation answers, which waited the cache out', async () => {
    const login = await deviceLogin(server.url, 'cached@session.example');
    for (let index = 0; index < 3; index++) assert.equal((await me(login.access_token)).status, 200);
    const revoked = await timed(() =>
      postForm(`${server.url}/oauth/revoke`, { token: login.refresh_token, client_id: 'latchkey-cli' }),
    );
    assert.equal(revoked.result.status, 200);
    assert.ok(revoked.ms >= CACHE_MS * 0.9, `the revocation answered after ${Math.round(revoked.ms)} ms`);
    assert.equal((await me(login.access_token)).status, 401);
  });

  test('an API key: the same, revoked through the org API', async () => {
    const owner = (await deviceLogin(server.url, 'owner@session-cache.example')).access_token;
    await ok(apiCall(server.url, 'POST', '/v1/orgs', owner, { slug: 'cached' }));
    const created = await ok(apiCall(server.url, 'POST', '/v1/orgs/cached/keys', owner, { name: 'cached', role: 'member' }));
    const key = String(created.key);
    for (let index = 0; index < 3; index++) assert.equal((await me(key)).status, 200);
    const revoked = await timed(() => ok(apiCall(server.url, 'POST', `/v1/orgs/cached/keys/${created.id}/revoke`, owner)));
    assert.ok(revoked.ms >= CACHE_MS * 0.9, `the revocation answered after ${Math.round(revoked.ms)} ms`);
    assert.equal((await me(key)).status, 401);
  });
});
