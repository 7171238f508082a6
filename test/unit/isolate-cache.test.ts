import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isolateCache } from '../../worker/accounts/isolate-cache.ts';
import type { Family } from '../../worker/accounts/sessions.ts';

const family = (revoked: Family['revoked']): Family => ({
  sub: 'usr_1',
  email: 'ada@example.com',
  org: null,
  clientId: 'latchkey-cli',
  scope: 'openid',
  createdAt: 0,
  expiresAt: 86_400_000,
  revoked,
  device: { address: null, userAgent: null },
  deviceName: null,
  lastUsedAt: null,
  revokedTokens: [],
  amr: ['pwd'],
  authTime: 0,
  mfaAt: null,
});

/** A store stand-in that counts reads and answers with whatever the test set last. */
function source(initial: Family | null) {
  let current = initial;
  let reads = 0;
  return {
    read: async () => {
      reads++;
      return current;
    },
    set: (next: Family | null) => {
      current = next;
    },
    reads: () => reads,
  };
}

test('off (0): every check reads the store, so a revocation made anywhere shows on the next one', async () => {
  const cache = isolateCache<Family | null>(0, () => 0);
  const store = source(family(null));
  assert.equal((await cache.get('ses_a', store.read))?.revoked, null);
  store.set(family('admin'));
  assert.equal((await cache.get('ses_a', store.read))?.revoked, 'admin');
  assert.equal(store.reads(), 2);
});

test('on: one read per session per bound; a change made elsewhere is seen once the bound has passed', async () => {
  let clock = 1_000;
  const cache = isolateCache<Family | null>(5_000, () => clock);
  const store = source(family(null));
  for (let i = 0; i < 10; i++) assert.equal((await cache.get('ses_a', store.read))?.revoked, null);
  assert.equal(store.reads(), 1, 'ten checks, one read');

  store.set(family('admin')); // another isolate ends the session
  clock += 4_999;
  assert.equal((await cache.get('ses_a', store.read))?.revoked, null, 'still within the bound');
  clock += 1;
  assert.equal((await cache.get('ses_a', store.read))?.revoked, 'admin', 'the bound has passed');
  assert.equal(store.reads(), 2);
});

test('on: a change is answered only after the bound, and this isolate reads the session again at once', async () => {
  const waits: number[] = [];
  const cache = isolateCache<Family | null>(
    60_000,
    () => 0,
    async (ms) => {
      waits.push(ms);
    },
  );
  const store = source(family(null));
  await cache.get('ses_a', store.read);
  store.set(family('logout'));
  await cache.changed('ses_a');
  assert.deepEqual(waits, [60_000], 'the revocation waits out every copy made before it');
  assert.equal((await cache.get('ses_a', store.read))?.revoked, 'logout');
  assert.equal(store.reads(), 2);
});

test('on: a copy is trusted from before its read was asked for, so the wait after a change always outlasts it', async () => {
  let clock = 0;
  const cache = isolateCache<Family | null>(
    1_000,
    () => clock,
    async (ms) => {
      clock += ms; // the revocation's wait, on the same clock
    },
  );
  const store = source(family(null));
  await cache.get('ses_a', async () => {
    const value = await store.read(); // the record as it was when asked, at 0
    clock = 200;
    store.set(family('admin')); // ended through another isolate while the answer travels...
    clock = 400; // ...which reaches this isolate at 400
    return value;
  });
  const elsewhere = isolateCache<Family | null>(
    1_000,
    () => clock,
    async (ms) => {
      clock = 200 + ms; // the store took the change at 200
    },
  );
  await elsewhere.changed('ses_a'); // ...and that isolate answers at 1200, 800 ms after this copy arrived
  assert.equal((await cache.get('ses_a', store.read))?.revoked, 'admin', 'the next request after the answer is refused');
});

