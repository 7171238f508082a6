/**
 * Deno KV (local SQLite, or Deno Deploy's). Consume, swap and increment are optimistic:
 * read, then commit with `check()` on the versionstamp read; a conflict means another
 * request changed the key first, so read again. `expireIn` lets Deno drop old records, but
 * it promises no exact moment, so each record carries its own expiry and reads honour it.
 * A procedure (`transact`) is optimistic the same way: getMany what it reads, run it here,
 * then commit its writes with a `check()` on every versionstamp read.
 *
 * The KV handle is passed in (`Deno.openKv()` in worker/entry/deno.ts); this file needs
 * only the small part of its API typed below, so it type-checks without Deno's globals.
 */
import { bounded, STORE_TIMEOUT_MS, type Store, StoreError, ttlMilliseconds } from './store.ts';
import { optimisticProcedure, type Write } from './transaction.ts';

type KvKey = readonly string[];
type Versioned<T> = { value: T | null; versionstamp: string | null };
type AtomicOperation = {
  check(...checks: { key: KvKey; versionstamp: string | null }[]): AtomicOperation;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): AtomicOperation;
  delete(key: KvKey): AtomicOperation;
  commit(): Promise<{ ok: boolean }>;
};
export type DenoKvHandle = {
  get<T>(key: KvKey): Promise<Versioned<T>>;
  getMany<T extends unknown[]>(keys: KvKey[]): Promise<{ [K in keyof T]: Versioned<T[K]> }>;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  delete(key: KvKey): Promise<void>;
  atomic(): AtomicOperation;
};

type Stored = { value: string; expiresAt: number };

/** Enough attempts for dozens of simultaneous writers on one key; each loses only to a winner. */
const MAX_ATTEMPTS = 200;
/** Deno KV's limit on keys per getMany. */
const GET_MANY_LIMIT = 10;

export function denoKvStore(kv: DenoKvHandle, options: { now?: () => number } = {}): Store {
  const now = options.now ?? Date.now;
  const kvKey = (key: string): KvKey => ['latchkey', key];

  /** The live value (null when absent or past its expiry) and the entry, whose versionstamp a commit checks. */
  const read = async (key: string) => {
    const entry = await kv.get<Stored>(kvKey(key));
    return { value: liveValue(entry), entry };
  };
  const liveValue = (entry: Versioned<Stored>): string | null =>
    entry.value !== null && entry.value.expiresAt > now() ? entry.value.value : null;
  const record = (value: string, expiresAt: number) => ({
    value: { value, expiresAt } satisfies Stored,
    expireIn: Math.max(1, expiresAt - now()),
  });

  /** Retries `attempt` while it loses a race (returns undefined); each try is a fresh read. */
  const optimistic = async <T>(attempt: () => Promise<T | undefined>): Promise<T> => {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const result = await attempt();
      if (result !== undefined) return result;
    }
    throw new StoreError('store contention: too many conflicting writers');
  };

  const fetchMany = async (keys: string[]) => {
    const found = new Map<string, { value: string | null; version: string | null }>();
    for (let i = 0; i < keys.length; i += GET_MANY_LIMIT) {
      const slice = keys.slice(i, i + GET_MANY_LIMIT);
      const entries = await kv.getMany<Stored[]>(slice.map(kvKey));
      slice.forEach((key, j) => {
        const entry = entries[j] as Versioned<Stored>;
        found.set(key, { value: liveValue(entry), version: entry.versionstamp });
      });
    }
    return found;
  };
  const commit = async (checks: Map<string, string | null>, writes: Map<string, Write>): Promise<boolean> => {
    // One key read and nothing written: the read itself was the atomic step.
    if (writes.size === 0 && checks.size <= 1) return true;
    const operation = kv.atomic();
    for (const [key, versionstamp] of checks) operation.check({ key: kvKey(key), versionstamp });
    for (const [key, write] of writes) {
      if (write === null) operation.delete(kvKey(key));
      else {
        const written = record(write.value, write.expiresAt);
        operation.set(kvKey(key), written.value, { expireIn: written.expireIn });
      }
    }
    return (await operation.commit()).ok;
  };

  return {
    get: (key) => bounded('get', async () => (await read(key)).value),
    put: (key, value, ttlSeconds) =>
      bounded('put', async () => {
        const next = record(value, now() + ttlMilliseconds(ttlSeconds));
        await kv.set(kvKey(key), next.value, { expireIn: next.expireIn });
      }),
    delete: (key) => bounded('delete', () => kv.delete(kvKey(key))),
    consume: (key) =>
      bounded('consume', () =>
        optimistic(async () => {
          const current = await read(key);
          if (current.value === null) return { value: null };
          const ok = await commit(new Map([[key, current.entry.versionstamp]]), new Map([[key, null]]));
          return ok ? { value: current.value } : undefined;
        }).then((result) => result.value),
      ),
    swap: (key, expected, next, ttlSeconds) =>
      bounded('swap', () =>
        optimistic(async () => {
          const current = await read(key);
          if (current.value !== expected) return false;
          const write = next === null ? null : { value: next, expiresAt: now() + ttlMilliseconds(ttlSeconds) };
          return (await commit(new Map([[key, current.entry.versionstamp]]), new Map([[key, write]]))) ? true : undefined;
        }),
      ),
    increment: (key, ttlSeconds) =>
      bounded('increment', () =>
        optimistic(async () => {
          const current = await read(key);
          // The window starts with the first increment; later ones keep its expiry.
          const count = current.value === null ? 1 : Number(current.value) + 1;
          const expiresAt =
            current.value === null ? now() + ttlMilliseconds(ttlSeconds) : (current.entry.value?.expiresAt ?? now());
          const write = { value: String(count), expiresAt };
          return (await commit(new Map([[key, current.entry.versionstamp]]), new Map([[key, write]]))) ? count : undefined;
        }),
      ),
    transact: (procedure, input) =>
      bounded('transact', () =>
        optimisticProcedure(procedure, input, {
          now,
          fetch: fetchMany,
          commit,
          deadline: Date.now() + STORE_TIMEOUT_MS,
        }),
      ),
    ping: () =>
      bounded('ping', async () => {
        await kv.get(kvKey('hc:ping'));
      }),
  };
}
