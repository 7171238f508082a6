/**
 * The logic of one strongly consistent record, as a Durable Object holds it. There is one
 * object per key (`idFromName(key)`), so the object's single-threaded input gate is what
 * makes consume, swap and increment atomic. The Durable Object class itself lives in
 * worker/entry/cloudflare.ts and only delegates here, so this file runs anywhere.
 */

/** The slice of `DurableObjectStorage` this record needs. */
export interface RecordStorage {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
  deleteAll(): Promise<void>;
  setAlarm(scheduledTime: number): Promise<void>;
}

/** What a stub of the Durable Object answers over Workers RPC. */
export interface AtomicRecordApi {
  get(): Promise<string | null>;
  put(value: string, ttlSeconds: number): Promise<void>;
  delete(): Promise<void>;
  consume(): Promise<string | null>;
  swap(expected: string | null, next: string | null, ttlSeconds: number): Promise<boolean>;
  increment(ttlSeconds: number): Promise<number>;
}

type Entry = { value: string; expiresAt: number };
const SLOT = 'entry';

export function atomicRecord(
  storage: RecordStorage,
  now: () => number = Date.now,
): AtomicRecordApi & {
  alarm(): Promise<void>;
} {
  const read = async (): Promise<Entry | null> => {
    const entry = await storage.get<Entry>(SLOT);
    if (!entry) return null;
    // The alarm may run late; a stale entry must never be served meanwhile.
    return entry.expiresAt > now() ? entry : null;
  };
  const write = async (value: string, expiresAt: number): Promise<void> => {
    await storage.put<Entry>(SLOT, { value, expiresAt });
    await storage.setAlarm(expiresAt);
  };
  const ttlToExpiry = (ttlSeconds: number): number => {
    if (!(ttlSeconds > 0)) throw new RangeError('ttl must be positive');
    return now() + ttlSeconds * 1000;
  };

  return {
    async get() {
      return (await read())?.value ?? null;
    },
    async put(value, ttlSeconds) {
      await write(value, ttlToExpiry(ttlSeconds));
    },
    async delete() {
      await storage.deleteAll();
    },
    async consume() {
      const entry = await read();
      if (entry) await storage.deleteAll();
      return entry?.value ?? null;
    },
    async swap(expected, next, ttlSeconds) {
      const entry = await read();
      if ((entry?.value ?? null) !== expected) return false;
      if (next === null) await storage.deleteAll();
      else await write(next, ttlToExpiry(ttlSeconds));
      return true;
    },
    async increment(ttlSeconds) {
      const entry = await read();
      const count = (entry ? Number(entry.value) : 0) + 1;
      await write(String(count), entry?.expiresAt ?? ttlToExpiry(ttlSeconds));
      return count;
    },
    async alarm() {
      const entry = await storage.get<Entry>(SLOT);
      if (!entry) return;
      if (entry.expiresAt <= now()) await storage.deleteAll();
      else await storage.setAlarm(entry.expiresAt);
    },
  };
}
