/**
 * Refresh tokens and their rotation within a session (accounts/sessions.ts). Each refresh is single use; a retry
 * with the token just rotated, within the grace window, gets the same successor back
 * (sealed under the old token, so the store alone cannot open it); any other reuse of a
 * spent token revokes the whole family (RFC 9700 §4.14.2).
 *
 * A refresh token names its session (`lk_rt_`, or the deployment's prefix, + the session
 * id's 20 characters + 43 of secret), so the token, the family and the grace record are all in the session's home
 * and a rotation is one procedure there: one round trip, atomic, no object created.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { type AuditSource, SERVER_ACTOR } from '../accounts/audit.ts';
import {
  announceEnded,
  auditStepUp,
  createFamily,
  ended,
  establishRefusal,
  Family,
  familyKey,
  type NewFamily,
  readFamily,
  revokeFamily,
  type StepUp,
  seconds,
  steppedUp,
  touched,
} from '../accounts/sessions.ts';
import { DEFAULT_SECRET_PREFIXES, prefixOf } from '../branding.ts';
import type { Services } from '../services.ts';
import { parseRecord, readRecord } from '../store/records.ts';
import { KEYSPACE, type Procedure, storeKey } from '../store/store.ts';
import { base64url, randomBytes } from '../tokens/opaque.ts';
import { narrowScope } from './issue.ts';

const RefreshRecord = z.object({
  sid: z.string(),
  issuedAt: z.number(),
  spentAt: z.number().nullable(),
});
type RefreshRecord = z.infer<typeof RefreshRecord>;

const SID_PREFIX = 'ses_';
const SID_BODY = 20; // generateId's 15 bytes, base64url
const SECRET_LENGTH = 43; // 32 bytes, base64url

/** What follows the prefix: the session id's 20 characters and 43 of secret, or (before 0.2) the 43 alone. */
const TOKEN_BODY = /^(?:[\w-]{20})?[\w-]{43}$/;

/**
 * The session a refresh token names, or null for one issued before tokens named it; a
 * token of neither form is `malformed`, refused before any store is asked (and before its
 * made-up session id addresses any object).
 */
function sessionOf(services: Services, token: string): string | null | 'malformed' {
  // The deployment's prefix or latchkey's: tokens issued before a rebrand keep working.
  const prefix = prefixOf(token, services.config.branding.accepted.refreshToken);
  const body = prefix === undefined ? '' : token.slice(prefix.length);
  if (!TOKEN_BODY.test(body)) return 'malformed';
  if (body.length === SID_BODY + SECRET_LENGTH) return SID_PREFIX + body.slice(0, SID_BODY);
  // Tokens that did not name their session were issued before any brand, under latchkey's prefix only.
  return prefix === DEFAULT_SECRET_PREFIXES.refresh_token ? null : 'malformed';
}

/** A refresh token of `sid` around 32 bytes of secret, under the deployment's prefix (or `prefix`). */
function refreshToken(
  services: Services,
  sid: string,
  secret: Uint8Array = randomBytes(32),
  prefix = services.config.branding.prefixes.refresh_token,
): string {
  return prefix + sid.slice(SID_PREFIX.length) + base64url(secret);
}

/**
 * The successor a retry gets back. Unbranded there is one prefix it can carry. Branded, a
 * token rotated just before a deploy that changed the prefix has its successor stored
 * under the old one: each accepted prefix is tried against the store (a read each, on a
 * retry only), so the retry gets the successor that exists.
 */
async function storedSuccessor(services: Services, sid: string, secret: Uint8Array): Promise<string | null> {
  const prefixes = services.config.branding.accepted.refreshToken;
  if (prefixes.length === 1) return refreshToken(services, sid, secret);
  for (const prefix of prefixes) {
    const successor = refreshToken(services, sid, secret, prefix);
    if ((await services.store.get(recordKey(sid, await tokenHash(services, successor)))) !== null) return successor;
  }
  return null;
}

/** A sign-in: a new session and its first refresh token. */
export async function startFamily(
  services: Services,
  init: NewFamily,
  source: AuditSource,
): Promise<{ sid: string; family: Family; refreshToken: string }> {
  const { sid, family } = await createFamily(services, init, source);
  const token = refreshToken(services, sid);
  const record: RefreshRecord = { sid, issuedAt: services.now(), spentAt: null };
  const ttl = seconds(Math.min(services.config.ttl.refreshIdle * 1000, family.expiresAt - services.now()));
  await services.store.put(recordKey(sid, await tokenHash(services, token)), JSON.stringify(record), ttl);
  return { sid, family, refreshToken: token };
}

