import { type Store, StoreError } from './store.ts';
import { runProcedure } from './transaction.ts';

type Entry = { value: string; expiresAt: number };

/**
 * A single-process store for tests and the Node entry. Every method is synchronous inside,
 * so JavaScript's run-to-completion makes consume, swap and increment atomic.
 */
export function memoryStore(options: { now?: () => number } = {}): Store & { dump(): Record<string, string> } {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();

  const read = (key: string): string | null => {
    const entry = entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= now()) {
      entries.delete(key);
      return null;
    }
    return entry.value;
  };
  const write = (key: string, value: string, ttlSeconds: number): void => {
    if (!(ttlSeconds > 0)) throw new StoreError('ttl must be positive');
    entries.set(key, { value, expiresAt: now() + ttlSeconds * 1000 });
  };

  return {
    async get(key) {
      return read(key);
    },
    async put(key, value, ttlSeconds) {
      write(key, value, ttlSeconds);
    },
    async delete(key) {
      entries.delete(key);
    },
    async consume(key) {
      const value = read(key);
      entries.delete(key);
      return value;
    },
    async swap(key, expected, next, ttlSeconds) {
      if (read(key) !== expected) return false;
      if (next === null) entries.delete(key);
      else write(key, next, ttlSeconds);
      return true;
    },
    async increment(key, ttlSeconds) {
      const current = read(key);
      const count = (current === null ? 0 : Number(current)) + 1;
      const expiresAt = current === null ? now() + ttlSeconds * 1000 : (entries.get(key)?.expiresAt ?? 0);
      entries.set(key, { value: String(count), expiresAt });
      return count;
    },
    async transact(procedure, input) {
      const { output, writes } = runProcedure(procedure, input, read, now());
      for (const [key, write] of writes) {
        if (write === null) entries.delete(key);
        else entries.set(key, write);
      }
      return output;
    },
    async ping() {},
    dump() {
      const out: Record<string, string> = {};
      for (const key of entries.keys()) {
        const value = read(key);
        if (value !== null) out[key] = value;
      }
      return out;
    },
  };
}
