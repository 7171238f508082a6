/**
 * An isolate's short memory of revocable records — sessions (the `sid` check of an access
 * token) and API keys — so a Bearer check can skip its store read, without giving up "a
 * session or key ended anywhere is refused from the next request".
 *
 * Two rules make both hold (LATCHKEY_SESSION_CACHE, 1 s by default):
 * - an isolate trusts a record for at most the bound, counted from *before* it asked the
 *   store, so what it holds was current at some instant less than the bound ago;
 * - whoever ends a session (or revokes one of its tokens) waits the bound after the store
 *   took the change, and only then answers. By then every copy read before the change has
 *   expired in every isolate, so any request that starts after the answer reads the store
 *   again and is refused.
 *
 * The price is paid by revocations, which answer the bound later, not by the checks. With
 * `0` every check reads the store and revocations answer at once.
 *
 * This needs a store whose reads see every acknowledged write (Durable Objects; a
 * single-region Redis read from its primary), as the `sid` check always did. On workerd
 * the clock moves only between I/O, so "now" at a check is the request's arrival: a copy
 * is judged no younger than it is. Readers that see `revoked` during a revocation's wait
 * (a refresh, introspection, the sessions list) learn of it a little early; that only
 * refuses sooner.
 */

/** Enough for every busy session and key an isolate sees; beyond it the oldest are dropped. */
const MAX_ENTRIES = 10_000;

export type IsolateCache<T> = {
  /** The record as last read (null: none), or the result of `read` when stale or unknown. */
  get(id: string, read: () => Promise<T>): Promise<T>;
  /**
   * Call once the store holds a change that must refuse credentials: drops this isolate's
   * copy at once, and resolves when no isolate can still trust a copy from before the change.
   */
  changed(id: string): Promise<void>;
  /** Drops this isolate's copy of a change that refuses nothing (a last-use time), not waiting. */
  forget(id: string): void;
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function isolateCache<T>(
  maxAgeMs: number,
  now: () => number,
  wait: (ms: number) => Promise<void> = sleep,
): IsolateCache<T> {
  const entries = new Map<string, { record: T; readAt: number }>();
  // Reads under way, so the requests that find a copy just expired wait for one read
  // instead of each asking the store (a burst of them at every bound, else).
  const reading = new Map<string, { record: Promise<T>; readAt: number; changes: number }>();
  // Moves on every change. A read that was already under way when a record changed here
  // may have fetched it from before; it must not be remembered, nor joined.
  let changes = 0;
  return {
    async get(id, read) {
      if (maxAgeMs <= 0) return read();
      const cached = entries.get(id);
      if (cached && now() - cached.readAt < maxAgeMs) return cached.record;
      // Joined under the same rule as a copy: asked for less than the bound ago.
      const pending = reading.get(id);
      if (pending && pending.changes === changes && now() - pending.readAt < maxAgeMs) return pending.record;
      const readAt = now();
      const changesBefore = changes;
      const record = read();
      const mine = { record, readAt, changes: changesBefore };
      reading.set(id, mine);
      try {
        const value = await record;
        if (changes !== changesBefore) return value;
        entries.delete(id); // re-inserted last: Map order is then oldest-read first
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
        entries.set(id, { record: value, readAt });
        return value;
      } finally {
        if (reading.get(id) === mine) reading.delete(id);
      }
    },
    async changed(id) {
      changes++;
      entries.delete(id);
      if (maxAgeMs > 0) await wait(maxAgeMs);
    },
    forget(id) {
      changes++;
      entries.delete(id);
    },
  };
}
