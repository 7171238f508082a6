/**
 * Redis over Upstash's REST protocol (@upstash/redis), usable from every runtime. TTLs
 * are Redis's own; consume is GETDEL; swap and windowed counters are Lua scripts, so each
 * is one atomic step inside Redis.
 */
import { Redis } from '@upstash/redis';
import { type Store, StoreError } from './store.ts';

/** A store that does not answer within this is treated as down (503, never a hang). */
const STORE_TIMEOUT_MS = 2000;

// KEYS[1]; ARGV: expect-present flag, expected value, write flag, next value, ttl ms.
const SWAP = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
else
  redis.call('DEL', KEYS[1])
end
return 1`;

// The window starts with the first increment; later ones do not extend it.
const INCREMENT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`;

export function upstashStore(options: { url: string; token: string }): Store {
  const redis = new Redis({
    url: options.url,
    token: options.token,
    automaticDeserialization: false, // values are our JSON strings, returned as they were stored
    enableTelemetry: false,
    retry: { retries: 0 }, // the caller gets a prompt 503 and retries; no hidden waits
  });
  const swapScript = redis.createScript<number>(SWAP);
  const incrementScript = redis.createScript<number>(INCREMENT);

  const run = async <T>(what: string, operation: () => Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        operation(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new StoreError(`store ${what} timed out`)), STORE_TIMEOUT_MS);
        }),
      ]);
    } catch (cause) {
      if (cause instanceof StoreError) throw cause;
      throw new StoreError(`store ${what} failed`, { cause });
    } finally {
      clearTimeout(timer);
    }
  };
  const ttlMs = (ttlSeconds: number) => {
    if (!(ttlSeconds > 0)) throw new StoreError('ttl must be positive');
    return Math.ceil(ttlSeconds * 1000);
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
    swap: (key, expected, next, ttlSeconds) =>
      run('swap', async () => {
        const args = [
          expected === null ? '0' : '1',
          expected ?? '',
          next === null ? '0' : '1',
          next ?? '',
          String(next === null ? 1 : ttlMs(ttlSeconds)),
        ];
        return Number(await swapScript.exec([key], args)) === 1;
      }),
    increment: (key, ttlSeconds) =>
      run('increment', async () => Number(await incrementScript.exec([key], [String(ttlMs(ttlSeconds))]))),
    ping: () =>
      run('ping', async () => {
        await redis.ping();
      }),
  };
}
