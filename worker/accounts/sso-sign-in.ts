/**
 * A sign-in at an org's own provider, through its SSO connection: the same OpenID client
 * as the deployment's (identity/oidc.ts: PKCE, nonce, code redemption, the ID token
 * checked against the provider's keys for issuer, audience, expiry and nonce), with the
 * connection's issuer, client id and opened secret, and latchkey's `/sso/callback` as the
 * redirect URI. The pending sign-in (`ssos:<state>`) is kept on the server, names the org
 * and the connection (by id) it began on, and is consumed by its one answer.
 *
 * Today's one purpose is an admin's test of the connection, which is what lets it be
 * enabled. A test is begun over the API (a CLI, the console) and finished in whatever
 * browser opens the URL, so it is not bound to a browser: whoever completes it proves only
 * that the provider signs someone in for this client, and no session comes of it.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { pkceChallenge } from '../grants/authorization-code.ts';
import { oidcProvider } from '../identity/oidc.ts';
import type { UpstreamIdentity } from '../identity/upstream.ts';
import { atLeast, PERMISSIONS, type Principal } from '../policy/roles.ts';
import type { Services } from '../services.ts';
import { parseRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { base64url, randomBytes } from '../tokens/opaque.ts';
import { type AuditSource, appendAudit } from './audit.ts';
import { readOrg } from './orgs.ts';
import { connectionToTest, markTested, ssoCallbackUri, ssoClientOf } from './sso-connections.ts';

/** As long as a sign-in at the deployment's provider may take. */
export const SSO_SIGN_IN_SECONDS = 600;

const PendingSsoSignIn = z.object({
  purpose: z.literal('test'),
  org: z.string(),
  connectionId: z.string(),
  verifier: z.string(),
  nonce: z.string(),
  /** Who began it (the audit actor of the test's result). */
  startedBy: z.string(),
});

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
  const pending: z.infer<typeof PendingSsoSignIn> = {
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
 * `GET /sso/callback`: the provider's answer. The state is spent first, whatever follows;
 * the connection must still be the one the sign-in began on. A test that worked marks it
 * tested (and says so in the org's audit trail).
 */
export async function finishSsoSignIn(
  services: Services,
  answer: { state: string | undefined; code: string | undefined; error: string | undefined; requestId: string },
): Promise<{ org: string; issuer: string; person: UpstreamIdentity }> {
  if (!answer.state || !/^[\w-]{32}$/.test(answer.state))
    throw new OAuthError('invalid_request', 'the sign-in answer has no valid state');
  const raw = await services.store.consume(storeKey('ssoSignIn', answer.state));
  if (raw === null) throw new OAuthError('invalid_request', 'this sign-in expired or was already used; start again');
  const pending = parseRecord(PendingSsoSignIn, raw);
  if (answer.error)
    throw new OAuthError('access_denied', `the org's identity provider refused the sign-in (${answer.error.slice(0, 64)})`);
  if (!answer.code) throw new OAuthError('invalid_request', "the org's identity provider sent no code");
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
    code: answer.code,
    verifier: pending.verifier,
    nonce: pending.nonce,
    redirectUri: ssoCallbackUri(services),
    authenticatedSince: null,
  });
  const tested = await markTested(services, pending.org, pending.connectionId, pending.startedBy);
  await appendAudit(
    services,
    pending.org,
    { actor: pending.startedBy, requestId: answer.requestId },
    { action: 'sso.connection_tested', subject: tested.issuer, detail: `signed in ${person.email}` },
  );
  return { org: pending.org, issuer: tested.issuer, person };
}
