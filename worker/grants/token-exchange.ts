/**
 * RFC 8693 token exchange, two ways in. A CI runner's OIDC token becomes a short-lived
 * latchkey token when a trust policy for the requested project matches its claims; its
 * `jti` is spent on the way, so a stolen token works once at most. And a latchkey access
 * token becomes a narrower one: bound to one project, fewer scopes, no longer-lived.
 *
 * Refusals name the check that failed, never which policies exist; the operators' dry-run
 * (`dryRunCiToken`) is where a policy's failing condition is shown.
 */
import { OAuthError } from '../../shared/errors.ts';
import { TOKEN_TYPE, type TokenExchangeResponse } from '../../shared/schemas.ts';
import type { DryRunResponse, TrustPolicy } from '../../shared/trust-policy.ts';
import { policiesForToken } from '../accounts/trust-policies.ts';
import { CI_CLOCK_TOLERANCE_SECONDS, type CiClaims, claimedIssuer, verifyCiToken } from '../policy/ci-token.ts';
import { type ClaimFailure, policyFailures } from '../policy/trust-policy.ts';
import type { Services } from '../services.ts';
import { storeKey } from '../store/store.ts';
import { type AccessTokenInput, signAccessToken } from '../tokens/access-token.ts';
import { authenticate } from '../tokens/credential.ts';
import { generateId } from '../tokens/opaque.ts';
import { narrowScope } from './issue.ts';

export type ExchangeRequest = { subjectToken: string; project: string | undefined; scope: string | undefined; clientId: string };

const nowSeconds = (services: Services) => Math.floor(services.now() / 1000);

type Evaluated = { policy: TrustPolicy; failed: ClaimFailure[] };

/**
 * Every policy that could apply — this issuer, and the named project if one was named —
 * with the conditions the claims fail (none: it matches).
 */
const evaluatePolicies = (policies: TrustPolicy[], claims: CiClaims, project: string | undefined): Evaluated[] =>
  policies
    .filter((policy) => !project || policy.grant.project === project)
    .map((policy) => ({ policy, failed: policyFailures(policy, claims) }));

/**
 * The exchange's decision, which the dry-run reports without acting on: the one matching
 * policy, or the refusal the token would get. Several matches are fine when they grant
 * the same project of the same org; the first one wins.
 */
function decide(policies: TrustPolicy[], claims: CiClaims, project: string | undefined): TrustPolicy | OAuthError {
  const audiences = new Set(Array.isArray(claims.aud) ? claims.aud : [claims.aud]);
  if (!policies.some((policy) => audiences.has(policy.audience))) {
    return new OAuthError('invalid_grant', "subject_token's audience (aud) is not one this server accepts from its issuer");
  }
  const matching = evaluatePolicies(policies, claims, project)
    .filter(({ failed }) => failed.length === 0)
    .map(({ policy }) => policy);
  const targets = new Set(matching.map((policy) => `${policy.org ?? ''}/${policy.grant.project}`));
  if (targets.size > 1)
    return new OAuthError('invalid_target', 'this token may be exchanged for several projects; name one with audience');
  return (
    matching[0] ??
    new OAuthError(
      'invalid_grant',
      project
        ? `no trust policy for project "${project}" matches this token's claims`
        : "no trust policy matches this token's claims",
    )
  );
}

/** A CI token lives the policy's max_ttl or LATCHKEY_CI_TOKEN_TTL, whichever is shorter. */
const ciTokenTtl = (services: Services, policy: TrustPolicy) =>
  Math.min(policy.grant.max_ttl ?? services.config.ttl.ciToken, services.config.ttl.ciToken);

export async function exchangeCiToken(services: Services, request: ExchangeRequest): Promise<TokenExchangeResponse> {
  const { store, hasher } = services;
  const claims = await verifyCiToken(services, request.subjectToken);
  const policy = decide(await policiesForToken(services, claims), claims, request.project);
  if (policy instanceof OAuthError) throw policy;
  const scope = narrowScope(policy.grant.scopes.join(' '), request.scope);
  if (scope === null) throw new OAuthError('invalid_scope', 'scope is wider than the trust policy grants');

  // Spent last, so a refused exchange does not burn the runner's token.
  const replayKey = storeKey('ciTokenId', await hasher.hash('cij', `${claims.iss} ${claims.jti}`));
  const keepFor = Math.max(1, claims.exp - nowSeconds(services) + CI_CLOCK_TOLERANCE_SECONDS);
  if (!(await store.swap(replayKey, null, '1', keepFor))) {
    throw new OAuthError('invalid_grant', 'subject_token was already exchanged (its jti was seen before); request a new one');
  }
  const ttl = ciTokenTtl(services, policy);
  return issue(
    services,
    {
      sub: typeof claims.sub === 'string' ? claims.sub : `ci:${policy.id}`,
      jti: generateId(),
      scope,
      org: policy.org,
      project: policy.grant.project,
      kind: 'ci',
      sid: null,
      client_id: request.clientId,
    },
    ttl,
  );
}

