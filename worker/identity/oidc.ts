/**
 * The `oidc` provider: any OpenID provider (WorkOS AuthKit, Google, Okta, Entra, Auth0).
 * Authorization code + PKCE against the upstream; the ID token is checked with jose for
 * signature, issuer, audience, expiry and the nonce this sign-in sent.
 */
import { createRemoteJWKSet, customFetch, errors, type JWTPayload, jwtVerify } from 'jose';
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { isLoopbackUrl } from '../config.ts';
import type { Services } from '../services.ts';
import { constantTimeEqual } from '../tokens/opaque.ts';
import { tenantUrl } from './tenant-url.ts';
import { boundedFetch, UPSTREAM_TIMEOUT_MS, type UpstreamProvider, upstreamJson } from './upstream.ts';

const METADATA_SECONDS = 3600;
/** Providers whose discovery an isolate keeps at once (the deployment's and orgs' connections). */
const CACHED_PROVIDERS = 100;

/**
 * An OpenID client of latchkey's: the deployment's own provider (LATCHKEY_OIDC_*) or an
 * org's SSO connection. `tenant`: the provider is an org admin's word, not the operator's,
 * so every address its discovery document names must be one an org may have the server use
 * (identity/tenant-url.ts).
 */
export type OidcClient = {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  emailsVerified: boolean;
  /** Whether `mfa` in its ID tokens' `amr` counts as a second factor: only on the operator's word (LATCHKEY_OIDC_TRUST_AMR). */
  trustAmr?: boolean;
  tenant?: boolean;
};

const Metadata = z.object({
  issuer: z.string(),
  authorization_endpoint: z.string().url(),
  token_endpoint: z.string().url(),
  jwks_uri: z.string().url(),
  userinfo_endpoint: z.string().url().optional(),
});
type Metadata = z.infer<typeof Metadata>;

type Upstream = { metadata: Metadata; jwks: ReturnType<typeof createRemoteJWKSet>; fetchedAt: number };
/** Per isolate: discovery and keys are fetched once an hour per provider, not per sign-in. */
const cached = new Map<string, Upstream>();

/**
 * The provider's discovery document (OpenID Connect Discovery §4), fetched now: bounded in
 * time and size, no redirect followed, its `issuer` exactly the one configured (§4.3), and
 * every endpoint https (plain http only on loopback; a tenant's also public, see tenant-url.ts).
 */
