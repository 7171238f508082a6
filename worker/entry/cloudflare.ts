/**
 * The Cloudflare Workers entry: bindings in, app out. The only file that knows it runs on
 * workerd, together with the Durable Object class that holds each home's atomic records.
 */
import { DurableObject } from 'cloudflare:workers';
import { durationSeconds } from '../../shared/duration.ts';
import { OAuthError } from '../../shared/errors.ts';
import { createApp } from '../app.ts';
import { type Config, ConfigError, checkConfiguredSigningKeys, parseConfig } from '../config.ts';
import { refuseOffLoopback } from '../identity/dev.ts';
import { type AtomicBinding, cloudflareStore, type KvBinding } from '../store/cloudflare-kv.ts';
import { type HomeApi, homeObject, type Procedures } from '../store/durable-object.ts';
import { KEYSPACE } from '../store/store.ts';
import { upstashStoreFromEnv } from '../store/upstash-redis.ts';
import { PROCEDURES } from '../store-procedures.ts';

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

/**
 * One instance per home (`homeOf`: a session, an org, a person, a shard); it serialises
 * nothing itself: each operation is synchronous SQL inside it (worker/store/durable-object.ts).
 */
/**
 * The old layout kept a revoked access token's record for its remaining life plus a
 * minute: two days, or the longest token life this deployment configures, bounds it.
 */
function revokedTokenHorizonMs(env: Env): number {
  const lives = ['LATCHKEY_ACCESS_TOKEN_TTL', 'LATCHKEY_CI_TOKEN_TTL'].map((name) =>
    typeof env[name] === 'string' ? (durationSeconds(env[name]) ?? 0) : 0,
  );
  return Math.max(2 * 86_400_000, (Math.max(...lives) + 60) * 1000);
}

export class AtomicStore extends DurableObject<Env> implements HomeApi {
  #home: ReturnType<typeof homeObject> | undefined;
  /** What this object may be asked to run; the store tests' Worker adds its own. */
  protected procedures(): Procedures {
    return PROCEDURES;
  }
  private get home() {
    this.#home ??= homeObject(this.ctx, {
      procedures: this.procedures(),
      // Not parseConfig: an object needs this one setting, and a Worker with a bad value
      // refuses every request before it reaches an object anyway.
      legacy:
        this.env.LATCHKEY_MIGRATE_FROM === 'per-key'
          ? (key) => this.env.LATCHKEY_ATOMIC.get(this.env.LATCHKEY_ATOMIC.idFromName(key) as never)
          : undefined,
      legacyHorizonMs: (key) =>
        key.startsWith(KEYSPACE.revokedAccessToken.prefix) ? revokedTokenHorizonMs(this.env) : undefined,
    });
    return this.#home;
  }
  get(key: string) {
    return this.home.get(key);
  }
  put(key: string, value: string, ttlSeconds: number) {
    return this.home.put(key, value, ttlSeconds);
  }
  delete(key: string) {
    return this.home.delete(key);
  }
  consume(key: string) {
    return this.home.consume(key);
  }
  swap(key: string, expected: string | null, next: string | null, ttlSeconds: number) {
    return this.home.swap(key, expected, next, ttlSeconds);
  }
  increment(key: string, ttlSeconds: number) {
    return this.home.increment(key, ttlSeconds);
  }
  transact(name: string, input: unknown) {
    return this.home.transact(name, input);
  }
  legacyEntry() {
    return this.home.legacyEntry();
  }
  override alarm() {
    return this.home.alarm();
  }
}
