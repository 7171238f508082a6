/**
 * The Store contract in-process: the memory adapter, and the Durable Object's home logic
 * (`homeObject`) one home per `homeOf`, over a fake `ctx` on node:sqlite. Then what the
 * contract cannot see from outside: the alarm's sweep, and the read-through from the
 * per-key layout when migrating. The workerd suite runs the contract against the real
 * KV + Durable Object adapter.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { homeObject, type LegacyEntry } from '../../worker/store/durable-object.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import { homeOf, type Store, storeKey } from '../../worker/store/store.ts';
import { type FakeDurableObject, fakeDurableObject } from '../fixtures/fake-durable-object.ts';
import { moveValue, TEST_PROCEDURES } from '../fixtures/store-procedures.ts';
import { storeContract } from '../store.contract.ts';

storeContract('memory', async () => ({ store: memoryStore(), close: async () => {} }));

storeContract('homeObject per home (fake ctx on node:sqlite)', async () => {
  const homes = new Map<string, { object: FakeDurableObject; api: ReturnType<typeof homeObject> }>();
  const home = (key: string) => {
    const name = homeOf(key);
    let found = homes.get(name);
    if (!found) {
      const object = fakeDurableObject({ timers: true });
      const api = homeObject(object.ctx, { procedures: TEST_PROCEDURES });
      object.onAlarm(() => api.alarm());
      homes.set(name, (found = { object, api }));
    }
    return found.api;
  };
  // Arguments and answers cross Workers RPC as copies; so they do here.
  const rpc = async <T>(answer: Promise<T>): Promise<T> => structuredClone(await answer);
  const store: Store = {
    get: (key) => rpc(home(key).get(key)),
    put: (key, value, ttlSeconds) => rpc(home(key).put(key, value, ttlSeconds)),
    delete: (key) => rpc(home(key).delete(key)),
    consume: (key) => rpc(home(key).consume(key)),
    swap: (key, expected, next, ttlSeconds) => rpc(home(key).swap(key, expected, next, ttlSeconds)),
    increment: (key, ttlSeconds) => rpc(home(key).increment(key, ttlSeconds)),
    transact: (procedure, input) =>
      rpc(home(procedure.home(input)).transact(procedure.name, structuredClone(input))) as Promise<never>,
    ping: async () => {},
  };
  return {
    store,
    close: async () => {
      for (const { object } of homes.values()) object.close();
    },
  };
});

const T0 = Date.parse('2026-01-01T00:00:00Z');
const opened: FakeDurableObject[] = [];
afterEach(() => {
  for (const object of opened.splice(0)) object.close();
});

/** One home on a stepped clock; `legacy` entries stand in for objects of the per-key layout. */
function home(options: { legacy?: Record<string, LegacyEntry> } = {}) {
  const clock = { now: T0 };
  const object = fakeDurableObject();
  opened.push(object);
  const asked: string[] = [];
  const legacy = options.legacy;
  const api = homeObject(object.ctx, {
    procedures: TEST_PROCEDURES,
    now: () => clock.now,
    legacy: legacy
      ? (key) => ({
          legacyEntry: async () => {
            asked.push(key);
            return structuredClone(legacy[key] ?? null);
          },
        })
      : undefined,
  });
  object.onAlarm(() => api.alarm());
  const keys = () => object.query('SELECT key FROM entries ORDER BY key').map((row) => row.key);
  return { api, clock, object, asked, keys };
}

