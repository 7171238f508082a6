/**
 * The Store contract in-process: the memory adapter, and the Durable Object's record logic
 * (`atomicRecord`) one record per key. The workerd suite runs the same contract against the
 * real KV + Durable Object adapter.
 */

import { type AtomicRecordApi, atomicRecord, type RecordStorage } from '../../worker/store/durable-object.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import type { Store } from '../../worker/store/store.ts';
import { storeContract } from '../store.contract.ts';

storeContract('memory', async () => ({ store: memoryStore(), close: async () => {} }));

storeContract('atomicRecord per key (fake storage)', async () => {
  const records = new Map<string, FakeObject>();
  const record = (key: string): AtomicRecordApi => {
    let object = records.get(key);
    if (!object) records.set(key, (object = fakeObject()));
    return object.api;
  };
  const store: Store = {
    get: (key) => record(key).get(),
    put: (key, value, ttlSeconds) => record(key).put(value, ttlSeconds),
    delete: (key) => record(key).delete(),
    consume: (key) => record(key).consume(),
    swap: (key, expected, next, ttlSeconds) => record(key).swap(expected, next, ttlSeconds),
    increment: (key, ttlSeconds) => record(key).increment(ttlSeconds),
    ping: async () => {},
  };
  return {
    store,
    close: async () => {
      for (const object of records.values()) object.stop();
    },
  };
});

type FakeObject = { api: AtomicRecordApi; stop(): void };

/**
 * Stands in for one Durable Object in this unit run only; the real Durable Object (its
 * storage, alarms and input gate) is covered by test/conformance/store-workerd.test.ts.
 * Values are cloned like real storage does, alarms fire on a timer, and calls run one at a
 * time, as the input gate delivers them: without that queue `atomicRecord` is not atomic.
 */
function fakeObject(): FakeObject {
  let slot = new Map<string, unknown>();
  let alarm: NodeJS.Timeout | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const result = queue.then(run);
    queue = result.catch(() => {});
    return result;
  };
  const storage: RecordStorage = {
    async get<T>(key: string) {
      return structuredClone(slot.get(key)) as T | undefined;
    },
    async put<T>(key: string, value: T) {
      slot.set(key, structuredClone(value));
    },
    async deleteAll() {
      slot = new Map();
      clearTimeout(alarm);
    },
    async setAlarm(scheduledTime: number) {
      clearTimeout(alarm);
      alarm = setTimeout(() => serial(() => record.alarm()), Math.max(0, scheduledTime - Date.now()));
      alarm.unref();
    },
  };
  const record = atomicRecord(storage);
  return {
    api: {
      get: () => serial(() => record.get()),
      put: (value, ttlSeconds) => serial(() => record.put(value, ttlSeconds)),
      delete: () => serial(() => record.delete()),
      consume: () => serial(() => record.consume()),
      swap: (expected, next, ttlSeconds) => serial(() => record.swap(expected, next, ttlSeconds)),
      increment: (ttlSeconds) => serial(() => record.increment(ttlSeconds)),
    },
    stop: () => clearTimeout(alarm),
  };
}
