/**
 * What every `Store` adapter promises, as one suite each adapter's test file runs
 * (`storeContract('memory', …)`). Consume, swap and increment only ever see atomic-prefix
 * keys, as in the app; plain keys get the round trip alone, since KV keeps them at least
 * 60 s (`KV_MIN_TTL_SECONDS`) and is never asked to count or swap. `transact` runs the
 * procedures of test/fixtures/store-procedures.ts over keys of one org's home.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { homeOf, type KeyKind, type Store, storeKey } from '../worker/store/store.ts';
import { countUp, moveValue, putAll, putThenThrow, readAll, strayOutOfHome } from './fixtures/store-procedures.ts';

export type StoreUnderTest = { store: Store; close(): Promise<void> };

const TTL = 60;
const sleepUntil = (time: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, time - Date.now())));

/** A fresh key per case, so cases never see each other's leftovers in a shared backend. */
const fresh = (kind: KeyKind): string => storeKey(kind, `contract-${randomUUID()}`);

/** Two keys of one fresh home (an org's record and its key index), for `transact`. */
const freshHome = (): [string, string] => {
  const id = `contract-${randomUUID()}`;
  const pair: [string, string] = [storeKey('org', id), storeKey('apiKeyIndex', id)];
  assert.equal(homeOf(pair[0]), homeOf(pair[1]));
  return pair;
};

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
      const [transacted, transactedLasting] = freshHome();
      await store.put(put, 'short', 1);
      await store.transact(putAll, {
        entries: [
          [transacted, 'short', 1],
          [transactedLasting, 'long', TTL],
        ],
      });
      assert.equal(await store.swap(swapped, null, 'short', 1), true);
      assert.equal(await store.increment(counter, 1), 1);
      await store.put(lasting, 'long', TTL);
      const written = Date.now();

      await sleepUntil(started + 800);
      assert.equal(await store.get(put), 'short', 'expired early');
      assert.equal(await store.get(transacted), 'short', 'a transact write expired early');
      assert.equal(await store.increment(counter, 1), 2);
      assert.equal(await store.increment(counter, 1), 3);

      await sleepUntil(written + 1500);
      assert.equal(await store.get(put), null);
      assert.equal(await store.get(swapped), null);
      assert.equal(await store.get(counter), null, 'later increments extended the window');
      assert.equal(await store.get(lasting), 'long');
      assert.equal(await store.get(transacted), null, 'a transact write outlived its TTL');
      assert.deepEqual(await store.transact(readAll, { keys: [transacted, transactedLasting] }), [null, 'long']);
      // Expired is absent for every operation, not only for get.
      assert.equal(await store.consume(put), null);
      assert.equal(await store.swap(swapped, null, 'again', TTL), true);
      assert.equal(await store.increment(counter, TTL), 1);
    });

    describe('transact', () => {
      test('moves a value between two keys of one home in one step', async () => {
        const [from, to] = freshHome();
        await store.put(from, 'moving', TTL);
        assert.equal(await store.transact(moveValue, { from, to, ttlSeconds: TTL }), 'moving');
        assert.equal(await store.get(from), null);
        assert.equal(await store.get(to), 'moving');
        assert.equal(await store.transact(moveValue, { from, to, ttlSeconds: TTL }), null, 'moved twice');
        assert.equal(await store.get(to), 'moving');
      });

      test('a read-only procedure answers what it read, and sees a write of its own', async () => {
        const [a, b] = freshHome();
        await store.put(a, '{"v":"a ✓"}', TTL);
        assert.deepEqual(await store.transact(readAll, { keys: [a, b] }), ['{"v":"a ✓"}', null]);
        assert.deepEqual(await store.transact(readAll, { keys: [b, a, a] }), [null, '{"v":"a ✓"}', '{"v":"a ✓"}']);
        assert.deepEqual(await store.transact(putAll, { entries: [[b, 'b', TTL]] }), ['b']);
        assert.equal(await store.get(b), 'b');
      });

      test('a procedure that throws after writing writes nothing', async () => {
        const [key] = freshHome();
        await assert.rejects(store.transact(putThenThrow, { key }));
        assert.equal(await store.get(key), null);
      });

      for (const how of ['read', 'write'] as const) {
        test(`a procedure that ${how}s a key of another home is refused, writing nothing`, async () => {
          const [key] = freshHome();
          const [stray] = freshHome();
          assert.notEqual(homeOf(key), homeOf(stray));
          await assert.rejects(store.transact(strayOutOfHome, { key, stray, how }));
          assert.equal(await store.get(key), null);
          assert.equal(await store.get(stray), null);
        });
      }

      test('20 simultaneous read-modify-writes: count 20, each caller a distinct count', async () => {
        const [key] = freshHome();
        const counts = await Promise.all(Array.from({ length: 20 }, () => store.transact(countUp, { key, ttlSeconds: TTL })));
        assert.deepEqual(
          counts.toSorted((x, y) => x - y),
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        assert.equal(await store.get(key), '20');
      });

      test('20 simultaneous moves of one value: exactly one moves it', async () => {
        const [from, to] = freshHome();
        await store.put(from, 'prize', TTL);
        const moved = await Promise.all(
          Array.from({ length: 20 }, () => store.transact(moveValue, { from, to, ttlSeconds: TTL })),
        );
        assert.deepEqual(
          moved.filter((value) => value !== null),
          ['prize'],
        );
        assert.equal(await store.get(from), null);
        assert.equal(await store.get(to), 'prize');
      });
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
