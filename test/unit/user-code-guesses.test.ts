/**
 * The user-code guess limit under concurrency, against a store whose calls land after
 * scripted delays as a remote one's do (Redis, a Durable Object): the memory store answers
 * at once and could not show an interleaving that lets a wrong guess past the limit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressBucket, type GuessLimit, returnGuess, takeGuess } from '../../worker/grants/user-code-guesses.ts';
import type { Services } from '../../worker/services.ts';
import { memoryStore } from '../../worker/store/memory.ts';

/** A memory store whose get and increment take effect after a delay drawn from `delay`. */
function remoteStore(delay: () => number) {
  const inner = memoryStore();
  const later = <T>(run: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => setTimeout(() => run().then(resolve, reject), delay()));
  return {
    ...inner,
    get: (key: string) => later(() => inner.get(key)),
    increment: (key: string, ttl: number) => later(() => inner.increment(key, ttl)),
  };
}

/** A seeded generator (mulberry32), so a failing interleaving can be run again. */
function seeded(seed: number) {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const services = (store: ReturnType<typeof remoteStore>) => ({ store, now: () => 1_700_000_000_000 }) as unknown as Services;

test('concurrent wrong guesses never get more than the limit looked up, whatever the store interleaves', async () => {
  const limits: GuessLimit[] = [{ name: 'ucs:s', limit: 5 }];
  for (let seed = 1; seed <= 150; seed++) {
    const random = seeded(seed);
    const lookups = services(remoteStore(() => Math.floor(random() * 6)));
    // Three wrong codes already looked up, then twelve at once, some of them right codes
    // (which give their guess back as soon as they are found).
    for (let i = 0; i < 3; i++) assert.ok(await takeGuess(lookups, limits));
    const right = new Set([2, 7]);
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const taken = await takeGuess(lookups, limits);
        if (taken && right.has(i)) await returnGuess(lookups, taken);
        return taken !== null && !right.has(i);
      }),
    );
    const wrongLookedUp = 3 + outcomes.filter(Boolean).length;
    assert.ok(wrongLookedUp <= 5, `seed ${seed}: ${wrongLookedUp} wrong codes looked up with a limit of 5`);
  }
});

test('a right code costs no guess, and a refused guess does not use up the next limit', async () => {
  const lookups = services(remoteStore(() => 0));
  const session: GuessLimit = { name: 'ucs:a', limit: 2 };
  const address: GuessLimit = { name: 'uca:127.0.0.1', limit: 3 };
  for (let i = 0; i < 10; i++) {
    const taken = await takeGuess(lookups, [session, address]);
    assert.ok(taken, `right code ${i + 1}`);
    await returnGuess(lookups, taken);
  }
  assert.ok(await takeGuess(lookups, [session, address]));
  assert.ok(await takeGuess(lookups, [session, address]));
  // The session is used up: its refusals leave the address's count where it was.
  for (let i = 0; i < 5; i++) assert.equal(await takeGuess(lookups, [session, address]), null);
  assert.ok(await takeGuess(lookups, [{ name: 'ucs:b', limit: 2 }, address]), 'the address still has its third guess');
  assert.equal(await takeGuess(lookups, [{ name: 'ucs:c', limit: 2 }, address]), null);
});

test('an IPv6 address counts by its /64, an IPv4 address whole', () => {
  const bucket = '2001:db8:0:1::/64';
  for (const address of [
    '2001:db8:0:1::1',
    '2001:0DB8:0000:0001:ffff:ffff:ffff:ffff',
    '2001:db8:0:1:a::',
    '2001:db8::1:0:0:0:7',
  ]) {
    assert.equal(addressBucket(address), bucket, address);
  }
  assert.equal(addressBucket('2001:db8:0:2::1'), '2001:db8:0:2::/64');
  assert.equal(addressBucket('::1'), '0:0:0:0::/64');
  assert.equal(addressBucket('203.0.113.7'), '203.0.113.7');
  assert.equal(addressBucket('::ffff:203.0.113.7'), '::ffff:203.0.113.7');
  assert.equal(addressBucket(null), 'unknown');
});
