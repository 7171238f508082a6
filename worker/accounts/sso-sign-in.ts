/**
 * A sign-in at an org's own provider, through its SSO connection: the same OpenID client
 * as the deployment's (identity/oidc.ts: PKCE, nonce, code redemption, the ID token
 * checked against the provider's keys for issuer, audience, expiry and nonce), with the
 * connection's issuer, client id and opened secret, and latchkey's `/sso/callback` as the
 * redirect URI. The pending sign-in (`ssos:<state>`) is kept on the server, names the org
 * and the connection (by id) it began on, and is consumed by its one answer.
 *
 * Two purposes. An admin's `test` of the connection, which is what lets it be enabled: it
 * is begun over the API (a CLI, the console) and finished in whatever browser opens the
 * URL, so it is not bound to a browser: whoever completes it proves only that the provider
 * signs someone in for this client, and no session comes of it. And a person's `sign-in`
 * (home-realm discovery, accounts/sso-realm.ts): bound to the browser that began it, as the
 * deployment's own upstream sign-in is, and trusted only for an email the org's verified
 * domains cover (the org's provider speaks for its own domains, never another org's or
 * anyone else's). The tenant provider's `amr` is not trusted: a person with a second factor
 * is asked for it as after any other first step. Nor does it sign in the deployment's
 * operators (LATCHKEY_OPERATORS): their power is the deployment's, not an org admin's to hand out.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { pkceChallenge } from '../grants/authorization-code.ts';
import { assertEmailAllowed } from '../identity/dev.ts';
import { oidcProvider } from '../identity/oidc.ts';
import type { UpstreamIdentity } from '../identity/upstream.ts';
import { atLeast, PERMISSIONS, type Principal } from '../policy/roles.ts';
import type { Services } from '../services.ts';
import { parseRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { base64url, constantTimeEqual, randomBytes } from '../tokens/opaque.ts';
import { type AuditSource, appendAudit } from './audit.ts';
import { readOrg } from './orgs.ts';
import { connectionToTest, markTested, ssoCallbackUri, ssoClientOf, ssoConnectionOf } from './sso-connections.ts';
import { joinBySso } from './sso-membership.ts';
import { canonicalEmail, isOperatorEmail, realmOf } from './sso-realm.ts';

/** As long as a sign-in at the deployment's provider may take. */
export const SSO_SIGN_IN_SECONDS = 600;

const PendingTest = z.object({
  purpose: z.literal('test'),
  org: z.string(),
  connectionId: z.string(),
  verifier: z.string(),
  nonce: z.string(),
  /** Who began it (the audit actor of the test's result). */
  startedBy: z.string(),
});
const PendingPersonSignIn = z.object({
  purpose: z.literal('sign-in'),
  org: z.string(),
  connectionId: z.string(),
  verifier: z.string(),
  nonce: z.string(),
  /** The browser that began it (http/browser.ts browserId): only it may finish it. */
  browser: z.string(),
  returnTo: z.string(),
  /** When a re-authentication began (ms); null for a first sign-in. */
  reauthSince: z.number().nullable(),
});
const PendingSsoSignIn = z.discriminatedUnion('purpose', [PendingTest, PendingPersonSignIn]);

/** `POST /v1/orgs/{org}/sso/test`: the provider's authorization URL for a test sign-in. */
export async function startTestSignIn(
  services: Services,
  principal: Principal,
  slug: string,
  source: AuditSource,
): Promise<{ authorization_url: string; expires_in: number }> {
  const connection = await connectionToTest(services, principal, slug);
  const client = await ssoClientOf(services, slug, connection.id);
  const state = base64url(randomBytes(24));
  const pending: z.infer<typeof PendingTest> = {
    purpose: 'test',
    org: slug,
    connectionId: connection.id,
    verifier: base64url(randomBytes(32)),
    nonce: base64url(randomBytes(16)),
    startedBy: source.actor,
  };
  // The URL first: a provider that cannot be reached now leaves no pending sign-in behind.
  const url = await oidcProvider(client).authorizationUrl(services, {
    state,
    nonce: pending.nonce,
    challenge: await pkceChallenge(pending.verifier),
    redirectUri: ssoCallbackUri(services),
    reauthenticate: false,
  });
  await services.store.put(storeKey('ssoSignIn', state), JSON.stringify(pending), SSO_SIGN_IN_SECONDS);
  return { authorization_url: url, expires_in: SSO_SIGN_IN_SECONDS };
}

/**
 * Home-realm discovery's way out: the org's provider's authorization URL for a person's
 * sign-in, `login_hint` the email they typed (the provider may prefill it; what it signs in
 * is checked at the callback, never taken from here).
 */
export async function startOrgSignIn(
  services: Services,
  request: {
    org: string;
    connectionId: string;
    email: string;
    returnTo: string;
    browser: string;
    reauthenticate: boolean;
  },
): Promise<string> {
  const client = await ssoClientOf(services, request.org, request.connectionId);
  const state = base64url(randomBytes(24));
  const pending: z.infer<typeof PendingPersonSignIn> = {
    purpose: 'sign-in',
    org: request.org,
    connectionId: request.connectionId,
    verifier: base64url(randomBytes(32)),
    nonce: base64url(randomBytes(16)),
    browser: request.browser,
    returnTo: request.returnTo,
    reauthSince: request.reauthenticate ? services.now() : null,
  };
  const url = new URL(
    await oidcProvider(client).authorizationUrl(services, {
      state,
      nonce: pending.nonce,
      challenge: await pkceChallenge(pending.verifier),
      redirectUri: ssoCallbackUri(services),
      reauthenticate: request.reauthenticate,
    }),
  );
  url.searchParams.set('login_hint', request.email);
  await services.store.put(storeKey('ssoSignIn', state), JSON.stringify(pending), SSO_SIGN_IN_SECONDS);
  return url.href;
}