const tokenHash = (services: Services, token: string) => services.hasher.hash('rt', token);
/** A token's record, in its session's home, under the token's hash. */
const recordKey = (sid: string, hash: string) => storeKey('refreshToken', `${sid}:${hash}`);
/** A spent token's grace record, under the same hash as its own record: one HMAC fewer per refresh. */
const graceKey = (key: string) => storeKey('rotationGrace', key.slice(KEYSPACE.refreshToken.prefix.length));

/**
 * Where a presented token's record is: its session and key, and for a token from before
 * tokens named their session, the record as the old layout kept it (null: no such token).
 */
async function locate(
  services: Services,
  token: string,
): Promise<{ sid: string; key: string; legacy: RefreshRecord | null; legacyGrace: string | null } | null> {
  const sid = sessionOf(services, token);
  if (sid === 'malformed') return null;
  const hash = await tokenHash(services, token);
  if (sid !== null) return { sid, key: recordKey(sid, hash), legacy: null, legacyGrace: null };
  const legacy = await readRecord(services.store, storeKey('legacyRefreshToken', hash), RefreshRecord);
  if (!legacy) return null;
  const owner = legacy.value.sid;
  // Spent by the old Worker moments before the upgrade: its successor may be in the old
  // grace record, for a retry whose first answer was lost.
  const legacyGrace =
    legacy.value.spentAt === null
      ? null
      : await services.store.get(storeKey('legacyRotationGrace', await services.hasher.hash('rg', token)));
  return { sid: owner, key: recordKey(owner, hash), legacy: legacy.value, legacyGrace };
}

type RotationInput = {
  sid: string;
  key: string;
  legacy: RefreshRecord | null;
  /** The old layout's grace record of a token it spent (sealed with AES-GCM then). */
  legacyGrace: string | null;
  graceKey: string;
  successorKey: string;
  sealedSuccessor: string;
  clientId: string;
  scope: string | undefined;
  now: number;
  graceMs: number;
  idleMs: number;
  accessTokenTtl: number;
  /** A second factor proven with this refresh (a step-up), recorded on the session as it rotates. */
  stepUp: StepUp | null;
};

type RotationOutcome =
  | { outcome: 'invalid' | 'revoked' | 'wrong_client' | 'wrong_scope' }
  | { outcome: 'rotated'; family: Family; scope: string }
  | { outcome: 'retried'; family: Family; scope: string; sealed: string; legacy: boolean }
  | { outcome: 'reused'; family: Family };

/**
 * One rotation, run atomically in the session's home: of concurrent refreshes with one
 * token, the first spends it and leaves its successor sealed in the grace record; the
 * rest, within the window, get that successor; after it, reuse ends the session.
 */
export const rotation: Procedure<RotationInput, RotationOutcome> = {
  name: 'refresh.rotate',
  home: (input) => input.key,
  run(tx, input) {
    const raw = tx.get(input.key);
    const record = raw === null ? input.legacy : parseRecord(RefreshRecord, raw);
    if (!record || record.sid !== input.sid) return { outcome: 'invalid' };
    const familyRaw = tx.get(familyKey(input.sid));
    const family = familyRaw === null ? null : parseRecord(Family, familyRaw);
    if (!family || family.revoked) return { outcome: 'revoked' };
    if (family.clientId !== input.clientId) return { outcome: 'wrong_client' };
    const scope = narrowScope(family.scope, input.scope);
    if (scope === null) return { outcome: 'wrong_scope' };
    const { now } = input;

    if (record.spentAt !== null) {
      const sealed = now - record.spentAt <= input.graceMs ? tx.get(input.graceKey) : null;
      if (sealed !== null) return { outcome: 'retried', family, scope, sealed, legacy: false };
      if (raw === null && input.legacyGrace !== null && now - record.spentAt <= input.graceMs) {
        return { outcome: 'retried', family, scope, sealed: input.legacyGrace, legacy: true };
      }
      const end = ended(family, 'reuse', now, input.accessTokenTtl);
      tx.put(familyKey(input.sid), JSON.stringify(end.family), end.ttlSeconds);
      return { outcome: 'reused', family };
    }

    const successor: RefreshRecord = { sid: input.sid, issuedAt: now, spentAt: null };
    tx.put(input.successorKey, JSON.stringify(successor), seconds(Math.min(input.idleMs, family.expiresAt - now)));
    tx.put(input.graceKey, input.sealedSuccessor, seconds(input.graceMs));
    // Kept after spending so that a late reuse is recognised and revokes the family.
    tx.put(input.key, JSON.stringify({ ...record, spentAt: now }), seconds(family.expiresAt - now));
    const used = touched(family, now);
    const next = input.stepUp ? steppedUp(used ?? family, input.stepUp) : used;
    if (next) tx.put(familyKey(input.sid), JSON.stringify(next), seconds(family.expiresAt - now));
    return { outcome: 'rotated', family: next ?? family, scope };
  },
};

