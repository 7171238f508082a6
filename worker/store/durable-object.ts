/**
 * The logic of one home (worker/store/store.ts `homeOf`: a session, an org, a person, a
 * shard) as a Durable Object holds it: a SQLite table of keys with their expiry, one alarm
 * for the earliest expiry that sweeps the expiry index, and procedures run inside it.
 * Every operation reads and writes through the synchronous SQL API without awaiting in
 * between, so each is atomic with no lock; a procedure's writes apply in one SQLite
 * transaction. The Durable Object class lives in worker/entry/cloudflare.ts and only
 * delegates here, so this file runs anywhere.
 *
 * Migration from the per-key layout (one object per key, named by the key, holding one
 * `entry`): with `legacy` given, a read of a key this home has never held asks that key's
 * old object and copies a live entry in, for as long after the home's first write as the
 * old layout can still hold a key of its kind (`legacyDays` in `KEYSPACE`); a key copied or
 * written here is noted as settled, so the old object is not asked again and a later
 * delete here stays deleted.
 */
import { kindOf, type Procedure, type Store, StoreError } from './store.ts';
import { NotFetched, runProcedure, type Write } from './transaction.ts';

/** The slice of a Durable Object's `ctx` a home needs. */
export interface HomeContext {
  storage: {
    sql: { exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] } };
    transactionSync<T>(closure: () => T): T;
    get<T>(key: string): Promise<T | undefined>;
    delete(key: string): Promise<boolean>;
    deleteAll(): Promise<void>;
    getAlarm(): Promise<number | null>;
    setAlarm(scheduledTime: number): Promise<void>;
  };
}

/** An entry of the per-key layout, as its object stored it under `entry`. */
export type LegacyEntry = { value: string; expiresAt: number };

/**
 * What a stub of the Durable Object answers over Workers RPC: the Store's operations on
 * keys of this home, a procedure by name (worker/store-procedures.ts), and, asked of an
 * object of the per-key layout, its one entry if still live.
 */
export interface HomeApi extends Omit<Store, 'transact' | 'ping'> {
  transact(name: string, input: unknown): Promise<unknown>;
  legacyEntry(): Promise<LegacyEntry | null>;
}

export type Procedures = Record<string, Procedure<never, unknown>>;

const ALARM_GRANULARITY_MS = 60_000;
/** Keys the old layout was found to lack, remembered per object instance. */
const MAX_LACKING = 10_000;

const LEGACY_SLOT = 'entry';