export type SsoAnswer = {
  state: string | undefined;
  code: string | undefined;
  error: string | undefined;
  requestId: string;
  /** The browser the answer came to (http/browser.ts browserId). */
  browser: string;
};

export type SsoOutcome =
  | { purpose: 'test'; org: string; issuer: string; person: UpstreamIdentity }
  | { purpose: 'sign-in'; org: string; person: UpstreamIdentity; returnTo: string; joined: boolean };

/**
 * `GET /sso/callback`: the provider's answer. The state is spent first, whatever follows;
 * the connection must still be the one the sign-in began on.
 */
export async function finishSsoSignIn(services: Services, answer: SsoAnswer): Promise<SsoOutcome> {
  if (!answer.state || !/^[\w-]{32}$/.test(answer.state))
    throw new OAuthError('invalid_request', 'the sign-in answer has no valid state');
  const raw = await services.store.consume(storeKey('ssoSignIn', answer.state));
  if (raw === null) throw new OAuthError('invalid_request', 'this sign-in expired or was already used; start again');
  const pending = parseRecord(PendingSsoSignIn, raw);
  if (pending.purpose === 'sign-in' && !constantTimeEqual(pending.browser, answer.browser)) {
    throw new OAuthError('invalid_request', 'this sign-in was started in another browser; start again here', { status: 403 });
  }
  if (answer.error)
    throw new OAuthError('access_denied', `the org's identity provider refused the sign-in (${answer.error.slice(0, 64)})`);
  if (!answer.code) throw new OAuthError('invalid_request', "the org's identity provider sent no code");
  return pending.purpose === 'test'
    ? finishTest(services, pending, answer.code, answer.requestId)
    : finishPersonSignIn(services, pending, answer.code, answer.requestId);
}

/** A test that worked marks the connection tested (and says so in the org's audit trail). */
async function finishTest(
  services: Services,
  pending: z.infer<typeof PendingTest>,
  code: string,
  requestId: string,
): Promise<SsoOutcome> {
  // Whoever began the test must still be one who may: an admin removed or demoted meanwhile
  // marks nothing tested with a sign-in begun before.
  const org = await readOrg(services, pending.org);
  const role = org.members[pending.startedBy.toLowerCase()];
  if (!role || !atLeast(role, PERMISSIONS['domains:write'])) {
    throw new OAuthError(
      'forbidden',
      `whoever began this test is no longer an admin of org "${pending.org}"; an admin must start it again`,
    );
  }
  const client = await ssoClientOf(services, pending.org, pending.connectionId);
  const person = await oidcProvider(client).identify(services, {
    code,
    verifier: pending.verifier,
    nonce: pending.nonce,
    redirectUri: ssoCallbackUri(services),
    authenticatedSince: null,
  });
  const tested = await markTested(services, pending.org, pending.connectionId, pending.startedBy);
  await appendAudit(
    services,
    pending.org,
    { actor: pending.startedBy, requestId },
    { action: 'sso.connection_tested', subject: tested.issuer, detail: `signed in ${person.email}` },
  );
  return { purpose: 'test', org: pending.org, issuer: tested.issuer, person };
}

/**
 * A person's sign-in through their org's connection. The connection must still be the one
 * it began on and still enabled; the ID token is checked as any (issuer, audience, nonce,
 * expiry, a verified email); and the email must be one the org's verified domains cover
 * now (the most specific verified domain, accounts/sso-realm.ts): org A's provider vouches
 * for no address of org B's domains, nor of anyone's else. The operator's
 * LATCHKEY_ALLOWED_EMAIL_DOMAINS holds here too: it is above orgs.
 */
async function finishPersonSignIn(
  services: Services,
  pending: z.infer<typeof PendingPersonSignIn>,
  code: string,
  requestId: string,
): Promise<SsoOutcome> {
  const connection = await ssoConnectionOf(services, pending.org);
  if (connection?.id !== pending.connectionId || !connection.enabled) {
    throw new OAuthError(
      'access_denied',
      `org "${pending.org}"'s single sign-on changed or was turned off since this sign-in began; start again`,
    );
  }
  const client = await ssoClientOf(services, pending.org, pending.connectionId);
  const said = await oidcProvider(client).identify(services, {
    code,
    verifier: pending.verifier,
    nonce: pending.nonce,
    redirectUri: ssoCallbackUri(services),
    authenticatedSince: pending.reauthSince,
  });
  const email = canonicalEmail(said.email);
  const realm = await realmOf(services, email);
  if (realm?.org !== pending.org) {
    throw new OAuthError(
      'access_denied',
      `org "${pending.org}"'s identity provider signed in ${email}, whose domain is not one of the org's verified domains; it can sign in only its own domains' people`,
    );
  }
  assertEmailAllowed(services.config, email);
  // An operator's power is the deployment's to give: its own provider vouches for them, never an org's.
  if (isOperatorEmail(services.config.operators, email)) {
    throw new OAuthError(
      'access_denied',
      `${email} signs in through this server’s own identity provider only, not an org’s: leave the email empty on the sign-in page`,
    );
  }
  // A tenant's provider is an org admin's word: its `mfa` proves no second factor here.
  const { secondFactor: _, ...person } = said;
  const joined =
    connection.jitRole === null
      ? false
      : await joinBySso(services, { org: pending.org, email, role: connection.jitRole, issuer: connection.issuer, requestId });
  return { purpose: 'sign-in', org: pending.org, person: { ...person, email }, returnTo: pending.returnTo, joined };
}
