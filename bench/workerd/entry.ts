/**
 * Bench only, never deployed: the production Worker (worker/entry/cloudflare.ts, bundled
 * by wrangler as for `wrangler deploy`) with two baseline routes beside it in the same
 * workerd, and a count of what reaches the store bindings.
 *
 * - `GET /__bench/store-read`: one read of a stored record through the same store
 *   adapter, and nothing else: the floor for any store-backed check.
 * - `GET /__bench/jose-verify`: jose's `jwtVerify` of the Bearer JWT against the server's
 *   published keys, and nothing else: the floor for a JWT check.
 * - `GET /__bench/counts`: store reads and writes since start-up.
 */
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import latchkey, { AtomicStore } from '../../worker/entry/cloudflare.ts';
import { type AtomicBinding, cloudflareStore, type KvBinding } from '../../worker/store/cloudflare-kv.ts';
import { storeKey } from '../../worker/store/store.ts';

export { AtomicStore };

type Env = Record<string, unknown> & { LATCHKEY_KV: KvBinding; LATCHKEY_ATOMIC: AtomicBinding; LATCHKEY_ISSUER: string };

const counts = { reads: 0, writes: 0 };
const READS = new Set(['get', 'consume']);

/** The bindings as the Worker sees them, with every store call counted on its way through. */
function counted(env: Env): Env {
  const atomic = env.LATCHKEY_ATOMIC;
  const kv = env.LATCHKEY_KV;
  const count = (name: string) => {
    if (READS.has(name)) counts.reads++;
    else counts.writes++;
  };
  const countingAtomic: AtomicBinding = {
    idFromName: (name) => atomic.idFromName(name),
    get: (id) => {
      const stub = atomic.get(id);
      return new Proxy(stub, {
        get(target, property) {
          const value = Reflect.get(target, property);
          if (typeof property !== 'string' || typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            count(property);
            // Not value.apply(): on an RPC stub, `apply` would be a remote method's name.
            return Reflect.apply(value, target, args);
          };
        },
      });
    },
  };
  const countingKv: KvBinding = {
    get: (key) => (count('get'), kv.get(key)),
    put: (key, value, options) => (count('put'), kv.put(key, value, options)),
    delete: (key) => (count('delete'), kv.delete(key)),
  };
  return { ...env, LATCHKEY_ATOMIC: countingAtomic, LATCHKEY_KV: countingKv };
}

let wrapped: Env | undefined;
let jwks: ReturnType<typeof createLocalJWKSet> | undefined;
const BASELINE_KEY = storeKey('apiKey', 'bench-baseline-record');

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    wrapped ??= counted(env);
    const url = new URL(request.url);
    if (!url.pathname.startsWith('/__bench/')) return latchkey.fetch(request, wrapped, ctx);

    const store = cloudflareStore({ kv: wrapped.LATCHKEY_KV, atomic: wrapped.LATCHKEY_ATOMIC });
    switch (url.pathname) {
      case '/__bench/seed': {
        // A record the size of an API key's, for the baseline to read.
        await store.put(BASELINE_KEY, JSON.stringify({ id: 'key_bench', padding: 'x'.repeat(240) }), 3600);
        const keys = (await (
          await latchkey.fetch(new Request(new URL('/.well-known/jwks.json', url)), wrapped, ctx)
        ).json()) as JSONWebKeySet;
        jwks = createLocalJWKSet(keys);
        return Response.json({ seeded: true });
      }
      case '/__bench/store-read': {
        const value = await store.get(BASELINE_KEY);
        return value === null ? new Response('not seeded', { status: 500 }) : Response.json({ found: true });
      }
      case '/__bench/jose-verify': {
        if (!jwks) return new Response('not seeded', { status: 500 });
        const token = (request.headers.get('authorization') ?? '').replace(/^Bearer /, '');
        const { payload } = await jwtVerify(token, jwks, { issuer: env.LATCHKEY_ISSUER, audience: env.LATCHKEY_ISSUER });
        return Response.json({ sub: payload.sub });
      }
      case '/__bench/counts':
        return Response.json(counts);
      default:
        return new Response('no such bench route', { status: 404 });
    }
  },
};
