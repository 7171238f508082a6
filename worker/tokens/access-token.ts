/** Access tokens: short-lived JWTs anyone can verify offline against the JWKS. */
import { errors, jwtVerify, SignJWT } from 'jose';
import { OAuthError } from '../../shared/errors.ts';
import { AccessTokenClaims } from '../../shared/schemas.ts';
import type { KeySet } from './signing-keys.ts';

/** Some resource servers run a little behind; a few seconds is all the slack we give. */
const CLOCK_TOLERANCE_SECONDS = 5;

export type AccessTokenInput = Omit<AccessTokenClaims, 'iss' | 'aud' | 'iat' | 'exp'>;

export async function signAccessToken(
  keys: KeySet,
  input: AccessTokenInput,
  options: { issuer: string; audience: string; ttlSeconds: number; now: number },
): Promise<{ token: string; claims: AccessTokenClaims }> {
  const iat = Math.floor(options.now / 1000);
  const claims: AccessTokenClaims = {
    ...input,
    iss: options.issuer,
    aud: options.audience,
    iat,
    exp: iat + options.ttlSeconds,
  };
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: keys.current.alg, kid: keys.current.kid, typ: 'at+jwt' })
    .sign(keys.current.key);
  return { token, claims };
}

/** Looks like a JWT: three base64url parts. Cheap, so other token kinds skip jose. */
export function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);
}

/**
 * Tokens this isolate has verified, by their whole text, per key set: a signature checked
 * once stays good, so a client presenting the same token again skips the crypto; expiry,
 * issuer and audience are still checked on every use. Oldest dropped first past the bound.
 */
const verified = new WeakMap<KeySet, Map<string, AccessTokenClaims>>();
const MAX_VERIFIED = 10_000;

/** Verifies signature, issuer, audience and expiry; throws `invalid_token` saying which failed. */
export async function verifyAccessToken(
  keys: KeySet,
  token: string,
  options: { issuer: string; audience: string; now: number },
): Promise<AccessTokenClaims> {
  let known = verified.get(keys);
  const hit = known?.get(token);
  if (hit && hit.iss === options.issuer && hit.aud === options.audience) {
    if (hit.exp + CLOCK_TOLERANCE_SECONDS <= Math.floor(options.now / 1000))
      throw new OAuthError('invalid_token', 'token expired');
    return hit;
  }
  const claims = await verifyWithJose(keys, token, options);
  if (!known) verified.set(keys, (known = new Map()));
  if (known.size >= MAX_VERIFIED) known.delete(known.keys().next().value as string);
  known.set(token, Object.freeze(claims));
  return claims;
}

async function verifyWithJose(
  keys: KeySet,
  token: string,
  options: { issuer: string; audience: string; now: number },
): Promise<AccessTokenClaims> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const found = header.kid ? keys.verifyKeys.get(header.kid) : undefined;
        if (!found || found.alg !== header.alg) throw new OAuthError('invalid_token', 'token signed by an unknown key');
        return found.key;
      },
      {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ['EdDSA', 'ES256'],
        typ: 'at+jwt',
        currentDate: new Date(options.now),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      },
    );
    const claims = AccessTokenClaims.safeParse(payload);
    if (!claims.success) throw new OAuthError('invalid_token', 'token claims are malformed');
    return claims.data;
  } catch (error) {
    if (error instanceof OAuthError) throw error;
    if (error instanceof errors.JWTExpired) throw new OAuthError('invalid_token', 'token expired');
    if (error instanceof errors.JWTClaimValidationFailed) {
      throw new OAuthError('invalid_token', `token claim "${error.claim}" check failed`);
    }
    throw new OAuthError('invalid_token', 'token signature or format is invalid');
  }
}
