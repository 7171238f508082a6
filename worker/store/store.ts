/**
 * The one contract every state backend fills in. Values are strings (callers keep JSON in
 * them); every write carries a TTL in seconds, so nothing lives forever by accident.
 *
 * Keys are built only through `storeKey` below, so each adapter can tell from the prefix
 * whether a key needs strong consistency and which owner's state it is (its home: a
 * session, an org, a person, or one of a fixed set of shards; see `KEYSPACE`, `homeOf`
 * and worker/store/README.md).
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
  /**
   * Runs `procedure` as one atomic step over keys that share one home: it reads a consistent
   * view, and its writes land together or not at all. On Cloudflare it runs inside the
   * home's Durable Object, so it costs one round trip whatever it reads and writes.
   */
  transact<I, O>(procedure: Procedure<I, O>, input: I): Promise<O>;
  /** Resolves when the backend answers; used by /healthz. */
  ping(): Promise<void>;
}

/** A procedure's synchronous view of its home's keys. Writes are seen by its own later reads. */
export interface Transaction {
  get(key: string): string | null;
  put(key: string, value: string, ttlSeconds: number): void;
  delete(key: string): void;
}

/**
 * Code a store runs atomically. `run` must be synchronous, may run more than once (the
 * optimistic adapters rerun it after a conflict), must not throw to refuse (it returns an
 * outcome instead, since an error loses its class crossing into a Durable Object), and may
 * touch only keys whose home is that of `home(input)`. Input and output must be plain
 * data. A Durable Object is sent the name, not the code: every procedure is listed in
 * worker/store-procedures.ts.
 */
export type Procedure<I, O> = {
  name: string;
  home(input: I): string;
  run(tx: Transaction, input: I): O;
};

/**
 * Every key prefix in use. `atomic` keys are consumed, swapped or counted and must be
 * strongly consistent; `plain` keys are read-mostly and may live in an eventually
 * consistent replica (Cloudflare KV). `home` groups atomic keys by owner, so what one
 * operation touches lives together (one Durable Object on Cloudflare):
 * - `session`, `org`: the id's first `:`-separated part names the owner (`rt2:ses_x:hash`);
 * - `person`: the whole id (a verified email, else a subject);
 * - `shard`: short-lived or unowned keys, spread by a hash of the key over `SHARDS`.
 * `legacyDays` is how long after an upgrade a deployment of the per-key layout (one object
 * per key, before 0.2) may still hold a key of the kind, its longest TTL then (0: nothing
 * worth carrying over); worker/store/durable-object.ts reads through that long when
 * migrating. `rvk:` lived for an access token's life plus a minute: two days, or the longest
 * configured token life if that is more (worker/entry/cloudflare.ts), after which a CI
 * token's check stops paying a read of the old layout. `cij:` lived as long as the CI
 * token it names, which the upstream issuer decides, so it keeps the long horizon.
 */
