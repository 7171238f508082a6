/**
 * The one contract every state backend fills in. Values are strings (callers keep JSON in
 * them); every write carries a TTL in seconds, so nothing lives forever by accident.
 *
 * Keys are built only through `storeKey` below, so each adapter can tell from the prefix
 * whether a key needs strong consistency (see `KEYSPACE` and worker/store/README.md).
 */
export interface Store {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Reads and deletes in one step: of concurrent callers exactly one gets the value. */
  consume(key: string): Promise<string | null>;
  /**
   * Replaces `expected` (null: the key is absent) with `next` (null: delete) in one step.
   * Returns false, changing nothing, when the stored value is not `expected`.
   */
  swap(key: string, expected: string | null, next: string | null, ttlSeconds: number): Promise<boolean>;
  /** Adds one and returns the new count; the first increment starts a window of `ttlSeconds`. */
  increment(key: string, ttlSeconds: number): Promise<number>;
  /** Resolves when the backend answers; used by /healthz. */
  ping(): Promise<void>;
}

/**
 * Every key prefix in use. `atomic` keys are consumed, swapped or counted and must be
 * strongly consistent; `plain` keys are read-mostly and may live in an eventually
 * consistent replica (Cloudflare KV).
 */
export const KEYSPACE = {
  deviceCode: { prefix: 'dc:', placement: 'atomic' },
  userCode: { prefix: 'uc:', placement: 'atomic' },
  authorizationRequest: { prefix: 'ar:', placement: 'atomic' },
  authorizationCode: { prefix: 'ac:', placement: 'atomic' },
  upstreamSignIn: { prefix: 'up:', placement: 'atomic' },
  refreshToken: { prefix: 'rt:', placement: 'atomic' },
  rotationGrace: { prefix: 'rg:', placement: 'atomic' },
  family: { prefix: 'fam:', placement: 'atomic' },
  revokedAccessToken: { prefix: 'rvk:', placement: 'atomic' },
  webSession: { prefix: 'ws:', placement: 'atomic' },
  rateLimit: { prefix: 'rl:', placement: 'atomic' },
  identity: { prefix: 'idn:', placement: 'atomic' },
  generated: { prefix: 'gen:', placement: 'atomic' },
  ciTokenId: { prefix: 'cij:', placement: 'atomic' },
  org: { prefix: 'org:', placement: 'atomic' },
  apiKey: { prefix: 'key:', placement: 'atomic' },
  apiKeyIndex: { prefix: 'keys:', placement: 'atomic' },
  memberOrgs: { prefix: 'mo:', placement: 'atomic' },
  invitations: { prefix: 'inv:', placement: 'atomic' },
  invitationIndex: { prefix: 'invx:', placement: 'atomic' },
  sessionIndex: { prefix: 'sx:', placement: 'atomic' },
  orgSessionIndex: { prefix: 'osx:', placement: 'atomic' },
  auditEntry: { prefix: 'aud:', placement: 'atomic' },
  auditHead: { prefix: 'audh:', placement: 'atomic' },
  trustPolicies: { prefix: 'tp:', placement: 'atomic' },
  user: { prefix: 'usr:', placement: 'plain' },
  health: { prefix: 'hc:', placement: 'plain' },
} as const;

export type KeyKind = keyof typeof KEYSPACE;

export function storeKey(kind: KeyKind, id: string): string {
  return KEYSPACE[kind].prefix + id;
}

export function placementOf(key: string): 'atomic' | 'plain' {
  for (const { prefix, placement } of Object.values(KEYSPACE)) {
    if (key.startsWith(prefix)) return placement;
  }
  throw new StoreError(`unknown key prefix in "${key.slice(0, 8)}…"`);
}

/** The store did not answer, or answered with something unusable. Rendered as 503. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
}

/** A store that does not answer within this is treated as down (503, never a hang). */
export const STORE_TIMEOUT_MS = 2000;

/**
 * Runs one store operation under `STORE_TIMEOUT_MS`; whatever goes wrong comes out as a
 * StoreError naming the operation (never the key or value), so the app answers 503.
 */
export async function bounded<T>(what: string, operation: () => Promise<T>): Promise<T> {
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
}

/** Milliseconds for a TTL in seconds; a TTL must be positive. */
export function ttlMilliseconds(ttlSeconds: number): number {
  if (!(ttlSeconds > 0)) throw new StoreError('ttl must be positive');
  return Math.ceil(ttlSeconds * 1000);
}

/** Cloudflare KV refuses TTLs under 60 s; adapters round up to it. */
export const KV_MIN_TTL_SECONDS = 60;
