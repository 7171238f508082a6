/**
 * What every `Store` adapter promises, as one suite each adapter's test file runs
 * (`storeContract('memory', …)`). Consume, swap and increment only ever see atomic-prefix
 * keys, as in the app; plain keys get the round trip alone, since KV keeps them at least
 * 60 s (`KV_MIN_TTL_SECONDS`) and is never asked to count or swap.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type KeyKind, type Store, storeKey } from '../worker/store/store.ts';

export type StoreUnderTest = { store: Store; close(): Promise<void> };

const TTL = 60;
const sleepUntil = (time: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, time - Date.now())));

/** A fresh key per case, so cases never see each other's leftovers in a shared backend. */
const fresh = (kind: KeyKind): string => storeKey(kind, `contract-${randomUUID()}`);

export function storeContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`Store contract: ${name}`, () => {
    let subject: StoreUnderTest | undefined;
    let store: Store;
    before(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    after(async () => {
      await subject?.close();
    });

    test('ping answers', async () => {
      await store.ping();
    });

    for (const kind of ['deviceCode', 'user'] as const) {
      test(`get, put and delete round-trip ${kind === 'user' ? 'a plain' : 'an atomic'} key`, async () => {
        const key = fresh(kind);
        assert.equal(await store.get(key), null);
        await store.put(key, 'first', TTL);
        assert.equal(await store.get(key), 'first');
        await store.put(key, '{"v":"second ✓"}', TTL);
        assert.equal(await store.get(key), '{"v":"second ✓"}');
        await store.delete(key);
        assert.equal(await store.get(key), null);
        await store.delete(key); // deleting an absent key is not an error
      });
    }

    test('consume returns the value once, then null', async () => {
      const key = fresh('deviceCode');
      assert.equal(await store.consume(key), null);
      await store.put(key, 'once', TTL);
      assert.equal(await store.consume(key), 'once');
      assert.equal(await store.consume(key), null);
      assert.equal(await store.get(key), null);
    });

    test('swap from null creates only when the key is absent', async () => {
      const key = fresh('userCode');
      assert.equal(await store.swap(key, null, 'mine', TTL), true);
      assert.equal(await store.get(key), 'mine');
      assert.equal(await store.swap(key, null, 'theirs', TTL), false);
      assert.equal(await store.get(key), 'mine');
    });

    test('swap with the wrong expected value returns false and changes nothing', async () => {
      const key = fresh('refreshToken');
      await store.put(key, 'current', TTL);
      assert.equal(await store.swap(key, 'stale', 'next', TTL), false);
      assert.equal(await store.swap(key, 'stale', null, TTL), false);
      assert.equal(await store.get(key), 'current');
      const absent = fresh('refreshToken');
      assert.equal(await store.swap(absent, 'current', 'next', TTL), false);
      assert.equal(await store.get(absent), null);
      assert.equal(await store.swap(key, 'current', 'next', TTL), true);
      assert.equal(await store.get(key), 'next');
    });

    test('swap to null deletes', async () => {
      const key = fresh('family');
      await store.put(key, 'live', TTL);
      assert.equal(await store.swap(key, 'live', null, TTL), true);
      assert.equal(await store.get(key), null);
      assert.equal(await store.swap(key, null, 'again', TTL), true);
    });

    test('increment counts 1, 2, 3 per key', async () => {
      const [a, b] = [fresh('rateLimit'), fresh('rateLimit')];
      assert.deepEqual([await store.increment(a, TTL), await store.increment(a, TTL), await store.increment(a, TTL)], [1, 2, 3]);
      assert.equal(await store.increment(b, TTL), 1);
      assert.equal(await store.get(a), '3');
    });

    // One wait serves every expiry check. The counter is bumped again 0.8 s in: its window
    // runs from the first increment, so it must still be gone when the others are.
    test('entries expire after their TTL, and a counter window is not extended', async () => {
      const started = Date.now();
      const put = fresh('deviceCode');
      const swapped = fresh('refreshToken');
      const counter = fresh('rateLimit');
      const lasting = fresh('deviceCode');
      await store.put(put, 'short', 1);
      assert.equal(await store.swap(swapped, null, 'short', 1), true);
      assert.equal(await store.increment(counter, 1), 1);
      await store.put(lasting, 'long', TTL);
      const written = Date.now();

      await sleepUntil(started + 800);
      assert.equal(await store.get(put), 'short', 'expired early');
      assert.equal(await store.increment(counter, 1), 2);
      assert.equal(await store.increment(counter, 1), 3);

      await sleepUntil(written + 1500);
      assert.equal(await store.get(put), null);
      assert.equal(await store.get(swapped), null);
      assert.equal(await store.get(counter), null, 'later increments extended the window');
      assert.equal(await store.get(lasting), 'long');
      // Expired is absent for every operation, not only for get.
      assert.equal(await store.consume(put), null);
      assert.equal(await store.swap(swapped, null, 'again', TTL), true);
      assert.equal(await store.increment(counter, TTL), 1);
    });

    describe('under concurrency', () => {
      test('20 simultaneous consumes: exactly one gets the value', async () => {
        const key = fresh('deviceCode');
        await store.put(key, 'prize', TTL);
        const results = await Promise.all(Array.from({ length: 20 }, () => store.consume(key)));
        assert.deepEqual(
          results.filter((result) => result !== null),
          ['prize'],
        );
        assert.equal(await store.get(key), null);
      });

      test('20 simultaneous swaps from null: exactly one wins and its value is stored', async () => {
        const key = fresh('rotationGrace');
        const values = Array.from({ length: 20 }, (_, i) => `successor-${i}`);
        const won = await Promise.all(values.map((value) => store.swap(key, null, value, TTL)));
        const winners = values.filter((_, i) => won[i]);
        assert.equal(winners.length, 1, `${winners.length} swaps won`);
        assert.equal(await store.get(key), winners[0]);
      });

      test('50 simultaneous increments: count 50, each caller a distinct count', async () => {
        const key = fresh('rateLimit');
        const counts = await Promise.all(Array.from({ length: 50 }, () => store.increment(key, TTL)));
        assert.deepEqual(
          counts.toSorted((x, y) => x - y),
          Array.from({ length: 50 }, (_, i) => i + 1),
        );
        assert.equal(await store.get(key), '50');
      });
    });
  });
}
