/**
 * Redis over Upstash's REST protocol (@upstash/redis), usable from every runtime. TTLs
 * are Redis's own; consume is GETDEL; windowed counters and commits are Lua scripts, so
 * each is one atomic step inside Redis; reads issued together share one pipelined request.
 * A procedure (`transact`) is optimistic: MGET what it reads, run it here, then the commit
 * script checks that every value read is unchanged and applies the writes, or changes
 * nothing; a swap is that script with one key.
 */
import { Redis } from '@upstash/redis';
import { ConfigError } from '../config.ts';
import { bounded as run, STORE_TIMEOUT_MS, type Store, ttlMilliseconds as ttlMs } from './store.ts';
import { optimisticProcedure, type Write } from './transaction.ts';

// The window starts with the first increment; later ones do not extend it.
const INCREMENT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`;

// KEYS: the keys read, then the keys written. ARGV[1]: how many were read; then per key
// read, a present flag and the value read (absent is its own case, not ''); then per key
// written, a set flag, the value and its TTL in ms. A value read is its own version.
const COMMIT = `
local reads = tonumber(ARGV[1])
for i = 1, reads do
  local current = redis.call('GET', KEYS[i])
  if ARGV[2 * i] == '1' then
    if current ~= ARGV[2 * i + 1] then return 0 end
  elseif current then
    return 0
  end
end
local at = 2 * reads + 2
for i = reads + 1, #KEYS do
  if ARGV[at] == '1' then
    redis.call('SET', KEYS[i], ARGV[at + 1], 'PX', ARGV[at + 2])
  else
    redis.call('DEL', KEYS[i])
  end
  at = at + 3
end
return 1`;

export function upstashStore(options: { url: string; token: string }): Store {
  const redis = new Redis({
    url: options.url,
    token: options.token,
    automaticDeserialization: false, // values are our JSON strings, returned as they were stored
    enableTelemetry: false,
    retry: { retries: 0 }, // the caller gets a prompt 503 and retries; no hidden waits
    // Commands issued in the same tick go out as one /pipeline request: a Bearer check's
    // two revocation reads cost one round trip, not two.
    enableAutoPipelining: true,
  });
  const incrementScript = redis.createScript<number>(INCREMENT);
  const commitScript = redis.createScript<number>(COMMIT);

  const commit = async (checks: Map<string, string | null>, writes: Map<string, Write>): Promise<boolean> => {
    // One key read and nothing written: the MGET that read it was the atomic step.
    if (writes.size === 0 && checks.size <= 1) return true;
    const args = [String(checks.size)];
    for (const value of checks.values()) args.push(value === null ? '0' : '1', value ?? '');
    for (const write of writes.values()) {
      // A TTL from now rather than PXAT: Redis's clock need not agree with ours.
      if (write) args.push('1', write.value, String(Math.max(1, write.expiresAt - Date.now())));
      else args.push('0', '', '0');
    }
    return Number(await commitScript.exec([...checks.keys(), ...writes.keys()], args)) === 1;
  };

  return {
    get: (key) => run('get', () => redis.get<string>(key)),
    put: (key, value, ttlSeconds) =>
      run('put', async () => {
        await redis.set(key, value, { px: ttlMs(ttlSeconds) });
      }),
    delete: (key) =>
      run('delete', async () => {
        await redis.del(key);
      }),
    consume: (key) => run('consume', () => redis.getdel<string>(key)),
    // A swap is the one-key case of a procedure's commit: check the value read, write.
    swap: (key, expected, next, ttlSeconds) =>
      run('swap', () =>
        commit(
          new Map([[key, expected]]),
          new Map([[key, next === null ? null : { value: next, expiresAt: Date.now() + ttlMs(ttlSeconds) }]]),
        ),
      ),
    increment: (key, ttlSeconds) =>
      run('increment', async () => Number(await incrementScript.exec([key], [String(ttlMs(ttlSeconds))]))),
    transact: (procedure, input) =>
      run('transact', () =>
        optimisticProcedure(procedure, input, {
          now: Date.now,
          fetch: async (keys) => {
            const values = await redis.mget<(string | null)[]>(...keys);
            return new Map(keys.map((key, i) => [key, { value: values[i] ?? null, version: values[i] ?? null }]));
          },
          commit,
          deadline: Date.now() + STORE_TIMEOUT_MS,
        }),
      ),
    ping: () =>
      run('ping', async () => {
        await redis.ping();
      }),
  };
}

/** The Redis store from UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, for any entry. */
export function upstashStoreFromEnv(env: Record<string, unknown>): Store {
  const url = env.UPSTASH_REDIS_REST_URL;
  const token = env.UPSTASH_REDIS_REST_TOKEN;
  if (typeof url !== 'string' || !url || typeof token !== 'string' || !token) {
    throw new ConfigError(
      ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN'],
      'LATCHKEY_STORE=redis needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN',
    );
  }
  return upstashStore({ url, token });
}
