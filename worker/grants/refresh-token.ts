/**
 * Refresh tokens and their rotation within a session (accounts/sessions.ts). Each refresh is single use; a retry
 * with the token just rotated, within the grace window, gets the same successor back
 * (sealed under the old token, so the store alone cannot open it); any other reuse of a
 * spent token revokes the whole family (RFC 9700 §4.14.2).
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { TOKEN_PREFIX } from '../../shared/schemas.ts';
import type { AuditSource } from '../accounts/audit.ts';
import {
  createFamily,
  type Family,
  type NewFamily,
  readFamily,
  readFamilyRecord,
  revokeFamily,
  seconds,
  touchFamily,
} from '../accounts/sessions.ts';
import type { Services } from '../services.ts';
import { readRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { generateSecret } from '../tokens/opaque.ts';
import { narrowScope } from './issue.ts';

const RefreshRecord = z.object({
  sid: z.string(),
  issuedAt: z.number(),
  spentAt: z.number().nullable(),
});
type RefreshRecord = z.infer<typeof RefreshRecord>;

/** A sign-in: a new session and its first refresh token. */
export async function startFamily(
  services: Services,
  init: NewFamily,
  source: AuditSource,
): Promise<{ sid: string; family: Family; refreshToken: string }> {
  const { sid, family } = await createFamily(services, init, source);
  const refreshToken = await mintRefreshToken(services, sid, family);
  return { sid, family, refreshToken };
}

async function mintRefreshToken(services: Services, sid: string, family: Family): Promise<string> {
  const token = generateSecret(TOKEN_PREFIX.refreshToken);
  const record: RefreshRecord = { sid, issuedAt: services.now(), spentAt: null };
  await services.store.put(await refreshKey(services, token), JSON.stringify(record), recordTtl(services, family));
  return token;
}

/** Idle lifetime, never past the family's absolute end. */
function recordTtl(services: Services, family: Family): number {
  return seconds(Math.min(services.config.ttl.refreshIdle * 1000, family.expiresAt - services.now()));
}

async function refreshKey(services: Services, token: string): Promise<string> {
  return storeKey('refreshToken', await services.hasher.hash('rt', token));
}

export type Rotated = { sid: string; family: Family; refreshToken: string; scope: string };

export async function rotateRefreshToken(
  services: Services,
  presented: string,
  request: { clientId: string; scope: string | undefined },
  source: AuditSource,
): Promise<Rotated> {
  const { store, hasher, now, config } = services;
  const key = await refreshKey(services, presented);
  const found = await readRecord(store, key, RefreshRecord);
  if (!found) throw new OAuthError('invalid_grant', 'refresh token is invalid or expired');
  const { sid, spentAt } = found.value;
  const current = await readFamilyRecord(services, sid);
  if (!current || current.value.revoked) throw new OAuthError('invalid_grant', 'the session was revoked; sign in again');
  const family = current.value;
  if (family.clientId !== request.clientId) throw new OAuthError('invalid_grant', 'refresh token was issued to another client');
  const scope = narrowScope(family.scope, request.scope);
  if (scope === null) throw new OAuthError('invalid_scope', 'a refresh may only narrow the granted scope');

  const graceKey = storeKey('rotationGrace', await hasher.hash('rg', presented));
  const successorFromGrace = async (): Promise<string | null> => {
    const sealed = await store.get(graceKey);
    return sealed === null ? null : hasher.open(presented, sealed);
  };

  if (spentAt !== null) {
    const successor = now() - spentAt <= config.ttl.refreshGrace * 1000 ? await successorFromGrace() : null;
    if (successor) return { sid, family, refreshToken: successor, scope };
    await revokeFamily(services, sid, 'reuse', source);
    throw new OAuthError('invalid_grant', 'refresh token was already used; the session is revoked, sign in again');
  }

  // Kept after spending so that a late reuse is recognised and revokes the family.
  const markSpent = () =>
    store.swap(key, found.raw, JSON.stringify({ ...found.value, spentAt: now() }), seconds(family.expiresAt - now()));

  // The grace record is created only if absent: whoever creates it decides the one successor.
  const candidate = await mintRefreshToken(services, sid, family);
  const sealed = await hasher.seal(presented, candidate);
  if (!(await store.swap(graceKey, null, sealed, config.ttl.refreshGrace))) {
    await store.delete(await refreshKey(services, candidate));
    const successor = await successorFromGrace();
    if (!successor) throw new OAuthError('invalid_grant', 'refresh token is being rotated; retry');
    // A rotation cut off by a store fault between its grace record and spending the token
    // is finished here; otherwise the token could be rotated afresh once the window ends.
    await markSpent();
    return { sid, family, refreshToken: successor, scope };
  }
  await markSpent();
  await touchFamily(services, sid, current);
  return { sid, family, refreshToken: candidate, scope };
}

/** For revocation and introspection: the family a refresh token belongs to, if it is live. */
export async function lookupRefreshToken(
  services: Services,
  token: string,
): Promise<{ sid: string; family: Family; live: boolean; issuedAt: number } | null> {
  const found = await readRecord(services.store, await refreshKey(services, token), RefreshRecord);
  if (!found) return null;
  const family = await readFamily(services, found.value.sid);
  if (!family) return null;
  return { sid: found.value.sid, family, live: found.value.spentAt === null && !family.revoked, issuedAt: found.value.issuedAt };
}