export function homeObject(
  ctx: HomeContext,
  options: {
    procedures: Procedures;
    /** The per-key layout's object for a key, when migrating from it. */
    legacy?: ((key: string) => Pick<HomeApi, 'legacyEntry'>) | undefined;
    /** How long after the home's first write a key may still be in the old layout, where config decides it. */
    legacyHorizonMs?: (key: string) => number | undefined;
    now?: () => number;
  },
): HomeApi & { alarm(): Promise<void> } {
  const { storage } = ctx;
  const { sql } = storage;
  const now = options.now ?? Date.now;

  // The tables are made by the first write, so a request that only reads (a made-up token
  // naming a made-up session) leaves no object behind.
  const present = new Set(
    sql
      .exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('entries', 'meta')")
      .toArray()
      .map((t) => t.name),
  );
  let tables = present.has('entries');
  // When this home first wrote: never before the upgrade from the per-key layout, since
  // no home existed then, so the old layout's keys can be no younger than this.
  let since: number | null = null;
  if (tables && !present.has('meta')) {
    // A home made before the meta table existed dates itself from now: later, never earlier.
    // Only then is anything written here; otherwise starting an object only reads.
    sql.exec('CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)');
    sql.exec("INSERT INTO meta (name, value) VALUES ('created', ?)", now());
  }
  if (tables) since = Number(sql.exec("SELECT value FROM meta WHERE name = 'created'").toArray()[0]?.value ?? now());
  const makeTables = (): void => {
    if (tables) return;
    sql.exec(
      `CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL);
       CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (expires_at);
       CREATE TABLE IF NOT EXISTS legacy_checked (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
       CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
    );
    since = now();
    sql.exec("INSERT OR IGNORE INTO meta (name, value) VALUES ('created', ?)", since);
    tables = true;
  };

  const row = (key: string): { value: string; expiresAt: number } | null => {
    if (!tables) return null;
    const [found] = sql.exec('SELECT value, expires_at FROM entries WHERE key = ?', key).toArray();
    if (!found) return null;
    const expiresAt = Number(found.expires_at);
    // The alarm may run late; an expired entry is never served meanwhile.
    return expiresAt > now() ? { value: String(found.value), expiresAt } : null;
  };
  const read = (key: string): string | null => {
    if (unsettled(key)) throw new NotFetched(key);
    return row(key)?.value ?? null;
  };
  const expiry = (ttlSeconds: number): number => {
    if (!(ttlSeconds > 0)) throw new StoreError('ttl must be positive');
    return now() + Math.ceil(ttlSeconds * 1000);
  };

  // The earliest alarm this object has asked for (undefined: not yet read from storage).
  // Reads never serve an expired row, so the alarm only reclaims space and may run late:
  // it is rounded up to the minute, so a session refreshed every few seconds (each leaving
  // a 10 s grace record) sets it once a minute, not on every refresh.
  let alarmAt: number | null | undefined;
  const schedule = async (expiresAt: number): Promise<void> => {
    const at = Math.ceil(expiresAt / ALARM_GRANULARITY_MS) * ALARM_GRANULARITY_MS;
    if (alarmAt === undefined) alarmAt = await storage.getAlarm();
    if (alarmAt !== null && alarmAt <= at) return;
    alarmAt = at;
    await storage.setAlarm(at);
  };
  const apply = async (writes: Map<string, Write>): Promise<void> => {
    if (writes.size === 0) return;
    let earliest = Number.POSITIVE_INFINITY;
    makeTables();
    storage.transactionSync(() => {
      for (const [key, write] of writes) {
        // A write replaces whatever the old layout held: it must never resurface, even if
        // this home wrote the key before (before the setting was on, say).
        if (migrating(key)) settle(key);
        if (write === null) sql.exec('DELETE FROM entries WHERE key = ?', key);
        else {
          sql.exec('INSERT OR REPLACE INTO entries (key, value, expires_at) VALUES (?, ?, ?)', key, write.value, write.expiresAt);
          earliest = Math.min(earliest, write.expiresAt);
        }
      }
    });
    if (earliest < Number.POSITIVE_INFINITY) await schedule(earliest);
  };

  // Migration from the per-key layout. A key is settled once this home has written it or
  // copied it in; until then a read asks the key's old object. Keys the old layout lacks
  // are remembered in memory only (it gets no new writes, so that answer never changes,
  // and nothing an outsider makes up is stored).
  const { legacy } = options;
  const horizon = (key: string): number => options.legacyHorizonMs?.(key) ?? kindOf(key).legacyDays * 86_400_000;
  const migrating = (key: string): boolean => legacy !== undefined && now() - (since ?? now()) < horizon(key);
  const lacking = new Set<string>();
  const unsettled = (key: string): boolean =>
    migrating(key) &&
    !lacking.has(key) &&
    (!tables ||
      (sql.exec('SELECT 1 FROM legacy_checked WHERE key = ?', key).toArray().length === 0 &&
        sql.exec('SELECT 1 FROM entries WHERE key = ?', key).toArray().length === 0));
  const settle = (key: string): void => {
    sql.exec('INSERT OR REPLACE INTO legacy_checked (key, expires_at) VALUES (?, ?)', key, now() + horizon(key));
  };
  /**
   * Copies the key's live entry from its old object. Other requests may run meanwhile (no
   * lock across the call: a slow old object must not stall the home); what they settled
   * first wins, since the check and the copy after the call are one synchronous step.
   */
  const adopt = async (key: string): Promise<void> => {
    if (!legacy) return;
    const entry = await legacy(key).legacyEntry();
    if (!unsettled(key)) return;
    if (entry === null || entry.expiresAt <= now()) {
      if (lacking.size >= MAX_LACKING) lacking.delete(lacking.values().next().value as string);
      lacking.add(key);
      return;
    }
    makeTables();
    storage.transactionSync(() => {
      sql.exec('INSERT INTO entries (key, value, expires_at) VALUES (?, ?, ?)', key, entry.value, entry.expiresAt);
      settle(key);
    });
    await schedule(entry.expiresAt);
  };
  const ready = async (key: string): Promise<void> => {
    if (unsettled(key)) await adopt(key);
  };

  const transact = async (name: string, input: unknown): Promise<unknown> => {
    const procedure = options.procedures[name];
    if (!procedure) throw new StoreError(`no procedure named ${name}`);
    for (;;) {
      try {
        const { output, writes } = runProcedure(procedure as Procedure<unknown, unknown>, input, read, now());
        await apply(writes);
        return output;
      } catch (error) {
        if (!(error instanceof NotFetched)) throw error;
        await adopt(error.key);
      }
    }
  };

  return {
    async get(key) {
      await ready(key);
      return row(key)?.value ?? null;
    },
    // Blind writes ask nothing of the old layout: what they write replaces it (apply settles the key).
    async put(key, value, ttlSeconds) {
      await apply(new Map([[key, { value, expiresAt: expiry(ttlSeconds) }]]));
    },
    async delete(key) {
      await apply(new Map([[key, null]]));
    },
    async consume(key) {
      await ready(key);
      const found = row(key);
      if (found) await apply(new Map([[key, null]]));
      return found?.value ?? null;
    },
    async swap(key, expected, next, ttlSeconds) {
      await ready(key);
      if ((row(key)?.value ?? null) !== expected) return false;
      await apply(new Map([[key, next === null ? null : { value: next, expiresAt: expiry(ttlSeconds) }]]));
      return true;
    },
    async increment(key, ttlSeconds) {
      await ready(key);
      const found = row(key);
      const count = (found ? Number(found.value) : 0) + 1;
      // The window starts with the first increment; later ones keep its expiry.
      await apply(new Map([[key, { value: String(count), expiresAt: found?.expiresAt ?? expiry(ttlSeconds) }]]));
      return count;
    },
    transact,
    async legacyEntry() {
      const entry = await storage.get<LegacyEntry>(LEGACY_SLOT);
      return entry && entry.expiresAt > now() ? entry : null;
    },
    async alarm() {
      const at = now();
      // An object of the per-key layout keeps its one entry until its own expiry.
      const entry = await storage.get<LegacyEntry>(LEGACY_SLOT);
      if (entry && entry.expiresAt <= at) await storage.delete(LEGACY_SLOT);
      const next: number[] = entry && entry.expiresAt > at ? [entry.expiresAt] : [];
      if (tables) {
        sql.exec('DELETE FROM entries WHERE expires_at <= ?', at);
        sql.exec('DELETE FROM legacy_checked WHERE expires_at <= ?', at);
        const [earliest] = sql
          .exec(
            'SELECT MIN(expires_at) AS at FROM (SELECT expires_at FROM entries UNION ALL SELECT expires_at FROM legacy_checked)',
          )
          .toArray();
        if (typeof earliest?.at === 'number') next.push(earliest.at);
        else if (next.length === 0) {
          // Nothing left: the object's storage goes too, so an ended session or a used-up
          // shard keeps nothing on disk. The next write starts afresh.
          // Flags first: a write let in while this runs makes the tables again.
          tables = false;
          since = null;
          await storage.deleteAll();
        }
      }
      alarmAt = null; // this alarm has fired
      if (next.length > 0) await schedule(Math.min(...next));
    },
  };
}
