/**
 * API keys in the store. A key's record lives under the keyed hash of the secret, so
 * validating a key is one read; a per-org index (id → hash) serves list, revoke and rotate.
 * A malformed key (shape or checksum) is refused before any read. Revocation is a swap of
 * the record, so it holds from the next request.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import {
  type AccessTokenClaims,
  type ApiKeyCreated,
  type ApiKeyInfo,
  type KeyCreateRequest,
  ROLES,
  Role,
} from '../../shared/schemas.ts';
import { authorize, mayHoldKey, ownProject, type Principal } from '../policy/roles.ts';
import type { Services } from '../services.ts';
import { readRecord, updateRecord, type Versioned } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { generateApiKey, isWellFormedApiKey } from '../tokens/api-key.ts';
import { generateId } from '../tokens/opaque.ts';
import { type AuditSource, appendAudit } from './audit.ts';
import { readOrg } from './orgs.ts';

const KeyRecord = z.object({
  id: z.string(),
  name: z.string(),
  org: z.string(),
  project: z.string().nullable(),
  role: Role,
  createdAt: z.number(),
  createdBy: z.string(),
  expiresAt: z.number(),
  lastUsedAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
});
export type KeyRecord = z.infer<typeof KeyRecord>;
const KeyIndex = z.array(z.object({ id: z.string(), hash: z.string() }));

/** `last_used_at` is written at most this often, so busy keys do not write on every request. */
const LAST_USED_GRANULARITY_MS = 60_000;
/** Records outlive their key a little, so a revoked or expired key still lists as such. */
const KEEP_AFTER_EXPIRY_SECONDS = 7 * 86400;
const INDEX_TTL_SECONDS = 10 * 365 * 86400;
const SCOPES_FOR_ROLE = { member: 'read write', admin: 'read write admin', owner: 'read write admin' } as const;

const secondsOf = (ms: number) => Math.floor(ms / 1000);
const noSuchKey = (id: string, org: string) => new OAuthError('not_found', `no key "${id.slice(0, 40)}" in org "${org}"`);

function info(record: KeyRecord): ApiKeyInfo {
  return {
    id: record.id,
    name: record.name,
    org: record.org,
    project: record.project,
    role: record.role,
    created_at: secondsOf(record.createdAt),
    created_by: record.createdBy,
    expires_at: secondsOf(record.expiresAt),
    last_used_at: record.lastUsedAt === null ? null : secondsOf(record.lastUsedAt),
    revoked_at: record.revokedAt === null ? null : secondsOf(record.revokedAt),
  };
}

const recordKey = async (services: Services, secret: string) => storeKey('apiKey', await services.hasher.hash('key', secret));
const recordTtl = (services: Services, record: KeyRecord) =>
  Math.max(1, Math.ceil((record.expiresAt - services.now()) / 1000)) + KEEP_AFTER_EXPIRY_SECONDS;

const readKeyIndex = async (services: Services, org: string) =>
  (await readRecord(services.store, storeKey('apiKeyIndex', org), KeyIndex))?.value ?? [];

const updateIndex = (services: Services, org: string, change: (index: z.infer<typeof KeyIndex>) => z.infer<typeof KeyIndex>) =>
  updateRecord(
    services.store,
    storeKey('apiKeyIndex', org),
    KeyIndex,
    { ifAbsent: () => [], ttlSeconds: INDEX_TTL_SECONDS, what: 'key list' },
    change,
  );

