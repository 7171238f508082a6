/**
 * Turns a presented Bearer credential into the claims it carries, refusing it if it was
 * revoked: by its own `jti`, or through its session (`sid`). Revocation is read from the
 * strongly consistent store, or from a copy younger than the bound every revocation waits
 * out before it answers (accounts/session-cache.ts), so it holds from the next request.
 */
import { OAuthError } from '../../shared/errors.ts';
import type { AccessTokenClaims } from '../../shared/schemas.ts';
import { authenticateApiKey } from '../accounts/api-keys.ts';
import { readFamily, revokeSessionToken } from '../accounts/sessions.ts';
import type { Services } from '../services.ts';
import { storeKey } from '../store/store.ts';
import { looksLikeJwt, verifyAccessToken } from './access-token.ts';
import { looksLikeApiKey } from './api-key.ts';

/** Signature, issuer (this server), audience and expiry; revocation is not consulted. */
export async function verifyOwnAccessToken(services: Services, token: string): Promise<AccessTokenClaims> {
  if (!looksLikeJwt(token)) throw new OAuthError('invalid_token', 'credential is not a latchkey access token');
  const { config, keys, now } = services;
  return verifyAccessToken(keys, token, { issuer: config.base, audience: config.base, now: now() });
}

/**
 * An access token (JWT) or an API key, refused if revoked or expired. An API key costs one
 * store read; a session's token is checked against its family record (session ended, or
 * this token revoked), read at most once per cache bound per isolate; a token without a
 * session (CI) against its own `jti` record, read every time.
 */
export async function authenticate(services: Services, token: string): Promise<AccessTokenClaims> {
  if (looksLikeApiKey(token)) return authenticateApiKey(services, token);
  const claims = await verifyOwnAccessToken(services, token);
  if (claims.sid) {
    const sid = claims.sid;
    const family = await services.sessions.get(sid, () => readFamily(services, sid));
    if (!family || family.revoked) throw new OAuthError('invalid_token', 'the session was revoked');
    if (family.revokedTokens.some((entry) => entry.jti === claims.jti))
      throw new OAuthError('invalid_token', 'token was revoked');
  } else if ((await services.store.get(storeKey('revokedAccessToken', claims.jti))) !== null) {
    throw new OAuthError('invalid_token', 'token was revoked');
  }
  return claims;
}

/** Refuses one access token until it would have expired anyway (RFC 7009). */
export async function revokeAccessToken(services: Services, claims: AccessTokenClaims, requestId: string): Promise<void> {
  const remaining = claims.exp - Math.floor(services.now() / 1000);
  if (remaining <= 0) return;
  if (claims.sid) {
    const source = { actor: claims.email ?? claims.sub, requestId };
    return revokeSessionToken(services, claims.sid, { jti: claims.jti, exp: claims.exp }, source);
  }
  await services.store.put(storeKey('revokedAccessToken', claims.jti), '1', remaining + 60);
}
