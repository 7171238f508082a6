/**
 * Introspection when the store fails, in process (`createApp` over a memory store whose
 * every operation can be made to fail as a store outage does, on a stepping clock): the
 * caller is known from its cached session, but the token asked about cannot be checked.
 * That is a 503 with Retry-After, as on every route, never `active: false`, which a
 * resource server would take as "revoked" and act on.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { serve } from '@hono/node-server';
import { createApp } from '../../worker/app.ts';
import { parseConfig } from '../../worker/config.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import { type Store, StoreError } from '../../worker/store/store.ts';
import { freePort } from '../fixtures/free-port.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';

const clock = Date.UTC(2026, 0, 5, 9);
const now = () => clock; // never moves: the caller's session stays in the isolate's cache
const memory = memoryStore({ now });
let down = false;
const failing = Object.fromEntries(
  Object.entries(memory).map(([name, method]) => [
    name,
    (...args: unknown[]) => {
      if (down) return Promise.reject(new StoreError(`store ${name} failed`));
      return (method as (...args: unknown[]) => unknown).apply(memory, args);
    },
  ]),
) as unknown as Store;
let base: string;
let close: () => void;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const app = createApp(parseConfig({ LATCHKEY_ISSUER: base, LATCHKEY_IDENTITY: 'dev' }), { store: failing, now });
  const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
  close = () => server.close();
});
after(() => close?.());

const introspect = (caller: string, token: string) =>
  fetch(`${base}/oauth/introspect`, {
    method: 'POST',
    headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });

test('the store failing while a token is looked up: 503 with Retry-After, not active: false', async () => {
  const caller = await deviceLogin(base, 'resource@server.example');
  const other = await deviceLogin(base, 'resource@server.example');
  const warm = await introspect(caller.access_token, caller.access_token);
  assert.equal(((await warm.json()) as { active: boolean }).active, true);
  down = true;
  try {
    for (const token of [other.access_token, other.refresh_token]) {
      const answer = await introspect(caller.access_token, token);
      const body = (await answer.json()) as { error?: string; active?: boolean };
      assert.equal(answer.status, 503, JSON.stringify(body));
      assert.equal(body.error, 'temporarily_unavailable');
      assert.match(answer.headers.get('retry-after') ?? '', /^\d+$/);
    }
    // What the store need not be asked about is still answered: a token that is no token.
    const junk = await introspect(caller.access_token, 'not-a-token');
    assert.deepEqual(await junk.json(), { active: false });
  } finally {
    down = false;
  }
  const after = await introspect(caller.access_token, other.access_token);
  assert.equal(((await after.json()) as { active: boolean }).active, true);
});