describe('homeObject: the alarm', () => {
  test('is set for the earliest expiry, and its sweep removes expired rows and moves it to the next', async () => {
    const { api, clock, object, keys } = home();
    await api.put('dc:late', 'late', 600);
    await api.put('dc:soon', 'soon', 60);
    await api.put('dc:middle', 'middle', 300);
    assert.equal(object.alarmAt(), T0 + 60_000);

    clock.now = T0 + 300_000; // `dc:middle` expires at this very moment
    await object.fire();
    assert.deepEqual(keys(), ['dc:late']);
    assert.equal(object.alarmAt(), T0 + 600_000);

    clock.now = T0 + 600_000;
    await object.fire();
    assert.equal(object.alarmAt(), null, 'an empty home keeps no alarm');
    assert.deepEqual(object.query("SELECT name FROM sqlite_master WHERE type = 'table'"), [], 'an empty home keeps no storage');
    await api.put('dc:again', 'again', 60);
    assert.deepEqual(keys(), ['dc:again']);
  });

  // A session refreshed every few seconds leaves a 10 s grace record each time: the alarm
  // that reclaims them is set once a minute, not once a refresh.
  test('is rounded up to the minute, so short-lived rows written within one minute set it once', async () => {
    const { api, clock, object } = home();
    clock.now = T0 + 1000;
    await api.put('dc:a', 'a', 10);
    assert.equal(object.alarmAt(), T0 + 60_000);
    clock.now = T0 + 30_000;
    await api.put('dc:b', 'b', 10);
    assert.equal(object.alarmAt(), T0 + 60_000);
    clock.now = T0 + 60_000;
    await object.fire();
    assert.equal(await api.get('dc:a'), null);
    assert.equal(await api.get('dc:b'), null);
    assert.equal(object.alarmAt(), null);
  });

  test('an expired row is never served while the alarm is late', async () => {
    const { api, clock, keys } = home();
    await api.put('dc:soon', 'soon', 1);
    clock.now = T0 + 1000;
    assert.equal(await api.get('dc:soon'), null);
    assert.equal(await api.consume('dc:soon'), null);
    assert.equal(await api.swap('dc:soon', null, 'again', 60), true);
    assert.deepEqual(keys(), ['dc:soon']);
  });

  test('a write earlier than the alarm moves it earlier; a later one leaves it', async () => {
    const { api, object } = home();
    await api.put('dc:a', 'a', 600);
    await api.transact(moveValue.name, { from: 'dc:a', to: 'dc:a', ttlSeconds: 120 });
    assert.equal(object.alarmAt(), T0 + 120_000);
    await api.increment('rl:x', 3600);
    assert.equal(object.alarmAt(), T0 + 120_000);
  });
});

describe('homeObject: made on the first write', () => {
  const tables = (object: FakeDurableObject) => object.query("SELECT name FROM sqlite_master WHERE type = 'table'");

  test('a read leaves no tables behind, so a made-up key leaves no object', async () => {
    const { api, object } = home();
    assert.equal(await api.get('rt2:ses_made_up:x'), null);
    assert.equal(await api.consume('rt2:ses_made_up:x'), null);
    assert.equal(await api.swap('rt2:ses_made_up:x', 'guess', null, 60), false);
    assert.deepEqual(tables(object), []);
    await api.put('rt2:ses_made_up:x', 'v', 60);
    assert.deepEqual(
      tables(object)
        .map((row) => row.name)
        .sort(),
      ['entries', 'legacy_checked', 'meta'],
    );
  });

  // A refresh with a made-up token is such a procedure: it reads, finds nothing, writes nothing.
  test('a procedure that writes nothing leaves no tables behind', async () => {
    const { api, object } = home();
    assert.equal(await api.transact(moveValue.name, { from: 'org:made-up', to: 'keys:made-up', ttlSeconds: 60 }), null);
    assert.deepEqual(tables(object), []);
  });
});

