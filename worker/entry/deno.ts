/**
 * The Deno entry: `npm run start:deno`. Deno KV by default (a local SQLite file at
 * LATCHKEY_DENO_KV_PATH, or Deno's default location; on Deno Deploy, its managed KV),
 * Redis over Upstash's REST protocol with LATCHKEY_STORE=redis, or memory. The only file
 * that knows it runs on Deno.
 */
import { createApp } from '../app.ts';
import { ConfigError, checkConfiguredSigningKeys, parseConfig } from '../config.ts';
import { refuseOffLoopback } from '../identity/dev.ts';
import { type DenoKvHandle, denoKvStore } from '../store/deno-kv.ts';
import { memoryStore } from '../store/memory.ts';
import type { Store } from '../store/store.ts';
import { upstashStoreFromEnv } from '../store/upstash-redis.ts';

// The few Deno globals used here, declared so the project's tsc (Node types) checks this file.
declare const Deno: {
  env: { toObject(): Record<string, string> };
  openKv(path?: string): Promise<DenoKvHandle & { close(): void }>;
  serve(
    options: { port: number; hostname: string; onListen?: (address: { hostname: string; port: number }) => void },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; finished: Promise<void> };
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  exit(code: number): never;
};

async function chooseStore(env: Record<string, string>, kind: string): Promise<Store> {
  if (kind === 'deno-kv') return denoKvStore(await Deno.openKv(env.LATCHKEY_DENO_KV_PATH || undefined));
  if (kind === 'redis') return upstashStoreFromEnv(env);
  if (kind === 'memory') return memoryStore();
  throw new ConfigError(['LATCHKEY_STORE'], `LATCHKEY_STORE=${kind} is not available on Deno; use deno-kv, redis or memory`);
}

try {
  const env = Deno.env.toObject();
  const config = parseConfig(env);
  // Every key must sign before the server says it listens, not at the first request.
  await checkConfiguredSigningKeys(config);
  const store = await chooseStore(env, config.store ?? 'deno-kv');
  // Deno hands the peer address beside the request; the app asks for it by request.
  const addresses = new WeakMap<Request, string>();
  const app = createApp(config, { store, clientAddress: (request) => addresses.get(request) ?? null });
  const server = Deno.serve(
    {
      port: Number(env.PORT ?? (config.issuer.port || 8787)),
      hostname: env.HOST ?? '127.0.0.1',
      onListen: ({ hostname, port }) =>
        console.log(
          `latchkey listening on http://${hostname}:${port} (issuer ${config.base}, store ${config.store ?? 'deno-kv'})`,
        ),
    },
    (request, info) => {
      addresses.set(request, info.remoteAddr.hostname);
      return refuseOffLoopback(config, request, info.remoteAddr.hostname) ?? app.fetch(request);
    },
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    Deno.addSignalListener(signal, () => server.shutdown().then(() => Deno.exit(0)));
  }
} catch (error) {
  console.error(`latchkey: ${error instanceof ConfigError ? error.message : `start-up failed: ${error}`}`);
  Deno.exit(1);
}
