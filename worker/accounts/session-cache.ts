/**
 * An isolate's short memory of session records, so a Bearer check with a session's access
 * token can skip the store read that its `sid` check costs.
 *
 * Off by default (`LATCHKEY_SESSION_CACHE=0`): every check reads the family record, so a
 * session ended anywhere is refused from the very next request. Turned on, an isolate
 * trusts what it read for at most that long. A revocation made through this isolate still
 * takes effect at once (it forgets the entry); one made elsewhere is seen here within
 * the bound. That is the trade an operator chooses: zero store reads for most JWT checks
 * against a revocation delay they can name, instead of the access token's whole lifetime.
 */
import type { Family } from './sessions.ts';

/** Enough for every busy session an isolate sees; beyond it the oldest are dropped. */
const MAX_ENTRIES = 10_000;

export type SessionCache = {
  /** The family as last read (null: no such session), or the result of `read` when stale or unknown. */
  get(sid: string, read: () => Promise<Family | null>): Promise<Family | null>;
  /** Drops what this isolate remembers of a session it just changed. */
  forget(sid: string): void;
};

export function sessionCache(maxAgeMs: number, now: () => number): SessionCache {
  const entries = new Map<string, { family: Family | null; readAt: number }>();
  // Moves on every forget. A read that was already under way when a session changed here
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
    forget(sid) {
      changes++;
      entries.delete(sid);
    },
  };
}
