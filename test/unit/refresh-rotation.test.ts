/**
 * Rotation timing, with a clock the test moves: the grace window's edges and the idle and
 * absolute lifetimes, which the HTTP suite cannot wait out. The store is the memory
 * adapter sharing the same clock; the workerd suite covers the real Durable Object.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OAuthError } from '../../shared/errors.ts';
import { readFamily, revokeFamily } from '../../worker/accounts/sessions.ts';
import { parseConfig } from '../../worker/config.ts';
import { rotateRefreshToken, startFamily } from '../../worker/grants/refresh-token.ts';
import { servicesLoader } from '../../worker/services.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import { StoreError } from '../../worker/store/store.ts';

const source = { actor: 'test@example.com', requestId: 'req_test' };

async function setup() {
  let now = Date.UTC(2026, 10, 23);
  const clock = () => now;
  const store = memoryStore({ now: clock });
  const services = await servicesLoader(parseConfig({ LATCHKEY_ISSUER: 'http://127.0.0.1:8787' }), { store, now: clock })();
  const session = await startFamily(
    services,
    {
      sub: 'usr_test',
      email: 'test@example.com',
      clientId: 'latchkey-cli',
      scope: 'read write',
      device: { address: null, userAgent: null },
      org: null,
      deviceName: null,
      amr: ['pwd'],
      authTime: null,
      mfaAt: null,
    },
    source,
  );
  const rotate = (token: string) => rotateRefreshToken(services, token, { clientId: 'latchkey-cli', scope: undefined }, source);
  return { services, store, session, rotate, advance: (ms: number) => (now += ms) };
}

const refusedWith = (pattern: RegExp) => (error: unknown) =>
  error instanceof OAuthError && error.code === 'invalid_grant' && pattern.test(error.message);

test('a retry 9.9 s after rotating gets the same successor', async () => {
  const { session, rotate, advance } = await setup();
  const first = await rotate(session.refreshToken);
  advance(9_900);
  const retry = await rotate(session.refreshToken);
  assert.equal(retry.refreshToken, first.refreshToken);
});

test('a reuse 10.1 s after rotating revokes the family, successor included', async () => {
  const { services, session, rotate, advance } = await setup();
  const first = await rotate(session.refreshToken);
  advance(10_100);
  await assert.rejects(rotate(session.refreshToken), refusedWith(/already used/));
  assert.equal((await readFamily(services, session.sid))?.revoked, 'reuse');
  await assert.rejects(rotate(first.refreshToken), refusedWith(/revoked/));
});

test('the grace record holds the successor sealed, not in the clear', async () => {
  const { store, session, rotate } = await setup();
  const first = await rotate(session.refreshToken);
  const dump = JSON.stringify(store.dump());
  assert.equal(dump.includes(first.refreshToken), false);
  assert.equal(dump.includes(session.refreshToken), false);
});

test('an unused refresh token dies after the idle lifetime (7 days)', async () => {
  const { session, rotate, advance } = await setup();
  advance(7 * 86400_000 + 1000);
  await assert.rejects(rotate(session.refreshToken), refusedWith(/invalid or expired/));
});

test('a session in daily use still ends at its absolute lifetime (30 days)', async () => {
  const { session, rotate, advance } = await setup();
  let token = session.refreshToken;
  for (let day = 0; day < 29; day++) {
    advance(86400_000);
    token = (await rotate(token)).refreshToken;
  }
  advance(86400_000 + 1000);
  await assert.rejects(rotate(token), OAuthError);
});

test('revoking a family is idempotent and keeps the first reason', async () => {
  const { services, session } = await setup();
  await revokeFamily(services, session.sid, 'logout', source);
  await revokeFamily(services, session.sid, 'reuse', source);
  assert.equal((await readFamily(services, session.sid))?.revoked, 'logout');
});

test('a rotation is one store call, and a store fault in it leaves the token as it was', async () => {
  const { store, session, rotate, advance } = await setup();
  const calls: string[] = [];
  for (const method of ['get', 'put', 'delete', 'consume', 'swap', 'increment', 'transact'] as const) {
    const original = store[method] as (...args: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      calls.push(method);
      return original.apply(store, args);
    };
  }
  const first = await rotate(session.refreshToken);
  assert.deepEqual(calls, ['transact']);

  // The store fails the next rotation as a dropped connection would, before it commits.
  const transact = store.transact;
  store.transact = async () => {
    store.transact = transact;
    throw new StoreError('store transact failed');
  };
  await assert.rejects(rotate(first.refreshToken), StoreError);
  const retry = await rotate(first.refreshToken);
  // Once the window is over, the presented token counts as spent: no second successor.
  advance(10_100);
  await assert.rejects(rotate(first.refreshToken), refusedWith(/already used/));
  await assert.rejects(rotate(retry.refreshToken), refusedWith(/revoked/));
});

test('a malformed refresh token is refused before any store is asked', async () => {
  const { store, session, rotate } = await setup();
  const sid = session.sid.slice('ses_'.length);
  const secret = session.refreshToken.slice(-43);
  const calls: string[] = [];
  for (const method of ['get', 'transact'] as const) {
    const original = store[method] as (...args: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      calls.push(method);
      return original.apply(store, args);
    };
  }
  // A made-up session id with a separator in it, a token one character short, another prefix.
  for (const token of [`lk_rt_${sid.slice(0, 19)}:${secret}`, session.refreshToken.slice(0, -1), `lk_xx_${sid}${secret}`]) {
    await assert.rejects(rotate(token), refusedWith(/invalid or expired/));
  }
  assert.deepEqual(calls, []);
});
