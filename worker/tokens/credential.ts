/**
 * Turns a presented Bearer credential into the claims it carries, refusing it if it was
 * revoked: by its own `jti`, or through its session (`sid`). Revocation is read from the
 * strongly consistent store, so it holds from the very next request.
 */
import { OAuthError } from '../../shared/errors.ts';
import type { AccessTokenClaims } from '../../shared/schemas.ts';
import { authenticateApiKey } from '../accounts/api-keys.ts';
import { readFamily } from '../accounts/sessions.ts';
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

/** An access token (JWT) or an API key, refused if revoked or expired. */
export async function authenticate(services: Services, token: string): Promise<AccessTokenClaims> {
  if (looksLikeApiKey(token)) return authenticateApiKey(services, token);
  const { store } = services;
  const claims = await verifyOwnAccessToken(services, token);
  const [revoked, family] = await Promise.all([
    store.get(storeKey('revokedAccessToken', claims.jti)),
    claims.sid ? readFamily(services, claims.sid) : null,
  ]);
  if (revoked !== null) throw new OAuthError('invalid_token', 'token was revoked');
  if (claims.sid && (!family || family.revoked)) throw new OAuthError('invalid_token', 'the session was revoked');
  return claims;
}

/** Refuses one access token until it would have expired anyway (RFC 7009). */
export async function revokeAccessToken(services: Services, claims: AccessTokenClaims): Promise<void> {
  const remaining = claims.exp - Math.floor(services.now() / 1000);
  if (remaining <= 0) return;
  await services.store.put(storeKey('revokedAccessToken', claims.jti), '1', remaining + 60);
}