describe('homeObject: reading through from the per-key layout', () => {
  const org = storeKey('org', 'acme');
  const keyIndex = storeKey('apiKeyIndex', 'acme');
  const orgRecord = { value: '{"name":"Acme"}', expiresAt: T0 + 86_400_000 };

  test('a legacy org record is read from its old object, and the old object is asked once', async () => {
    const { api, asked, keys } = home({ legacy: { [org]: orgRecord } });
    assert.equal(await api.get(org), orgRecord.value);
    assert.equal(await api.get(org), orgRecord.value);
    assert.deepEqual(asked, [org]);
    assert.deepEqual(keys(), [org]);
  });

  test('a delete after adopting stays deleted: the old object is not asked again', async () => {
    const { api, asked } = home({ legacy: { [org]: orgRecord } });
    assert.equal(await api.get(org), orgRecord.value);
    await api.delete(org);
    assert.equal(await api.get(org), null);
    assert.equal(await api.swap(org, null, 'new', 60), true);
    assert.deepEqual(asked, [org]);
  });

  test('a delete before any read stays deleted too, and asks nothing: it replaces the old entry', async () => {
    const { api, asked } = home({ legacy: { [org]: orgRecord } });
    await api.delete(org);
    assert.equal(await api.get(org), null);
    assert.deepEqual(asked, []);
  });

  test('an expired legacy entry is not adopted; a write settles the key', async () => {
    const { api, asked, keys } = home({ legacy: { [org]: { value: 'stale', expiresAt: T0 } } });
    assert.equal(await api.get(org), null);
    assert.equal(await api.swap(org, null, 'fresh', 60), true, 'the expired value was adopted');
    assert.equal(await api.get(org), 'fresh');
    assert.deepEqual(asked, [org], 'not asked again: it lacked the key');
    assert.deepEqual(keys(), [org]);
  });

  // An outsider can make up keys without end: what the old layout lacks is remembered in
  // memory, never stored, and asking costs a call, never a lock on the home.
  test('a key the old layout lacks is asked once, remembered in memory, and nothing is stored', async () => {
    const { api, asked, object } = home({ legacy: {} });
    assert.equal(await api.get(org), null);
    assert.deepEqual(object.query("SELECT name FROM sqlite_master WHERE type = 'table'"), []);
    assert.equal(await api.transact(moveValue.name, { from: org, to: keyIndex, ttlSeconds: 60 }), null);
    assert.equal(await api.get(org), null);
    assert.deepEqual(asked, [org]);
    assert.deepEqual(object.query("SELECT name FROM sqlite_master WHERE type = 'table'"), []);
  });

  // The setting turned on after the new layout already wrote a key: a later delete of it
  // must still stay deleted.
  test('a key this home wrote before the read-through was on stays deleted once it is on', async () => {
    const object = fakeDurableObject();
    opened.push(object);
    const before = homeObject(object.ctx, { procedures: TEST_PROCEDURES, now: () => T0 });
    await before.put(org, 'new', 60);
    const asked: string[] = [];
    const after = homeObject(object.ctx, {
      procedures: TEST_PROCEDURES,
      now: () => T0,
      legacy: (key) => ({
        legacyEntry: async () => {
          asked.push(key);
          return structuredClone(orgRecord);
        },
      }),
    });
    await after.delete(org);
    assert.equal(await after.get(org), null, 'the old record came back');
    assert.deepEqual(asked, []);
  });

  test('a kind the per-key layout never held (deviceCode) never asks it', async () => {
    const deviceCode = storeKey('deviceCode', 'abc');
    const { api, asked } = home({ legacy: { [deviceCode]: orgRecord } });
    assert.equal(await api.get(deviceCode), null);
    await api.put(deviceCode, 'new', 60);
    assert.equal(await api.consume(deviceCode), 'new');
    assert.deepEqual(asked, []);
  });

  // A CI token's check reads its `rvk:` key, which the old layout kept a token's life plus
  // a minute: two days after the home's first write, such a read stops asking.
  test('a short-lived kind (rvk:) is read through only within its horizon after the home began', async () => {
    const revoked = storeKey('revokedAccessToken', 'jti_1');
    const other = storeKey('revokedAccessToken', 'jti_2');
    const { api, asked, clock } = home({ legacy: {} });
    assert.equal(await api.get(revoked), null);
    await api.put(storeKey('revokedAccessToken', 'jti_3'), '1', 60); // the home's first write
    clock.now += 2 * 86_400_000 - 1;
    assert.equal(await api.get(other), null);
    clock.now += 1;
    assert.equal(await api.get(other), null);
    assert.equal(await api.get(org), null, 'a long-lived kind is still read through');
    assert.deepEqual(asked, [revoked, other, org]);
  });

  test('a procedure reading a legacy key adopts it first', async () => {
    const { api, asked } = home({ legacy: { [org]: orgRecord } });
    assert.equal(await api.transact(moveValue.name, { from: org, to: keyIndex, ttlSeconds: 60 }), orgRecord.value);
    assert.equal(await api.get(org), null);
    assert.equal(await api.get(keyIndex), orgRecord.value);
    assert.deepEqual(asked, [org]);
  });

  // A procedure's blind write (of a key it never read) replaces the old object's entry
  // without asking it, so it must settle the key: else, once the row is gone, the next
  // read would copy the old entry back in.
  test('a procedure writing a legacy key it never read: a later delete stays deleted', async () => {
    const { api, asked } = home({
      legacy: { [org]: orgRecord, [keyIndex]: { value: 'old index', expiresAt: orgRecord.expiresAt } },
    });
    assert.equal(await api.transact(moveValue.name, { from: org, to: keyIndex, ttlSeconds: 60 }), orgRecord.value);
    assert.equal(await api.get(keyIndex), orgRecord.value);
    await api.delete(keyIndex);
    assert.equal(await api.get(keyIndex), null, 'the old object’s entry came back');
    assert.deepEqual(asked, [org]);
  });

  test('an object of the per-key layout answers its entry while live, and its alarm drops it', async () => {
    const clock = { now: T0 };
    const object = fakeDurableObject({ slot: { entry: orgRecord } });
    opened.push(object);
    const old = homeObject(object.ctx, { procedures: {}, now: () => clock.now });
    assert.deepEqual(await old.legacyEntry(), orgRecord);
    clock.now = orgRecord.expiresAt;
    assert.equal(await old.legacyEntry(), null);
    await old.alarm();
    assert.equal(await object.ctx.storage.get('entry'), undefined);
  });
});