export async function createApiKey(
  services: Services,
  input: {
    org: string;
    project: string | null;
    role: z.infer<typeof Role>;
    name: string;
    expiresIn: number | undefined;
  },
  source: AuditSource,
  detail: string | null = null,
): Promise<ApiKeyCreated> {
  const { config, now } = services;
  const ttl = input.expiresIn ?? config.ttl.apiKey;
  if (ttl > config.ttl.apiKeyMax) {
    throw new OAuthError(
      'invalid_request',
      `expires_in may be at most ${config.ttl.apiKeyMax} seconds (LATCHKEY_API_KEY_MAX_TTL)`,
    );
  }
  const { prefixes } = config.branding;
  const secret = generateApiKey(
    input.project === null
      ? prefixes[config.loopback ? 'org_key_test' : 'org_key_live']
      : prefixes[config.loopback ? 'project_key_test' : 'project_key_live'],
  );
  const record: KeyRecord = {
    id: generateId('key_'),
    name: input.name,
    org: input.org,
    project: input.project,
    role: input.role,
    createdAt: now(),
    createdBy: source.actor,
    expiresAt: now() + ttl * 1000,
    lastUsedAt: null,
    revokedAt: null,
  };
  const key = await recordKey(services, secret);
  await services.store.put(key, JSON.stringify(record), recordTtl(services, record));
  await updateIndex(services, input.org, (index) => [...index, { id: record.id, hash: key }]);
  const scope = `${record.project ? `project ${record.project}` : 'whole org'}, role ${record.role}`;
  await appendAudit(services, input.org, source, {
    action: 'key.created',
    subject: record.id,
    detail: detail ?? `"${record.name}", ${scope}`,
  });
  return { ...info(record), key: secret };
}

/**
 * A front door's own condition on a key act, checked once the caller's rights are (the
 * console asks a recent sign-in before an admin-or-higher key is made or rotated); it
 * throws to stop the act before anything is written. The /v1 API has none.
 */
export type KeyActGate = (keyRole: z.infer<typeof Role>) => void | Promise<void>;

/**
 * POST /v1/orgs/:org/keys and the console's key form: the org read, then the input (so a
 * missing org is a 404 before a bad body is a 400), then the caller's right to make a key
 * of that project and role (`mayHoldKey`: never one above its own), then the key.
 */
export async function createOrgApiKey(
  services: Services,
  principal: Principal,
  slug: string,
  readInput: () => Promise<z.infer<typeof KeyCreateRequest>>,
  source: AuditSource,
  gate?: KeyActGate,
): Promise<ApiKeyCreated> {
  const org = await readOrg(services, slug);
  const input = await readInput();
  const mine = authorize(org, principal, 'keys:write', input.project ?? null);
  if (input.project && !org.projects.includes(input.project))
    throw new OAuthError('not_found', `no project "${input.project}" in org "${org.slug}"`);
  mayHoldKey(mine, input.role);
  await gate?.(input.role);
  return createApiKey(
    services,
    { org: org.slug, project: input.project ?? null, role: input.role, name: input.name, expiresIn: input.expires_in },
    source,
  );
}

/**
 * GET /v1/orgs/:org/keys and the console's key list: the keys the caller may see (a project
 * key or a narrowed token: its project's; everyone else the whole org's), with the org and
 * the caller's role there.
 */
export async function listOrgApiKeys(services: Services, principal: Principal, slug: string) {
  const org = await readOrg(services, slug);
  const project = ownProject(principal);
  const role = authorize(org, principal, 'keys:read', project);
  const keys = await listApiKeys(services, org.slug);
  return { org, role, keys: project ? keys.filter((key) => key.project === project) : keys };
}

/** The roles a caller of role `mine` may make keys of: the rule of `mayHoldKey`, as a list for a form to offer. */
export const keyRolesFor = (mine: z.infer<typeof Role>) =>
  ROLES.filter((role) => {
    try {
      mayHoldKey(mine, role);
      return true;
    } catch {
      return false;
    }
  });

/**
 * The key `id` of org `slug` if the caller may revoke or rotate it: it sees the org's keys
 * (a project key: its project's), and its role covers the key's project and role.
 */
async function manageableApiKey(services: Services, principal: Principal, slug: string, id: string) {
  const org = await readOrg(services, slug);
  authorize(org, principal, 'keys:read', ownProject(principal));
  const target = await findApiKey(services, org.slug, id);
  mayHoldKey(authorize(org, principal, 'keys:write', target.value.project), target.value.role);
  return target;
}