export async function discoverProvider(
  services: Services,
  client: OidcClient,
  timeoutMs = UPSTREAM_TIMEOUT_MS,
): Promise<Metadata> {
  // §4.1: a trailing slash of the issuer is not doubled.
  const document = await upstreamJson(
    services,
    `${client.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
    {},
    'the identity provider published no discovery document',
    'the identity provider',
    timeoutMs,
  );
  const metadata = Metadata.safeParse(document);
  if (!metadata.success)
    throw new OAuthError('temporarily_unavailable', 'the identity provider published no usable discovery document');
  if (metadata.data.issuer !== client.issuer) {
    throw new OAuthError('access_denied', 'the identity provider’s discovery document names another issuer');
  }
  for (const name of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint'] as const) {
    const value = metadata.data[name];
    if (value === undefined) continue;
    const what = `the identity provider’s ${name}`;
    if (client.tenant) {
      tenantUrl(value, services.config.loopback, what);
      continue;
    }
    const url = new URL(value);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackUrl(url)))
      throw new OAuthError('access_denied', `${what} must be https (plain http only on loopback)`);
  }
  return metadata.data;
}

async function upstream(services: Services, oidc: OidcClient): Promise<Upstream> {
  const key = `${oidc.tenant ? 'tenant' : 'operator'} ${oidc.issuer}`;
  const known = cached.get(key);
  if (known && services.now() - known.fetchedAt < METADATA_SECONDS * 1000) return known;
  const metadata = await discoverProvider(services, oidc);
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), {
    timeoutDuration: UPSTREAM_TIMEOUT_MS,
    // The key set is read as any upstream answer is: through the app's fetch, bounded in size.
    [customFetch]: boundedFetch(services),
  });
  const fresh = { metadata, jwks, fetchedAt: services.now() };
  cached.delete(key);
  if (cached.size >= CACHED_PROVIDERS) cached.delete(cached.keys().next().value as string);
  cached.set(key, fresh);
  return fresh;
}

/** The `oidc` provider for LATCHKEY_IDENTITY=oidc, and for an org's SSO connection. */
export function oidcProvider(oidc: OidcClient): UpstreamProvider {
  return {
    async authorizationUrl(services, request) {
      const { metadata } = await upstream(services, oidc);
      const url = new URL(metadata.authorization_endpoint);
      const params = {
        response_type: 'code',
        client_id: oidc.clientId,
        redirect_uri: request.redirectUri,
        scope: 'openid email profile',
        state: request.state,
        nonce: request.nonce,
        code_challenge: request.challenge,
        code_challenge_method: 'S256',
        // OIDC Core §3.1.2.1: prompt for the credentials again, and say when in `auth_time`.
        ...(request.reauthenticate ? { prompt: 'login', max_age: '0' } : {}),
      };
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
      return url.href;
    },

    async identify(services, answer) {
      const { metadata, jwks } = await upstream(services, oidc);
      const body = new URLSearchParams({
        grant_type: 'authorization_code',
        code: answer.code,
        redirect_uri: answer.redirectUri,
        client_id: oidc.clientId,
        code_verifier: answer.verifier,
        ...(oidc.clientSecret ? { client_secret: oidc.clientSecret } : {}),
      });
      const tokens = await upstreamJson(
        services,
        metadata.token_endpoint,
        { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
        'the identity provider would not redeem its code',
      );
      const issued = z.object({ id_token: z.string(), access_token: z.string().optional() }).safeParse(tokens);
      if (!issued.success) throw new OAuthError('access_denied', 'the identity provider returned no ID token');
      const idClaims = await verifyIdToken(issued.data.id_token, jwks, {
        issuer: metadata.issuer,
        audience: oidc.clientId,
        nonce: answer.nonce,
        now: services.now(),
      });
      if (answer.authenticatedSince !== null) assertReauthenticated(idClaims, answer.authenticatedSince);
      // Providers may keep the email for the userinfo endpoint (OIDC Core §5.4); ask there, for the same `sub`.
      const claims =
        typeof idClaims.email === 'string' ? idClaims : await userinfo(services, metadata, issued.data.access_token, idClaims);
      const email = vouchedEmail(claims, oidc.emailsVerified);
      // A provider answering from its own session did not ask the person anything now: the sign-in
      // is as recent as its `auth_time` says. (One that says nothing is taken at its word as now.)
      const authenticatedAt = typeof idClaims.auth_time === 'number' ? idClaims.auth_time * 1000 : undefined;
      const stated = statedAmr(idClaims).amr;
      const secondFactor = oidc.trustAmr === true && stated?.includes('mfa') === true;
      // An untrusted provider's `amr` is not repeated at all: in latchkey's own `amr` (and so in
      // its tokens) `mfa`, `hwk` or `otp` would claim what no one vouched for.
      const said = secondFactor && stated ? { amr: stated } : {};
      return { provider: `oidc:${metadata.issuer}`, subject: String(claims.sub), email, authenticatedAt, ...said, secondFactor };
    },
  };
}

/**
 * A re-authentication counts only if the provider says, in `auth_time` (which `max_age`
 * makes it send), that the person signed in after it was asked: a provider that answered
 * from its own session without asking has not confirmed anything.
 */
function assertReauthenticated(claims: JWTPayload, since: number): void {
  const at = claims.auth_time;
  if (typeof at !== 'number' || at * 1000 < since - REAUTH_CLOCK_SKEW_MS) {
    throw new OAuthError(
      'access_denied',
      'the identity provider did not ask you to sign in again (its ID token’s auth_time is missing or older than this confirmation)',
    );
  }
}

/** How far the provider's clock may be behind ours when it says when the person signed in. */
const REAUTH_CLOCK_SKEW_MS = 30_000;

/**
 * The email to sign in as: only one the provider marks verified with a boolean `true`
 * (OIDC Core §5.1). A missing claim or the string "false" proves nothing, unless the
 * operator says this provider issues verified addresses only (LATCHKEY_OIDC_EMAILS_VERIFIED);
 * an explicit `false` is refused even then.
 */
export function vouchedEmail(claims: JWTPayload, emailsVerified: boolean): string {
  if (typeof claims.email !== 'string' || claims.email === '') {
    throw new OAuthError('access_denied', 'the identity provider did not vouch for an email address (it sent none)');
  }
  const verified = claims.email_verified;
  if (verified === true || (verified === undefined && emailsVerified)) return claims.email.toLowerCase();
  const said =
    verified === undefined
      ? 'it did not send email_verified'
      : `email_verified is ${(JSON.stringify(verified) ?? typeof verified).slice(0, 40)}; only true counts`;
  throw new OAuthError('access_denied', `the identity provider did not vouch for an email address (${said})`);
}

async function userinfo(
  services: Services,
  metadata: Metadata,
  accessToken: string | undefined,
  idClaims: JWTPayload,
): Promise<JWTPayload> {
  if (!metadata.userinfo_endpoint || !accessToken) return idClaims;
  const body = (await upstreamJson(
    services,
    metadata.userinfo_endpoint,
    { headers: { authorization: `Bearer ${accessToken}` } },
    'the identity provider would not say who signed in',
  )) as JWTPayload;
  if (body.sub !== idClaims.sub) return idClaims;
  return { ...idClaims, email: body.email, email_verified: body.email_verified };
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

/** The ID token's `amr` when it is a short list of short names (RFC 8176 values), else nothing. */
function statedAmr(claims: JWTPayload): { amr?: string[] } {
  const amr = claims.amr;
  if (!Array.isArray(amr) || amr.length === 0 || amr.length > 8) return {};
  return amr.every((value) => typeof value === 'string' && /^[\w.-]{1,32}$/.test(value)) ? { amr: amr as string[] } : {};
}