/** A latchkey access token for a narrower one: one project, a subset of its scopes. */
export async function narrowAccessToken(services: Services, request: ExchangeRequest): Promise<TokenExchangeResponse> {
  let claims: Awaited<ReturnType<typeof authenticate>>;
  try {
    claims = await authenticate(services, request.subjectToken);
  } catch (error) {
    if (error instanceof OAuthError && error.code === 'invalid_token')
      throw new OAuthError('invalid_grant', `subject_token: ${error.message}`);
    throw error;
  }
  // A token made from a key would outlive the key's revocation by its lifetime; keys are
  // scoped when they are created instead.
  if (claims.kind === 'api_key') throw new OAuthError('invalid_grant', 'subject_token: API keys cannot be exchanged');
  if (claims.project && request.project && claims.project !== request.project) {
    throw new OAuthError(
      'invalid_target',
      `subject_token is bound to project "${claims.project}"; it cannot be exchanged for another`,
    );
  }
  const project = request.project ?? claims.project;
  if (!project) throw new OAuthError('invalid_request', 'name the project to narrow the token to with audience');
  const scope = narrowScope(claims.scope, request.scope);
  if (scope === null) throw new OAuthError('invalid_scope', "scope is wider than the subject_token's");
  const { iss: _iss, aud: _aud, iat: _iat, exp, ...rest } = claims;
  const ttl = Math.min(services.config.ttl.accessToken, exp - nowSeconds(services));
  if (ttl <= 0) throw new OAuthError('invalid_grant', 'subject_token has expired');
  // The session (`sid`) carries over, so revoking it still ends the narrower token.
  return issue(services, { ...rest, jti: generateId(), project, scope }, ttl);
}

async function issue(services: Services, input: AccessTokenInput, ttlSeconds: number): Promise<TokenExchangeResponse> {
  const { config, keys, now } = services;
  const { token } = await signAccessToken(keys, input, { issuer: config.base, audience: config.base, ttlSeconds, now: now() });
  return {
    access_token: token,
    issued_token_type: TOKEN_TYPE.accessToken,
    token_type: 'Bearer',
    expires_in: ttlSeconds,
    scope: input.scope,
  };
}

/**
 * What the exchange would decide for this token and project, every policy's failing
 * conditions included. Spends nothing; the token's `jti` stays unused. The decision is the
 * exchange's own, over every policy; an operator sees each of them (`org` undefined), an
 * org's member only the org's, and no more of a decision made under another org's.
 */
export async function dryRunCiToken(
  services: Services,
  token: string,
  project: string | undefined,
  org?: string,
): Promise<DryRunResponse> {
  const issuer = claimedIssuer(token);
  const trusted = issuer !== null && services.config.ciIssuers.includes(issuer);
  let claims: CiClaims;
  try {
    claims = await verifyCiToken(services, token);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    return {
      token: { issuer, trusted_issuer: trusted, verified: false, error: error.message },
      policies: [],
      would_issue: null,
      would_refuse: null,
    };
  }
  const policies = await policiesForToken(services, claims);
  const mine = (policy: TrustPolicy) => org === undefined || policy.org === org;
  let decision = decide(policies, claims, project);
  if (!(decision instanceof OAuthError) && !mine(decision))
    decision = new OAuthError('invalid_grant', `the exchange would not use a policy of org "${org}" for this token`);
  return {
    token: { issuer, trusted_issuer: trusted, verified: true, error: null },
    policies: evaluatePolicies(policies.filter(mine), claims, project).map(({ policy, failed }) => ({
      id: policy.id,
      org: policy.org,
      matched: failed.length === 0,
      failed,
    })),
    would_issue:
      decision instanceof OAuthError
        ? null
        : {
            policy: decision.id,
            org: decision.org,
            project: decision.grant.project,
            scope: decision.grant.scopes.join(' '),
            expires_in: ciTokenTtl(services, decision),
          },
    would_refuse: decision instanceof OAuthError ? `${decision.code}: ${decision.message}` : null,
  };
}