/** POST /v1/orgs/:org/keys/:id/revoke and the console's Revoke button. */
export async function revokeOrgApiKey(
  services: Services,
  principal: Principal,
  slug: string,
  id: string,
  source: AuditSource,
): Promise<ApiKeyInfo> {
  const target = await manageableApiKey(services, principal, slug, id);
  return revokeApiKey(services, target.value.org, target, source);
}

/**
 * POST /v1/orgs/:org/keys/:id/rotate and the console's Rotate button: the rights first,
 * then the grace period read (a refused caller's body is never looked at), then the successor.
 */
export async function rotateOrgApiKey(
  services: Services,
  principal: Principal,
  slug: string,
  id: string,
  readGraceSeconds: () => Promise<number>,
  source: AuditSource,
  gate?: KeyActGate,
): Promise<ApiKeyCreated> {
  const target = await manageableApiKey(services, principal, slug, id);
  await gate?.(target.value.role);
  return rotateApiKey(services, target.value.org, target, await readGraceSeconds(), source);
}

/** The key `id` of the org, with its record as read (for a later swap); not_found otherwise. */
export async function findApiKey(services: Services, org: string, id: string) {
  const entry = (await readKeyIndex(services, org)).find((item) => item.id === id);
  const found = entry ? await readRecord(services.store, entry.hash, KeyRecord) : null;
  if (!entry || !found) throw noSuchKey(id, org);
  return { storeKey: entry.hash, ...found };
}

export async function listApiKeys(services: Services, org: string): Promise<ApiKeyInfo[]> {
  const records = await Promise.all(
    (await readKeyIndex(services, org)).map((entry) => readRecord(services.store, entry.hash, KeyRecord)),
  );
  return records.filter((found) => found !== null).map((found) => info(found.value));
}

export type FoundApiKey = Awaited<ReturnType<typeof findApiKey>>;

/**
 * Ends the key whose record is under `key`: now, or (rotation with grace) `graceSeconds`
 * from now. A swap, retried from a fresh read if the record changed meanwhile; null when
 * there is no record.
 */
async function endKey(
  services: Services,
  key: string,
  graceSeconds: number,
  first: Versioned<KeyRecord> | null,
): Promise<ApiKeyInfo | null> {
  let found = first;
  for (let attempt = 0; attempt < 5; attempt++) {
    found ??= await readRecord(services.store, key, KeyRecord);
    if (!found) return null;
    if (found.value.revokedAt !== null) {
      // Perhaps revoked a moment ago by a request still waiting out the cache bound: this
      // answer must not come sooner than that one.
      await services.apiKeys.changed(key);
      return info(found.value);
    }
    const at = services.now() + graceSeconds * 1000;
    const next: KeyRecord =
      graceSeconds === 0 ? { ...found.value, revokedAt: at } : { ...found.value, expiresAt: Math.min(found.value.expiresAt, at) };
    if (await services.store.swap(key, found.raw, JSON.stringify(next), recordTtl(services, next))) {
      // Answers once no isolate can still admit the key on a copy from before.
      await services.apiKeys.changed(key);
      return info(next);
    }
    found = null;
  }
  throw new OAuthError('temporarily_unavailable', 'the key kept changing; retry');
}

/** Ends `found` (from findApiKey, which the caller used to check its rights) now. */
export async function revokeApiKey(
  services: Services,
  org: string,
  found: FoundApiKey,
  source: AuditSource,
): Promise<ApiKeyInfo> {
  const { id } = found.value;
  const ended = await endKey(services, found.storeKey, 0, found);
  if (!ended) throw noSuchKey(id, org);
  if (found.value.revokedAt === null) await appendAudit(services, org, source, { action: 'key.revoked', subject: id });
  return ended;
}

