/**
 * An isolate's short memory of session records, so a Bearer check with a session's access
 * token can skip the store read that its `sid` check costs, without giving up "a session
 * ended anywhere is refused from the next request".
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
import type { Family } from './sessions.ts';

/** Enough for every busy session an isolate sees; beyond it the oldest are dropped. */
const MAX_ENTRIES = 10_000;

export type SessionCache = {
  /** The family as last read (null: no such session), or the result of `read` when stale or unknown. */
  get(sid: string, read: () => Promise<Family | null>): Promise<Family | null>;
  /**
   * Call once the store holds a change that must refuse tokens: drops this isolate's copy at
   * once, and resolves when no isolate can still trust a copy from before the change.
   */
  changed(sid: string): Promise<void>;
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function sessionCache(maxAgeMs: number, now: () => number, wait: (ms: number) => Promise<void> = sleep): SessionCache {
  const entries = new Map<string, { family: Family | null; readAt: number }>();
  // Moves on every change. A read that was already under way when a session changed here
  // may have fetched the record from before; it must not be remembered.
  let changes = 0;
  return {
    async get(sid, read) {
      if (maxAgeMs <= 0) return read();
      const cached = entries.get(sid);
      if (cached && now() - cached.readAt < maxAgeMs) return cached.family;
      const readAt = now();
      const changesBefore = changes;
      const family = await read();
      if (changes !== changesBefore) return family;
      entries.delete(sid); // re-inserted last: Map order is then oldest-read first
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
      entries.set(sid, { family, readAt });
      return family;
    },
    async changed(sid) {
      changes++;
      entries.delete(sid);
      if (maxAgeMs > 0) await wait(maxAgeMs);
    },
  };
}
