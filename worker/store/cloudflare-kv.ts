import type { AtomicRecordApi } from './durable-object.ts';
import { KV_MIN_TTL_SECONDS, placementOf, type Store, StoreError } from './store.ts';

/** The slices of the KV and Durable Object bindings this adapter uses. */
export interface KvBinding {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options: { expirationTtl: number }): Promise<void>;
  delete(key: string): Promise<void>;
}
export interface AtomicBinding {
  idFromName(name: string): unknown;
  get(id: never): AtomicRecordApi;
}

/**
 * Cloudflare KV for plain keys, one Durable Object per atomic key. KV is eventually
 * consistent (a write can take 60 s to be seen elsewhere) and has a 60 s minimum TTL, so
 * anything single-use, rotated or counted lives in the Durable Object instead.
 */
export function cloudflareStore(bindings: { kv: KvBinding; atomic: AtomicBinding }): Store {
  const { kv, atomic } = bindings;
  const record = (key: string): AtomicRecordApi => atomic.get(atomic.idFromName(key) as never);
  const guard = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (cause) {
      if (cause instanceof StoreError) throw cause;
      throw new StoreError(`store ${what} failed`, { cause });
    }
  };
  const atomicOnly = (key: string, op: string): void => {
    if (placementOf(key) !== 'atomic') throw new StoreError(`${op} needs an atomic key`);
  };

  return {
    get: (key) => guard('get', () => (placementOf(key) === 'atomic' ? record(key).get() : kv.get(key))),
    put: (key, value, ttlSeconds) =>
      guard('put', () =>
        placementOf(key) === 'atomic'
          ? record(key).put(value, ttlSeconds)
          : kv.put(key, value, { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, Math.ceil(ttlSeconds)) }),
      ),
    delete: (key) => guard('delete', () => (placementOf(key) === 'atomic' ? record(key).delete() : kv.delete(key))),
    consume: (key) =>
      guard('consume', () => {
        atomicOnly(key, 'consume');
        return record(key).consume();
      }),
    swap: (key, expected, next, ttlSeconds) =>
      guard('swap', () => {
        atomicOnly(key, 'swap');
        return record(key).swap(expected, next, ttlSeconds);
      }),
    increment: (key, ttlSeconds) =>
      guard('increment', () => {
        atomicOnly(key, 'increment');
        return record(key).increment(ttlSeconds);
      }),
    ping: () =>
      guard('ping', async () => {
        await Promise.all([kv.get('hc:ping'), record('hc:ping').get()]);
      }),
  };
}