export const KEYSPACE = {
  deviceCode: { prefix: 'dc:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  userCode: { prefix: 'uc:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  authorizationRequest: { prefix: 'ar:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  authorizationCode: { prefix: 'ac:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  upstreamSignIn: { prefix: 'up:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  refreshToken: { prefix: 'rt2:', placement: 'atomic', home: 'session', legacyDays: 0 },
  /** A refresh token issued before sessions had homes (`lk_rt_` + 43 characters): read only. */
  legacyRefreshToken: { prefix: 'rt:', placement: 'atomic', home: 'shard', legacyDays: 3650 },
  rotationGrace: { prefix: 'rg2:', placement: 'atomic', home: 'session', legacyDays: 0 },
  /** The per-key layout's grace record (10 s then): read by a retry across the upgrade. */
  legacyRotationGrace: { prefix: 'rg:', placement: 'atomic', home: 'shard', legacyDays: 1 },
  family: { prefix: 'fam:', placement: 'atomic', home: 'session', legacyDays: 3650 },
  revokedAccessToken: { prefix: 'rvk:', placement: 'atomic', home: 'shard', legacyDays: 2 },
  webSession: { prefix: 'ws:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  webSessionIndex: { prefix: 'wsx:', placement: 'atomic', home: 'person', legacyDays: 0 },
  consoleForm: { prefix: 'cf:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  rateLimit: { prefix: 'rl:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  identity: { prefix: 'idn:', placement: 'atomic', home: 'shard', legacyDays: 3650 },
  generated: { prefix: 'gen:', placement: 'atomic', home: 'shard', legacyDays: 3650 },
  ciTokenId: { prefix: 'cij:', placement: 'atomic', home: 'shard', legacyDays: 3650 },
  org: { prefix: 'org:', placement: 'atomic', home: 'org', legacyDays: 3650 },
  /** Every org's slug (the operator page); added after 0.2, so nothing to carry over. */
  orgRegistry: { prefix: 'orgs:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  apiKey: { prefix: 'key:', placement: 'atomic', home: 'shard', legacyDays: 3650 },
  apiKeyIndex: { prefix: 'keys:', placement: 'atomic', home: 'org', legacyDays: 3650 },
  memberOrgs: { prefix: 'mo:', placement: 'atomic', home: 'person', legacyDays: 3650 },
  invitations: { prefix: 'inv:', placement: 'atomic', home: 'org', legacyDays: 3650 },
  invitationIndex: { prefix: 'invx:', placement: 'atomic', home: 'person', legacyDays: 3650 },
  sessionIndex: { prefix: 'sx:', placement: 'atomic', home: 'person', legacyDays: 3650 },
  orgSessionIndex: { prefix: 'osx:', placement: 'atomic', home: 'org', legacyDays: 3650 },
  auditEntry: { prefix: 'aud:', placement: 'atomic', home: 'org', legacyDays: 3650 },
  auditHead: { prefix: 'audh:', placement: 'atomic', home: 'org', legacyDays: 3650 },
  trustPolicies: { prefix: 'tp:', placement: 'atomic', home: 'org', legacyDays: 3650 },
  /** An org's claimed email domains; added after 0.2, so nothing to carry over. */
  domains: { prefix: 'dom:', placement: 'atomic', home: 'org', legacyDays: 0 },
  /** Which org a domain is verified for: one at a time, taken create-if-absent. */
  domainClaim: { prefix: 'domc:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  /** An org's SSO connection (issue #23); added after 0.2, so nothing to carry over. */
  ssoConnection: { prefix: 'sso:', placement: 'atomic', home: 'org', legacyDays: 0 },
  /** A sign-in at an org's SSO provider under way (a connection's test sign-in), minutes long. */
  ssoSignIn: { prefix: 'ssos:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  /** A person's second factors (issue #22); added after 0.2, so nothing to carry over. */
  factors: { prefix: 'mfa:', placement: 'atomic', home: 'person', legacyDays: 0 },
  /** A browser sign-in waiting for its second step (a code), minutes long. */
  secondStep: { prefix: 'mfp:', placement: 'atomic', home: 'shard', legacyDays: 0 },
  user: { prefix: 'usr:', placement: 'plain', home: 'shard', legacyDays: 0 },
  health: { prefix: 'hc:', placement: 'plain', home: 'shard', legacyDays: 0 },
} as const;

export type KeyKind = keyof typeof KEYSPACE;

export function storeKey(kind: KeyKind, id: string): string {
  return KEYSPACE[kind].prefix + id;
}

type KindSpec = (typeof KEYSPACE)[KeyKind];

// Longest prefix first, so `rt2:` is never read as `rt:`.
const KINDS: KindSpec[] = Object.values(KEYSPACE).sort((a, b) => b.prefix.length - a.prefix.length);

export function kindOf(key: string): KindSpec {
  const kind = KINDS.find(({ prefix }) => key.startsWith(prefix));
  if (!kind) throw new StoreError(`unknown key prefix in "${key.slice(0, 8)}…"`);
  return kind;
}

export function placementOf(key: string): 'atomic' | 'plain' {
  return kindOf(key).placement;
}

/** Shards for keys with no owner; fixed, since a key's shard must never move. */
export const SHARDS = 64;

/**
 * The owner a key belongs with, as a name (`session/ses_x`, `org/acme`, `person/ada@…`,
 * `shard/17`). On Cloudflare it names the Durable Object; the slash keeps every home apart
 * from the per-key objects of the old layout, which were named by the keys themselves.
 */
export function homeOf(key: string): string {
  const kind = kindOf(key);
  const id = key.slice(kind.prefix.length);
  switch (kind.home) {
    case 'session':
    case 'org':
      return `${kind.home}/${id.split(':', 1)[0]}`;
    case 'person':
      return `person/${id}`;
    case 'shard':
      return `shard/${fnv1a(key) % SHARDS}`;
  }
}

/** FNV-1a, 32 bits: a stable spread of keys over shards (not a security boundary). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
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
