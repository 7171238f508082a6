/**
 * The `oidc` provider: any OpenID provider (WorkOS AuthKit, Google, Okta, Entra, Auth0).
 * Authorization code + PKCE against the upstream; the ID token is checked with jose for
 * signature, issuer, audience, expiry and the nonce this sign-in sent.
 */
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import type { Config } from '../config.ts';
import type { Services } from '../services.ts';
import { parseRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { base64url, constantTimeEqual, randomBytes } from '../tokens/opaque.ts';
import { assertEmailAllowed } from './dev.ts';

const SIGN_IN_SECONDS = 600;
const METADATA_SECONDS = 3600;
const UPSTREAM_TIMEOUT_MS = 10_000;

const Metadata = z.object({
  issuer: z.string(),
  authorization_endpoint: z.string().url(),
  token_endpoint: z.string().url(),
  jwks_uri: z.string().url(),
  userinfo_endpoint: z.string().url().optional(),
});
type Metadata = z.infer<typeof Metadata>;

const PendingSignIn = z.object({ verifier: z.string(), nonce: z.string(), returnTo: z.string(), browser: z.string() });

type Upstream = { metadata: Metadata; jwks: ReturnType<typeof createRemoteJWKSet>; fetchedAt: number };
/** Per isolate: discovery and keys are fetched once an hour, not per sign-in. */
let cached: (Upstream & { issuer: string }) | undefined;

async function upstream(services: Services, oidc: NonNullable<Config['oidc']>): Promise<Upstream> {
  if (cached && cached.issuer === oidc.issuer && services.now() - cached.fetchedAt < METADATA_SECONDS * 1000) return cached;
  let response: Response;
  try {
    response = await services.fetch(`${oidc.issuer}/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    });
  } catch (cause) {
    throw new OAuthError('temporarily_unavailable', 'the identity provider did not answer; try again', { cause });
  }
  const metadata = Metadata.safeParse(response.ok ? await response.json().catch(() => null) : null);

  if (!metadata.success)
    throw new OAuthError('temporarily_unavailable', 'the identity provider published no usable discovery document');
  if (metadata.data.issuer !== oidc.issuer) {
    throw new OAuthError('access_denied', 'the identity provider’s discovery document names another issuer');
  }
  const jwks = createRemoteJWKSet(new URL(metadata.data.jwks_uri), { timeoutDuration: UPSTREAM_TIMEOUT_MS });
  cached = { issuer: oidc.issuer, metadata: metadata.data, jwks, fetchedAt: services.now() };
  return cached;
}

const callbackUri = (config: Config) => `${config.base}/signin/callback`;

/** Where to send the browser; the state binds the answer to this browser (its CSRF binding). */
export async function startUpstreamSignIn(services: Services, request: { returnTo: string; browser: string }): Promise<string> {
  const oidc = requireOidc(services.config);
  const { metadata } = await upstream(services, oidc);
  const state = base64url(randomBytes(24));
  const pending = { verifier: base64url(randomBytes(32)), nonce: base64url(randomBytes(16)), ...request };
  await services.store.put(storeKey('upstreamSignIn', state), JSON.stringify(pending), SIGN_IN_SECONDS);
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(pending.verifier))));
  const url = new URL(metadata.authorization_endpoint);
  const params = {
    response_type: 'code',
    client_id: oidc.clientId,
    redirect_uri: callbackUri(services.config),
    scope: 'openid email profile',
    state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

/** The upstream's answer: code for tokens, the ID token checked, the person returned. */
export async function finishUpstreamSignIn(
  services: Services,
  answer: { state: string | undefined; code: string | undefined; error: string | undefined; browser: string },
): Promise<{ person: { provider: string; subject: string; email: string }; returnTo: string }> {
  const oidc = requireOidc(services.config);
  if (!answer.state || !/^[\w-]{32}$/.test(answer.state))
    throw new OAuthError('invalid_request', 'the sign-in answer has no valid state');
  const raw = await services.store.consume(storeKey('upstreamSignIn', answer.state));
  if (raw === null) throw new OAuthError('invalid_request', 'this sign-in expired or was already used; start again');
  const pending = parseRecord(PendingSignIn, raw);
  if (!constantTimeEqual(pending.browser, answer.browser)) {
    throw new OAuthError('invalid_request', 'this sign-in was started in another browser; start again here', { status: 403 });
  }
  if (answer.error)
    throw new OAuthError('access_denied', `the identity provider refused the sign-in (${answer.error.slice(0, 64)})`);
  if (!answer.code) throw new OAuthError('invalid_request', 'the identity provider sent no code');

  const { metadata, jwks } = await upstream(services, oidc);
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: answer.code,
    redirect_uri: callbackUri(services.config),
    client_id: oidc.clientId,
    code_verifier: pending.verifier,
    ...(oidc.clientSecret ? { client_secret: oidc.clientSecret } : {}),
  });
  let tokens: unknown;
  try {
    const response = await services.fetch(metadata.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    });
    tokens = await response.json().catch(() => null);
    if (!response.ok) throw new OAuthError('access_denied', 'the identity provider would not redeem its code');
  } catch (cause) {
    if (cause instanceof OAuthError) throw cause;
    throw new OAuthError('temporarily_unavailable', 'the identity provider did not answer; try again', { cause });
  }
  const issued = z.object({ id_token: z.string(), access_token: z.string().optional() }).safeParse(tokens);
  if (!issued.success) throw new OAuthError('access_denied', 'the identity provider returned no ID token');

  const idClaims = await verifyIdToken(issued.data.id_token, jwks, {
    issuer: metadata.issuer,
    audience: oidc.clientId,
    nonce: pending.nonce,
    now: services.now(),
  });
  // Providers may keep the email for the userinfo endpoint (OIDC Core §5.4); ask there, for the same `sub`.
  const claims =
    typeof idClaims.email === 'string' ? idClaims : await userinfo(services, metadata, issued.data.access_token, idClaims);
  if (typeof claims.email !== 'string' || claims.email_verified === false) {
    throw new OAuthError('access_denied', 'the identity provider did not vouch for an email address');
  }
  const email = claims.email.toLowerCase();
  assertEmailAllowed(services.config, email);
  return { person: { provider: `oidc:${metadata.issuer}`, subject: String(claims.sub), email }, returnTo: pending.returnTo };
}

async function userinfo(
  services: Services,
  metadata: Metadata,
  accessToken: string | undefined,
  idClaims: JWTPayload,
): Promise<JWTPayload> {
  if (!metadata.userinfo_endpoint || !accessToken) return idClaims;
  try {
    const response = await services.fetch(metadata.userinfo_endpoint, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    });
    const body = (await response.json().catch(() => null)) as JWTPayload | null;
    if (!response.ok || !body || body.sub !== idClaims.sub) return idClaims;
    return { ...idClaims, email: body.email, email_verified: body.email_verified };
  } catch (cause) {
    throw new OAuthError('temporarily_unavailable', 'the identity provider did not answer; try again', { cause });
  }
}

export async function verifyIdToken(
  token: string,
  keys: ReturnType<typeof createRemoteJWKSet>,
  expected: { issuer: string; audience: string; nonce: string; now: number },
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, keys, {
      issuer: expected.issuer,
      audience: expected.audience,
      currentDate: new Date(expected.now),
      clockTolerance: 30,
      requiredClaims: ['sub', 'exp', 'iat'],
    });
    if (typeof payload.nonce !== 'string' || !constantTimeEqual(payload.nonce, expected.nonce)) {
      throw new OAuthError('access_denied', 'the ID token’s nonce does not match this sign-in');
    }
    return payload;
  } catch (error) {
    if (error instanceof OAuthError) throw error;
    if (error instanceof errors.JWTClaimValidationFailed) {
      throw new OAuthError('access_denied', `the ID token’s "${error.claim}" claim is wrong`);
    }
    if (error instanceof errors.JWTExpired) throw new OAuthError('access_denied', 'the ID token has expired');
    throw new OAuthError('access_denied', 'the ID token’s signature does not verify');
  }
}

function requireOidc(config: Config): NonNullable<Config['oidc']> {
  if (!config.oidc) throw new OAuthError('access_denied', 'no OpenID provider is configured');
  return config.oidc;
}