export type Rotated = { sid: string; family: Family; refreshToken: string; scope: string };

export async function rotateRefreshToken(
  services: Services,
  presented: string,
  request: { clientId: string; scope: string | undefined; stepUp?: StepUp | undefined },
  source: AuditSource,
): Promise<Rotated> {
  const { hasher, now, config } = services;
  // The successor is made before knowing whether it is needed, and its hashes beside the
  // presented token's: they need no store, and this way the rotation is one call.
  const secret = randomBytes(32);
  const named = sessionOf(services, presented);
  const [found, sealedSuccessor, successorHash] = await Promise.all([
    locate(services, presented),
    hasher.seal(presented, secret),
    named === null || named === 'malformed' ? null : tokenHash(services, refreshToken(services, named, secret)),
  ]);
  if (!found) throw new OAuthError('invalid_grant', 'refresh token is invalid or expired');
  const { sid } = found;
  const candidate = refreshToken(services, sid, secret);
  const successorKey = recordKey(sid, successorHash ?? (await tokenHash(services, candidate)));
  const result = await services.store.transact(rotation, {
    sid,
    key: found.key,
    legacy: found.legacy,
    legacyGrace: found.legacyGrace,
    graceKey: graceKey(found.key),
    successorKey,
    sealedSuccessor,
    clientId: request.clientId,
    scope: request.scope,
    now: now(),
    graceMs: config.ttl.refreshGrace * 1000,
    idleMs: config.ttl.refreshIdle * 1000,
    accessTokenTtl: config.ttl.accessToken,
    stepUp: request.stepUp ?? null,
  });
  switch (result.outcome) {
    case 'invalid':
      throw new OAuthError('invalid_grant', 'refresh token is invalid or expired');
    case 'revoked':
      throw new OAuthError('invalid_grant', 'the session was revoked; sign in again');
    case 'wrong_client':
      throw new OAuthError('invalid_grant', 'refresh token was issued to another client');
    case 'wrong_scope':
      throw new OAuthError('invalid_scope', 'a refresh may only narrow the granted scope');
    case 'rotated':
      if (request.stepUp) await auditStepUp(services, sid, result.family, source);
      await refuseOutsideItsOrg(services, sid, result.family, source);
      return { sid, family: result.family, refreshToken: candidate, scope: result.scope };
    case 'retried': {
      const successor = result.legacy
        ? await hasher.openLegacy(presented, result.sealed)
        : await hasher.open(presented, result.sealed).then((bytes) => bytes && storedSuccessor(services, sid, bytes));
      if (!successor) throw new OAuthError('invalid_grant', 'refresh token is invalid or expired');
      await refuseOutsideItsOrg(services, sid, result.family, source);
      return { sid, family: result.family, refreshToken: successor, scope: result.scope };
    }
    case 'reused':
      await announceEnded(services, sid, result.family, 'reuse', source);
      throw new OAuthError('invalid_grant', 'refresh token was already used; the session is revoked, sign in again');
  }
}

/**
 * A session established for an org renews only while it still could be established: its
 * person a member, and a second factor proven if the org requires one. Removing a member
 * and turning the requirement on end the org's sessions they find in its list, but the list
 * keeps the newest 500, so one pushed out by newer ones (a member can make those) would
 * otherwise renew for its whole life, its tokens taken by any API checking them offline.
 * One read of the org's record, for org sessions only.
 */
async function refuseOutsideItsOrg(services: Services, sid: string, family: Family, source: AuditSource): Promise<void> {
  if (family.org === null) return;
  const refusal = await establishRefusal(services, family.org, family);
  if (!refusal) return;
  await revokeFamily(services, sid, 'admin', { ...source, actor: SERVER_ACTOR });
  throw new OAuthError('invalid_grant', `the session was revoked: ${refusal.message}; sign in again`);
}

/** For revocation and introspection: the family a refresh token belongs to, if it is live. */
export async function lookupRefreshToken(
  services: Services,
  token: string,
): Promise<{ sid: string; family: Family; live: boolean; issuedAt: number } | null> {
  const found = await locate(services, token);
  if (!found) return null;
  const record = (await readRecord(services.store, found.key, RefreshRecord))?.value ?? found.legacy;
  if (!record) return null;
  const family = await readFamily(services, found.sid);
  if (!family) return null;
  return { sid: found.sid, family, live: record.spentAt === null && !family.revoked, issuedAt: record.issuedAt };
}
