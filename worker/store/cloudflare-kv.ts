import type { HomeApi } from './durable-object.ts';
import { bounded, homeOf, KV_MIN_TTL_SECONDS, placementOf, type Store, StoreError } from './store.ts';

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
  const atomicOnly = (key: string, op: string): void => {
    if (placementOf(key) !== 'atomic') throw new StoreError(`${op} needs an atomic key`);
  };

  // Every call runs under the store's time bound: a stuck object or namespace is a 503, never a hang.
  return {
    get: (key) => bounded('get', () => (placementOf(key) === 'atomic' ? home(key).get(key) : kv.get(key))),
    put: (key, value, ttlSeconds) =>
      bounded('put', () =>
        placementOf(key) === 'atomic'
          ? home(key).put(key, value, ttlSeconds)
          : kv.put(key, value, { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, Math.ceil(ttlSeconds)) }),
      ),
    delete: (key) => bounded('delete', () => (placementOf(key) === 'atomic' ? home(key).delete(key) : kv.delete(key))),
    consume: (key) =>
      bounded('consume', () => {
        atomicOnly(key, 'consume');
        return home(key).consume(key);
      }),
    swap: (key, expected, next, ttlSeconds) =>
      bounded('swap', () => {
        atomicOnly(key, 'swap');
        return home(key).swap(key, expected, next, ttlSeconds);
      }),
    increment: (key, ttlSeconds) =>
      bounded('increment', () => {
        atomicOnly(key, 'increment');
        return home(key).increment(key, ttlSeconds);
      }),
    transact: (procedure, input) =>
      bounded('transact', async () => {
        const key = procedure.home(input);
        atomicOnly(key, 'transact');
        return (await home(key).transact(procedure.name, input)) as never;
      }),
    ping: () =>
      bounded('ping', async () => {
        await Promise.all([kv.get('hc:ping'), home('hc:ping').get('hc:ping')]);
      }),
  };
}
