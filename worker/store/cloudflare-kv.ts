import type { HomeApi } from './durable-object.ts';
import { homeOf, KV_MIN_TTL_SECONDS, placementOf, type Store, StoreError } from './store.ts';

/** The slices of the KV and Durable Object bindings this adapter uses. */
export interface KvBinding {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options: { expirationTtl: number }): Promise<void>;
  delete(key: string): Promise<void>;
}
export interface AtomicBinding {
  idFromName(name: string): unknown;
  get(id: never): HomeApi;
}

/**
 * Cloudflare KV for plain keys; atomic keys in the Durable Object of their home
 * (`homeOf`: a session's, an org's, a person's, or one of a fixed set of shards), so an
 * operation's keys are in one object and a refresh creates none. KV is eventually
 * consistent (a write can take 60 s to be seen elsewhere) and has a 60 s minimum TTL, so
 * anything single-use, rotated or counted lives in a Durable Object instead.
 */
export function cloudflareStore(bindings: { kv: KvBinding; atomic: AtomicBinding }): Store {
  const { kv, atomic } = bindings;
  const home = (key: string): HomeApi => atomic.get(atomic.idFromName(homeOf(key)) as never);
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
    get: (key) => guard('get', () => (placementOf(key) === 'atomic' ? home(key).get(key) : kv.get(key))),
    put: (key, value, ttlSeconds) =>
      guard('put', () =>
        placementOf(key) === 'atomic'
          ? home(key).put(key, value, ttlSeconds)
          : kv.put(key, value, { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, Math.ceil(ttlSeconds)) }),
      ),
    delete: (key) => guard('delete', () => (placementOf(key) === 'atomic' ? home(key).delete(key) : kv.delete(key))),
    consume: (key) =>
      guard('consume', () => {
        atomicOnly(key, 'consume');
        return home(key).consume(key);
      }),
    swap: (key, expected, next, ttlSeconds) =>
      guard('swap', () => {
        atomicOnly(key, 'swap');
        return home(key).swap(key, expected, next, ttlSeconds);
      }),
    increment: (key, ttlSeconds) =>
      guard('increment', () => {
        atomicOnly(key, 'increment');
        return home(key).increment(key, ttlSeconds);
      }),
    transact: (procedure, input) =>
      guard('transact', async () => {
        const key = procedure.home(input);
        atomicOnly(key, 'transact');
        return (await home(key).transact(procedure.name, input)) as never;
      }),
    ping: () =>
      guard('ping', async () => {
        await Promise.all([kv.get('hc:ping'), home('hc:ping').get('hc:ping')]);
      }),
  };
}
