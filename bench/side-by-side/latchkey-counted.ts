/**
 * Bench only: latchkey's production bundle (wrangler's output for wrangler.toml, loaded
 * as its own module, byte for byte) behind a wrapper that counts what reaches its
 * bindings. The import below names the source for the type checker; the bench bundles
 * this file with that import pointing at the production bundle instead.
 *
 * - `GET /__bench/counts`: KV calls, Durable Object calls and objects addressed since
 *   start-up, and the objects addressed since the last `POST /__bench/window`.
 * - `BENCH_DO_DELAY_MS` (a binding, default 0): the latency model's delay in front of
 *   every Durable Object stub call (see counting.ts).
 */
import latchkey, { AtomicStore } from '../../worker/entry/cloudflare.ts';
import { type Counts, countingKv, countingNamespace, countsJson, newCounts, startWindow } from './counting.ts';

export { AtomicStore };

type Env = Record<string, unknown> & {
  LATCHKEY_KV: KVNamespace;
  LATCHKEY_ATOMIC: DurableObjectNamespace;
  BENCH_DO_DELAY_MS?: string;
};

const counts: Counts = newCounts();
let wrapped: Env | undefined;

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> | Response {
    wrapped ??= {
      ...env,
      LATCHKEY_KV: countingKv(env.LATCHKEY_KV, counts),
      LATCHKEY_ATOMIC: countingNamespace(env.LATCHKEY_ATOMIC, counts, Number(env.BENCH_DO_DELAY_MS ?? 0)),
    };
    const { pathname } = new URL(request.url);
    if (pathname === '/__bench/counts') return Response.json(countsJson(counts));
    if (pathname === '/__bench/window' && request.method === 'POST') {
      startWindow(counts);
      return new Response(null, { status: 204 });
    }
    return latchkey.fetch(request, wrapped as never, ctx);
  },
};
