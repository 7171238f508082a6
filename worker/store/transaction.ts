/**
 * How every adapter runs a `Procedure`: over a read function it supplies, with writes kept
 * aside until the procedure returns, so a procedure that throws (or is rerun after a
 * conflict) has written nothing. The adapter then applies `writes` in one atomic step of
 * its own (a synchronous loop, a Durable Object's SQLite transaction, a Redis script, a
 * Deno KV atomic commit).
 */
import { homeOf, type Procedure, StoreError, type Transaction, ttlMilliseconds } from './store.ts';

/** A write a procedure asked for: a value with its expiry (ms since the epoch), or a delete (null). */
export type Write = { value: string; expiresAt: number } | null;

export type Ran<O> = { output: O; reads: Set<string>; writes: Map<string, Write> };

/**
 * Runs `procedure` once. `read` answers a key's current value (null: absent or expired);
 * it may throw to stop the run (the optimistic adapters do, for a key they have not fetched).
 */
export function runProcedure<I, O>(
  procedure: Procedure<I, O>,
  input: I,
  read: (key: string) => string | null,
  now: number,
): Ran<O> {
  const home = homeOf(procedure.home(input));
  const reads = new Set<string>();
  const writes = new Map<string, Write>();
  const mine = (key: string): string => {
    // Held everywhere, not only where it matters (Cloudflare), so a procedure that strays
    // fails its first test on any store.
    if (homeOf(key) !== home) throw new StoreError(`procedure ${procedure.name} reached outside its home`);
    return key;
  };
  const tx: Transaction = {
    get(key) {
      const written = writes.get(mine(key));
      if (written !== undefined) return written?.value ?? null;
      reads.add(key);
      return read(key);
    },
    put(key, value, ttlSeconds) {
      writes.set(mine(key), { value, expiresAt: now + ttlMilliseconds(ttlSeconds) });
    },
    delete(key) {
      writes.set(mine(key), null);
    },
  };
  return { output: procedure.run(tx, input), reads, writes };
}

/** Thrown by an optimistic adapter's `read` for a key it has not fetched yet. */
export class NotFetched extends Error {
  readonly key: string;
  constructor(key: string) {
    super('not fetched');
    this.key = key;
  }
}

/**
 * Runs of one procedure before giving up. Each conflict means another caller committed, so
 * of N callers on one key the last may lose N - 1 times (Redis's auto-pipelining lines
 * them up that way); enough for dozens, as deno-kv.ts allows for its own operations.
 */
const MAX_ATTEMPTS = 200;

/**
 * For stores with optimistic concurrency (Redis, Deno KV): fetch what the procedure reads,
 * run it over that snapshot, and commit only if nothing it read has changed; rerun on a
 * conflict. `fetch` returns each key's value and whatever `commit` needs to check it.
 */
export async function optimisticProcedure<I, O, V>(
  procedure: Procedure<I, O>,
  input: I,
  io: {
    now: () => number;
    fetch(keys: string[]): Promise<Map<string, { value: string | null; version: V }>>;
    commit(checks: Map<string, V>, writes: Map<string, Write>): Promise<boolean>;
    /**
     * When the caller stops waiting (Date.now(), as `bounded` times it). A caller told 503
     * retries; a commit landing after that, with the input's old timestamps, would take
     * the retry for a replay (a refresh token spent outside its grace window). No fetch or
     * commit starts past it.
     */
    deadline?: number;
  },
): Promise<O> {
  const inTime = () => {
    if (io.deadline !== undefined && Date.now() >= io.deadline) {
      throw new StoreError(`procedure ${procedure.name} ran out of time`);
    }
  };
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const snapshot = new Map<string, { value: string | null; version: V }>();
    let wanted = [procedure.home(input)];
    for (;;) {
      inTime();
      for (const [key, entry] of await io.fetch(wanted)) snapshot.set(key, entry);
      try {
        const ran = runProcedure(
          procedure,
          input,
          (key) => {
            const entry = snapshot.get(key);
            if (!entry) throw new NotFetched(key);
            return entry.value;
          },
          io.now(),
        );
        const checks = new Map<string, V>();
        for (const key of ran.reads) checks.set(key, (snapshot.get(key) as { version: V }).version);
        // Committed even with no writes: reads fetched in rounds are consistent only if checked.
        inTime();
        if (await io.commit(checks, ran.writes)) return ran.output;
        break; // something it read changed: run again from fresh reads
      } catch (error) {
        if (!(error instanceof NotFetched)) throw error;
        wanted = [error.key];
      }
    }
  }
  throw new StoreError(`procedure ${procedure.name} kept conflicting`);
}
