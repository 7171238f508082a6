/**
 * Turns a presented Bearer credential into the claims it carries, refusing it if it was
 * revoked: by its own `jti`, by the `jti` of any token it was narrowed from
 * (`narrowed_from`), or through its session (`sid`). Revocation is read from the
 * strongly consistent store, or from a copy younger than the bound every revocation waits
 * out before it answers (accounts/isolate-cache.ts), so it holds from the next request.
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
 * this token or one it was narrowed from revoked), read at most once per cache bound per
 * isolate; a narrowed token, and a token without a session (CI), also against the `jti`
 * records of itself and of the tokens it was narrowed from, read every time, side by side.
 */
export async function authenticate(services: Services, token: string): Promise<AccessTokenClaims> {
  if (looksLikeApiKey(token, services.config.branding.accepted.apiKey)) return authenticateApiKey(services, token);
  const claims = await verifyOwnAccessToken(services, token);
  const ancestors = claims.narrowed_from ?? [];
  const sid = claims.sid;
  // Narrowed tokens, and tokens without a session (CI), are revoked one by one in `jti`
  // records: read side by side with the session's, and only for such tokens.
  const [family, records] = await Promise.all([
    sid ? services.sessions.get(sid, () => readFamily(services, sid)) : null,
    sid && ancestors.length === 0 ? null : revokedRecords(services, [claims.jti, ...ancestors]),
  ]);
  if (sid) {
    if (!family || family.revoked) throw new OAuthError('invalid_token', 'the session was revoked');
    // A narrowed token keeps its subject's session, where the session's own tokens are revoked.
    for (const { jti } of family.revokedTokens) {
      if (jti === claims.jti) throw new OAuthError('invalid_token', 'token was revoked');
      if (ancestors.includes(jti)) throw new OAuthError('invalid_token', REVOKED_ANCESTOR);
    }
  }
  if (records) {
    const [own, ...above] = records;
    if (own !== null) throw new OAuthError('invalid_token', 'token was revoked');
    if (above.some((record) => record !== null)) throw new OAuthError('invalid_token', REVOKED_ANCESTOR);
  }
  return claims;
}

const revokedRecords = (services: Services, jtis: string[]) =>
  Promise.all(jtis.map((jti) => services.store.get(storeKey('revokedAccessToken', jti))));

const REVOKED_ANCESTOR = 'a token this one was narrowed from was revoked';

/**
 * Refuses one access token until it would have expired anyway (RFC 7009), and with it every
 * token narrowed from it: those name it in `narrowed_from` and expire no later than it.
 */
export async function revokeAccessToken(services: Services, claims: AccessTokenClaims, requestId: string): Promise<void> {
  const remaining = claims.exp - Math.floor(services.now() / 1000);
  if (remaining <= 0) return;
  // A session's own tokens are revoked in its record, which holds at most 50 before the
  // session ends; a narrowed token is not, so revoking many of them (anyone holding one can
  // narrow it again and again) never ends the session it was narrowed from.
  if (claims.sid && !claims.narrowed_from?.length) {
    const source = { actor: claims.email ?? claims.sub, requestId };
    return revokeSessionToken(services, claims.sid, { jti: claims.jti, exp: claims.exp }, source);
  }
  await services.store.put(storeKey('revokedAccessToken', claims.jti), '1', remaining + 60);
}