test("on: a copy's age counts from when its read was asked for, not from when the store answered", async () => {
  let clock = 0;
  const cache = isolateCache<Family | null>(1_000, () => clock);
  const store = source(family(null));
  await cache.get('ses_a', async () => {
    const value = await store.read();
    clock += 400; // asked at 0, answered at 400
    return value;
  });
  clock = 999;
  await cache.get('ses_a', store.read);
  assert.equal(store.reads(), 1, 'younger than the bound: served from memory');
  clock = 1_000; // 1000 ms after the ask, though only 600 after the answer
  await cache.get('ses_a', store.read);
  assert.equal(store.reads(), 2, 'as old as the bound: read again');
});

test('off: a change answers at once', async () => {
  let waited = false;
  const cache = isolateCache<Family | null>(
    0,
    () => 0,
    async () => {
      waited = true;
    },
  );
  await cache.changed('ses_a');
  assert.equal(waited, false);
});

test('on: an unknown session is remembered as unknown; sessions are kept apart', async () => {
  const cache = isolateCache<Family | null>(60_000, () => 0);
  const missing = source(null);
  assert.equal(await cache.get('ses_gone', missing.read), null);
  assert.equal(await cache.get('ses_gone', missing.read), null);
  assert.equal(missing.reads(), 1);
  const other = source(family(null));
  assert.notEqual(await cache.get('ses_b', other.read), null);
  assert.equal(other.reads(), 1);
});

test('on: a store failure is not remembered', async () => {
  const cache = isolateCache<Family | null>(60_000, () => 0);
  let fail = true;
  const read = async () => {
    if (fail) throw new Error('store down');
    return family(null);
  };
  await assert.rejects(cache.get('ses_a', read), /store down/);
  fail = false;
  assert.notEqual(await cache.get('ses_a', read), null);
});

test('on: a read under way while this isolate ends the session is used once, never remembered', async () => {
  const cache = isolateCache<Family | null>(
    60_000,
    () => 0,
    async () => {},
  );
  const store = source(family(null));
  let release: () => void = () => {};
  const slowRead = () =>
    new Promise<Family | null>((resolve) => {
      release = () => resolve(family(null)); // the record as it was before the revocation
    });
  const inFlight = cache.get('ses_a', slowRead);
  store.set(family('admin'));
  const changed = cache.changed('ses_a'); // the revocation, made through this isolate
  release();
  await changed;
  assert.equal((await inFlight)?.revoked, null, 'the request that started first sees what it read');
  assert.equal((await cache.get('ses_a', store.read))?.revoked, 'admin', 'the next one reads the store again');
  assert.equal(store.reads(), 1);
});

test('on: checks that find no copy while a read is under way wait for it, instead of each asking the store', async () => {
  let clock = 0;
  const cache = isolateCache<Family | null>(1_000, () => clock);
  let reads = 0;
  let release: (value: Family | null) => void = () => {};
  const slowRead = () =>
    new Promise<Family | null>((resolve) => {
      reads++;
      release = resolve;
    });
  const checks = [cache.get('ses_a', slowRead), cache.get('ses_a', slowRead), cache.get('ses_a', slowRead)];
  release(family(null));
  assert.deepEqual(
    (await Promise.all(checks)).map((found) => found?.revoked),
    [null, null, null],
  );
  assert.equal(reads, 1);

  // A read asked for longer ago than the bound is not joined: its answer may be too old.
  clock = 5_000;
  const first = cache.get('ses_a', slowRead);
  const releaseFirst = release;
  clock = 6_000;
  const late = cache.get('ses_a', slowRead);
  release(family('admin'));
  releaseFirst(family(null));
  assert.equal((await late)?.revoked, 'admin');
  assert.equal((await first)?.revoked, null);
  assert.equal(reads, 3);
});

test('on: a check after this isolate ended the session does not join a read from before', async () => {
  const cache = isolateCache<Family | null>(
    60_000,
    () => 0,
    async () => {},
  );
  let release: (value: Family | null) => void = () => {};
  const before = cache.get(
    'ses_a',
    () =>
      new Promise<Family | null>((resolve) => {
        release = resolve;
      }),
  );
  await cache.changed('ses_a');
  const after = cache.get('ses_a', async () => family('admin'));
  release(family(null));
  assert.equal((await before)?.revoked, null);
  assert.equal((await after)?.revoked, 'admin');
});