/**
 * RFC 7009: whoever holds a live key may revoke it. A malformed, unknown, revoked or
 * expired key is nothing to do. Unlike authenticating, this records no use of the key.
 */
export async function revokeApiKeyHeldBy(services: Services, secret: string, requestId: string): Promise<void> {
  if (!isWellFormedApiKey(secret, services.config.branding.accepted.apiKey)) return;
  const key = await recordKey(services, secret);
  const found = await readRecord(services.store, key, KeyRecord);
  if (!found || found.value.expiresAt <= services.now()) return;
  // Revoked already, perhaps a moment ago by a request still waiting out the cache bound.
  if (found.value.revokedAt !== null) return services.apiKeys.changed(key);
  await endKey(services, key, 0, found);
  const { id, org } = found.value;
  await appendAudit(
    services,
    org,
    { actor: id, requestId },
    { action: 'key.revoked', subject: id, detail: 'by its holder (RFC 7009)' },
  );
}

/** A new key with the same name, scope, role and lifetime; the old one ends after the grace. */
export async function rotateApiKey(
  services: Services,
  org: string,
  found: FoundApiKey,
  graceSeconds: number,
  source: AuditSource,
): Promise<ApiKeyCreated> {
  const old = found.value;
  const { id } = old;
  if (old.revokedAt !== null || old.expiresAt <= services.now())
    throw new OAuthError('invalid_request', 'a revoked or expired key cannot be rotated');
  const created = await createApiKey(
    services,
    {
      org,
      project: old.project,
      role: old.role,
      name: old.name,
      expiresIn: Math.max(1, Math.round((old.expiresAt - old.createdAt) / 1000)),
    },
    source,
    `rotation of ${id}`,
  );
  await endKey(services, found.storeKey, graceSeconds, found);
  await appendAudit(services, org, source, {
    action: 'key.rotated',
    subject: id,
    detail: `replaced by ${created.id}; ${graceSeconds === 0 ? 'ended now' : `ends in ${graceSeconds} s`}`,
  });
  return created;
}

/**
 * A presented API key as claims, like an access token's. The checksum is checked before
 * anything is read; then one read, which the isolate reuses for LATCHKEY_SESSION_CACHE
 * (revocations wait that out before answering). `last_used_at` is refreshed at most once a
 * minute.
 */
export async function authenticateApiKey(services: Services, secret: string): Promise<AccessTokenClaims> {
  if (!isWellFormedApiKey(secret, services.config.branding.accepted.apiKey))
    throw new OAuthError('invalid_token', 'malformed API key (bad checksum)');
  const key = await recordKey(services, secret);
  const found = await services.apiKeys.get(key, () => readRecord(services.store, key, KeyRecord));
  if (!found) throw new OAuthError('invalid_token', 'unknown API key');
  const record = found.value;
  const now = services.now();
  if (record.revokedAt !== null && record.revokedAt <= now) throw new OAuthError('invalid_token', 'API key was revoked');
  if (record.expiresAt <= now) throw new OAuthError('invalid_token', 'API key has expired');
  if (record.lastUsedAt === null || now - record.lastUsedAt >= LAST_USED_GRANULARITY_MS) {
    // Best effort: losing this race to a revocation must not undo it, hence a swap. The
    // copy this isolate holds is then stale, and would try again on every check.
    services.apiKeys.forget(key);
    await services.store.swap(key, found.raw, JSON.stringify({ ...record, lastUsedAt: now }), recordTtl(services, record));
  }
  return {
    iss: services.config.base,
    aud: services.config.base,
    sub: record.id,
    iat: secondsOf(record.createdAt),
    exp: secondsOf(record.expiresAt),
    jti: record.id,
    scope: SCOPES_FOR_ROLE[record.role],
    org: record.org,
    project: record.project,
    kind: 'api_key',
    sid: null,
    client_id: 'api-key',
    role: record.role,
  };
}
