/**
 * Guesses of user codes on the verification pages, limited per browser session and per
 * address (RFC 8628 §5.1): a code's 34 bits hold only while guessing stays slow.
 */
import type { Services } from '../services.ts';
import { storeKey } from '../store/store.ts';

/** Wrong user codes are counted per fixed window of this length. */
const GUESS_WINDOW_SECONDS = 900;
/** A limit on guesses: its name is the counted party (`ucs:<session>`), the window is added. */
export type GuessLimit = { name: string; limit: number };
/** The guesses a lookup took, to be given back if it finds its code. */
export type TakenGuess = { limits: GuessLimit[]; window: number };

const guessKeys = (name: string, window: number) => ({
  guesses: storeKey('rateLimit', `${name}:${window}`),
  back: storeKey('rateLimit', `${name}:${window}:back`),
});

/**
 * Takes one guess from each limit, in order, before a typed code is looked up: a check
 * made before counting would let concurrent guesses all pass it. A guess is an atomic
 * increment, so concurrent sign-ins from one address never contend (a swap loop gave up
 * under 8 at once). What does not end up a wrong guess is given back in a twin count in
 * the same fixed window: a right code, and a guess refused here (so a browser session
 * over its limit does not use up its address's).
 *
 * The twin is read BEFORE the increment: everything it then holds was given back by a
 * guess counted before this one, so `guesses - back` never undercounts the wrong ones
 * looked up ahead of this guess. Read after (or alongside), it could include a give-back
 * of a guess counted after this one and let a wrong guess past the limit.
 */
export async function takeGuess(services: Services, limits: GuessLimit[]): Promise<TakenGuess | null> {
  const { store, now } = services;
  const window = Math.floor(now() / (GUESS_WINDOW_SECONDS * 1000));
  const taken: GuessLimit[] = [];
  for (const limit of limits) {
    const keys = guessKeys(limit.name, window);
    const back = Number((await store.get(keys.back)) ?? 0);
    const guesses = await store.increment(keys.guesses, 2 * GUESS_WINDOW_SECONDS);
    taken.push(limit);
    if (guesses - back > limit.limit) {
      await returnGuess(services, { limits: taken, window });
      return null;
    }
  }
  return { limits: taken, window };
}

/** Gives guesses back (a right code, or one refused before its lookup), in the window they were taken in. */
export async function returnGuess(services: Services, taken: TakenGuess): Promise<void> {
  await Promise.all(
    taken.limits.map(({ name }) => services.store.increment(guessKeys(name, taken.window).back, 2 * GUESS_WINDOW_SECONDS)),
  );
}

/**
 * The address a guess is counted against: an IPv4 address whole, an IPv6 address by its
 * /64, since one host is routinely handed a whole /64 and could walk it to reset the count.
 */
export function addressBucket(address: string | null): string {
  if (address === null || !address.includes(':')) return address ?? 'unknown';
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::ffff:192.0.2.1) is one address, not a network.
  if (right.some((part) => part.includes('.')) || left.some((part) => part.includes('.'))) return address.toLowerCase();
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
