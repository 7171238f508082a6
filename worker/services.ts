/**
 * What every route needs, resolved once per isolate: the configuration, the store, the
 * clock, and the token materials (hash secret and signing keys), which in dev are
 * generated on first use and kept in the store so every isolate agrees on them.
 */
import type { KeyRecord } from './accounts/api-keys.ts';
import { type IsolateCache, isolateCache } from './accounts/isolate-cache.ts';
import type { Family } from './accounts/sessions.ts';
import type { Config } from './config.ts';
import type { Versioned } from './store/records.ts';
import { type Store, storeKey } from './store/store.ts';
import { base64url, createHasher, randomBytes, type SecretHasher } from './tokens/opaque.ts';
import { buildKeySet, generateSigningKey, type KeySet, parseSigningKeys } from './tokens/signing-keys.ts';

export type Deps = {
  store: Store;
  /** Milliseconds since the epoch; tests pass a fixed or stepping clock. */
  now?: () => number;
  /** The client's address as the runtime knows it (CF-Connecting-IP, socket address). */
  clientAddress?: (request: Request) => string | null;
  /** Outbound HTTP (upstream identity providers); tests may route it. */
  fetch?: typeof fetch;
};

export type Services = {
  config: Config;
  store: Store;
  now: () => number;
  clientAddress: (request: Request) => string | null;
  fetch: typeof fetch;
  hasher: SecretHasher;
  keys: KeySet;
  /** Session records this isolate read lately (LATCHKEY_SESSION_CACHE, 1 s by default). */
  sessions: IsolateCache<Family | null>;
  /** API-key records this isolate read lately, by store key, under the same bound. */
  apiKeys: IsolateCache<Versioned<KeyRecord> | null>;
};

/** Generated dev material outlives any test run but not forever. */
const GENERATED_TTL_SECONDS = 365 * 86400;

export function servicesLoader(config: Config, deps: Deps): () => Promise<Services> {
  let pending: Promise<Services> | undefined;
  return () => {
    pending ??= resolveServices(config, deps).catch((error) => {
      pending = undefined; // a store that was briefly down must not poison the isolate
      throw error;
    });
    return pending;
  };
}

async function resolveServices(config: Config, deps: Deps): Promise<Services> {
  const { store } = deps;
  const [hashSecret, signingKeys] = await Promise.all([
    config.hashSecret ?? generatedOnce(store, 'hash-secret', async () => base64url(randomBytes(32))),
    config.signingKeys ?? generatedOnce(store, 'signing-keys', async () => JSON.stringify([await generateSigningKey()])),
  ]);
  const now = deps.now ?? Date.now;
  return {
    config,
    store,
    now,
    clientAddress: deps.clientAddress ?? (() => null),
    fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
    hasher: await createHasher(hashSecret),
    keys: await buildKeySet(parseSigningKeys(signingKeys)),
    // Ages on a monotonic clock, as the revocation's wait does: a wall clock stepped back
    // by NTP would otherwise stretch a copy's trust past the bound.
    sessions: isolateCache(config.sessionCacheMs, () => performance.now()),
    apiKeys: isolateCache(config.sessionCacheMs, () => performance.now()),
  };
}

/** Create-if-absent: of isolates racing on first start, the first write wins for all. */
async function generatedOnce(store: Store, name: string, make: () => Promise<string>): Promise<string> {
  const key = storeKey('generated', name);
  const existing = await store.get(key);
  if (existing !== null) return existing;
  const fresh = await make();
  if (await store.swap(key, null, fresh, GENERATED_TTL_SECONDS)) return fresh;
  const winner = await store.get(key);
  if (winner === null) throw new Error(`generated ${name} vanished`);
  return winner;
}
