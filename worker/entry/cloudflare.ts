/**
 * The Cloudflare Workers entry: bindings in, app out. The only file that knows it runs on
 * workerd, together with the Durable Object class that holds atomic records.
 */
import { DurableObject } from 'cloudflare:workers';
import { OAuthError } from '../../shared/errors.ts';
import { createApp } from '../app.ts';
import { type Config, ConfigError, checkConfiguredSigningKeys, parseConfig } from '../config.ts';
import { refuseOffLoopback } from '../identity/dev.ts';
import { type AtomicBinding, cloudflareStore, type KvBinding } from '../store/cloudflare-kv.ts';
import { type AtomicRecordApi, atomicRecord } from '../store/durable-object.ts';
import { upstashStoreFromEnv } from '../store/upstash-redis.ts';

type Env = Record<string, unknown> & { LATCHKEY_KV: KvBinding; LATCHKEY_ATOMIC: AtomicBinding };

let app: ReturnType<typeof createApp> | undefined;
let config: Config | undefined;

/** Workers have no start-up of their own: this runs at an isolate's first request. */
async function build(env: Env): Promise<ReturnType<typeof createApp>> {
  config = parseConfig(env);
  await checkConfiguredSigningKeys(config);
  const clientAddress = (request: Request) => request.headers.get('cf-connecting-ip');
  if (config.store === 'redis') return createApp(config, { store: upstashStoreFromEnv(env), clientAddress });
  if (config.store && config.store !== 'kv') {
    throw new ConfigError(['LATCHKEY_STORE'], `LATCHKEY_STORE=${config.store} is not available on Cloudflare; use kv or redis`);
  }
  if (!env.LATCHKEY_KV || !env.LATCHKEY_ATOMIC) {
    throw new ConfigError(
      ['LATCHKEY_KV', 'LATCHKEY_ATOMIC'],
      'LATCHKEY_KV and LATCHKEY_ATOMIC bindings are required (see wrangler.toml)',
    );
  }
  return createApp(config, {
    store: cloudflareStore({ kv: env.LATCHKEY_KV, atomic: env.LATCHKEY_ATOMIC }),
    clientAddress,
  });
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    try {
      app ??= await build(env);
    } catch (error) {
      // Start-up failed: say which setting, never its value, and keep failing until fixed.
      const message = error instanceof ConfigError ? error.message : 'start-up failed';
      console.error(`latchkey: ${message}`);
      const body = new OAuthError('server_error', message).toJSON();
      return Response.json(body, { status: 500, headers: { 'Cache-Control': 'no-store' } });
    }
    // A dev configuration deployed by mistake still answers no one off loopback; the
    // peer is Cloudflare's CF-Connecting-IP, which a public request always carries.
    const refused = config && refuseOffLoopback(config, request, request.headers.get('cf-connecting-ip'));
    return refused || app.fetch(request, env, ctx);
  },
};

/** One instance per atomic key; its input gate serialises every operation on that key. */
export class AtomicStore extends DurableObject implements AtomicRecordApi {
  private readonly record = atomicRecord(this.ctx.storage);
  get() {
    return this.record.get();
  }
  put(value: string, ttlSeconds: number) {
    return this.record.put(value, ttlSeconds);
  }
  delete() {
    return this.record.delete();
  }
  consume() {
    return this.record.consume();
  }
  swap(expected: string | null, next: string | null, ttlSeconds: number) {
    return this.record.swap(expected, next, ttlSeconds);
  }
  increment(ttlSeconds: number) {
    return this.record.increment(ttlSeconds);
  }
  override alarm() {
    return this.record.alarm();
  }
}
