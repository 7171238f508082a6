/**
 * Verifying a CI runner's OIDC token (GitHub Actions, GitLab, any OpenID issuer). The
 * issuer must be trusted (LATCHKEY_CI_ISSUERS) before anything is fetched for it; its keys
 * come from its discovery document and JWKS, cached per isolate, refetched when a token
 * names a key id not seen yet (at most once per cooldown, so junk kids cannot make us
 * hammer the issuer). Every refusal says which check failed.
 */
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { UPSTREAM_TIMEOUT_MS, upstreamJson } from '../identity/upstream.ts';
import type { Services } from '../services.ts';

/** Asymmetric only: an HS256 token "signed" with a public key must never verify. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];
/** Runners' clocks drift a little; CI tokens live minutes, so a minute of slack is small. */
export const CI_CLOCK_TOLERANCE_SECONDS = 60;
const DISCOVERY_SECONDS = 3600;
const KEYS_MAX_AGE_MS = 10 * 60_000;
const UNKNOWN_KID_COOLDOWN_MS = 5_000;

const Discovery = z.object({ issuer: z.string(), jwks_uri: z.string().url() });
type IssuerKeys = { jwks: ReturnType<typeof createRemoteJWKSet>; fetchedAt: number };
const issuers = new Map<string, IssuerKeys>();

export type CiClaims = JWTPayload & Record<string, unknown> & { iss: string; jti: string; exp: number };

const refuse = (description: string) => new OAuthError('invalid_grant', description);

async function issuerKeys(services: Services, issuer: string): Promise<IssuerKeys> {
  const known = issuers.get(issuer);
  if (known && services.now() - known.fetchedAt < DISCOVERY_SECONDS * 1000) return known;
  let document: unknown;
  try {
    document = await upstreamJson(
      services,
      `${issuer}/.well-known/openid-configuration`,
      {},
      'no discovery document',
      'the CI issuer',
    );
  } catch (error) {
    if (error instanceof OAuthError && error.code === 'temporarily_unavailable') throw error;
    throw new OAuthError('temporarily_unavailable', `the CI issuer ${issuer} published no discovery document`);
  }
  const discovery = Discovery.safeParse(document);
  if (!discovery.success || discovery.data.issuer.replace(/\/$/, '') !== issuer) {
    throw new OAuthError('temporarily_unavailable', `the CI issuer ${issuer} published no usable discovery document`);
  }
  const jwks = createRemoteJWKSet(new URL(discovery.data.jwks_uri), {
    timeoutDuration: UPSTREAM_TIMEOUT_MS,
    cacheMaxAge: KEYS_MAX_AGE_MS,
    cooldownDuration: UNKNOWN_KID_COOLDOWN_MS,
    [customFetch]: (url, init) => services.fetch(url, init),
  });
  const entry = { jwks, fetchedAt: services.now() };
  issuers.set(issuer, entry);
  return entry;
}

/**
 * The unverified issuer without a trailing slash, as LATCHKEY_CI_ISSUERS lists it, for
 * choosing keys; null when the token is not a JWT or names none.
 */
export function claimedIssuer(token: string): string | null {
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' ? iss.replace(/\/$/, '') : null;
  } catch {
    return null;
  }
}

export async function verifyCiToken(services: Services, token: string): Promise<CiClaims> {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw refuse('subject_token is not a JWT');
  }
  if (alg === 'none') throw refuse('subject_token is unsigned (alg "none"); CI tokens must be signed by their issuer');
  if (typeof alg === 'string' && /^HS/i.test(alg)) {
    throw refuse(`subject_token uses ${alg}, a shared-secret algorithm; CI tokens must be signed with the issuer's private key`);
  }
  if (typeof alg !== 'string' || !ALGORITHMS.includes(alg))
    throw refuse('subject_token uses a signing algorithm latchkey does not accept');

  const issuer = claimedIssuer(token);
  if (!issuer) throw refuse('subject_token has no issuer (iss)');
  const trusted = services.config.ciIssuers;
  if (trusted.length === 0) throw refuse('this server trusts no CI issuer (LATCHKEY_CI_ISSUERS is empty)');
  if (!trusted.includes(issuer)) throw refuse(`the issuer ${issuer.slice(0, 200)} is not trusted (LATCHKEY_CI_ISSUERS)`);

  const { jwks } = await issuerKeys(services, issuer);
  try {
    const { payload } = await jwtVerify(token, jwks, {
      issuer: [issuer, `${issuer}/`],
      algorithms: ALGORITHMS,
      currentDate: new Date(services.now()),
      clockTolerance: CI_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'jti'],
    });
    return { ...payload, iss: issuer } as CiClaims;
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw refuse('subject_token has expired');
    if (error instanceof errors.JWTClaimValidationFailed) {
      if (error.claim === 'nbf' || error.claim === 'iat') throw refuse(`subject_token is not valid yet (${error.claim})`);
      if (error.claim === 'jti') throw refuse('subject_token has no jti, so a replay could not be refused');
      throw refuse(`subject_token claim "${error.claim}" check failed`);
    }
    if (error instanceof errors.JWKSNoMatchingKey) throw refuse('subject_token is signed by a key its issuer does not publish');
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      throw refuse("subject_token signature does not verify against the issuer's published keys");
    }
    if (error instanceof errors.JWKSTimeout || error instanceof TypeError) {
      throw new OAuthError('temporarily_unavailable', `the CI issuer ${issuer} did not publish its keys in time; try again`);
    }
    if (error instanceof errors.JOSEError) throw refuse(`subject_token could not be verified (${error.code})`);
    throw error;
  }
}
