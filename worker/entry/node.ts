/**
 * The Node entry: `node worker/entry/node.ts` (Node 24 runs the TypeScript as it is).
 * Memory store by default — one process, state gone on restart — or Redis over Upstash's
 * REST protocol when LATCHKEY_STORE=redis. The only file that knows it runs on Node.
 */
import { type Http2Bindings, type HttpBindings, serve } from '@hono/node-server';
import { createApp } from '../app.ts';
import { ConfigError, checkConfiguredSigningKeys, parseConfig } from '../config.ts';
import { refuseOffLoopback } from '../identity/dev.ts';
import { memoryStore } from '../store/memory.ts';
import type { Store } from '../store/store.ts';
import { upstashStoreFromEnv } from '../store/upstash-redis.ts';

function chooseStore(env: NodeJS.ProcessEnv, kind: string): Store {
  if (kind === 'memory') return memoryStore();
  if (kind === 'redis') {
    return upstashStoreFromEnv(env);
  }
  throw new ConfigError(['LATCHKEY_STORE'], `LATCHKEY_STORE=${kind} is not available on Node; use memory or redis`);
}

try {
  const config = parseConfig(process.env);
  // Every key must sign before the server says it listens, not at the first request.
  await checkConfiguredSigningKeys(config);
  const store = chooseStore(process.env, config.store ?? 'memory');
  // The socket's address, looked up by request; Node's Request carries none of its own.
  const addresses = new WeakMap<Request, string>();
  const app = createApp(config, { store, clientAddress: (request) => addresses.get(request) ?? null });
  const port = Number(process.env.PORT ?? (config.issuer.port || 8787));
  const hostname = process.env.HOST ?? '127.0.0.1';
  const server = serve(
    {
      fetch: (request: Request, env: HttpBindings | Http2Bindings) => {
        const address = env.incoming.socket?.remoteAddress;
        if (address) addresses.set(request, address.replace(/^::ffff:/, ''));
        return refuseOffLoopback(config, request, address ?? null) ?? app.fetch(request, env);
      },
      port,
      hostname,
    },
    (info) =>
      console.log(
        `latchkey listening on http://${info.address}:${info.port} (issuer ${config.base}, store ${config.store ?? 'memory'})`,
      ),
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => server.close(() => process.exit(0)));
} catch (error) {
  console.error(`latchkey: ${error instanceof ConfigError ? error.message : `start-up failed: ${error}`}`);
  process.exit(1);
}
