/**
 * RFC 8693 token exchange, two ways in. A CI runner's OIDC token becomes a short-lived
 * latchkey token when a trust policy for the requested project matches its claims; its
 * `jti` is spent on the way, so a stolen token works once at most. And a latchkey access
 * token becomes a narrower one: bound to one project, fewer scopes, no longer-lived.
 * Narrowing never reaches past its subject: a person's token only to a project of an org
 * they are a member of (the org lands in the `org` claim), a token already bound to an org
 * or a project stays there, and the narrowed token names every token it came from
 * (`narrowed_from`), so revoking any of them refuses it (tokens/credential.ts).
 *
 * Refusals name the check that failed, never which policies exist; the operators' dry-run
 * (`dryRunCiToken`) is where a policy's failing condition is shown.
 */
import { OAuthError } from '../../shared/errors.ts';
import {
  type AccessTokenClaims,
  MAX_NARROWING_DEPTH,
  Slug,
  TOKEN_TYPE,
  type TokenExchangeResponse,
} from '../../shared/schemas.ts';
import type { DryRunResponse, TrustPolicy } from '../../shared/trust-policy.ts';
import { orgsOf, readOrgs } from '../accounts/orgs.ts';
import { policiesForToken } from '../accounts/trust-policies.ts';
import { CI_CLOCK_TOLERANCE_SECONDS, type CiClaims, claimedIssuer, verifyCiToken } from '../policy/ci-token.ts';
import { mfaRequired, principalOf, roleIn } from '../policy/roles.ts';
import { type ClaimFailure, type OwnerClaims, policyFailures } from '../policy/trust-policy.ts';
import type { Services } from '../services.ts';
import { storeKey } from '../store/store.ts';
import { type AccessTokenInput, signAccessToken } from '../tokens/access-token.ts';
import { authenticate } from '../tokens/credential.ts';
import { generateId } from '../tokens/opaque.ts';
import { narrowScope } from './issue.ts';

/** `project` is `audience` or `resource` as sent: a project's slug or its URI (see parseTarget). */
export type ExchangeRequest = { subjectToken: string; project: string | undefined; scope: string | undefined; clientId: string };

/** The project a request names and, if it named one, the org it is in. */
type Target = { org: string | null; project: string };

/**
 * A project's slug names it in whichever org has it; `<issuer>/orgs/<org>/projects/<project>`
 * on this server also names the org, for a slug that several orgs use.
 */
function parseTarget(services: Services, value: string | undefined): Target | undefined {
  if (value === undefined) return undefined;
  if (Slug.safeParse(value).success) return { org: null, project: value };
  const prefix = `${services.config.base}/orgs/`;
  const [org, projects, project, ...rest] = value.startsWith(prefix) ? value.slice(prefix.length).split('/') : [];
  if (projects !== 'projects' || rest.length > 0 || !Slug.safeParse(org).success || !Slug.safeParse(project).success) {
    throw new OAuthError('invalid_target', `audience names no project of this server (${prefix}<org>/projects/<project>)`);
  }
  return { org: org as string, project: project as string };
}

const nowSeconds = (services: Services) => Math.floor(services.now() / 1000);

type Evaluated = { policy: TrustPolicy; failed: ClaimFailure[] };

/**
 * Every policy that could apply — this issuer, and the named project (of the named org) if
 * one was named — with the conditions the claims fail (none: it matches).
 */
const evaluatePolicies = (
  policies: TrustPolicy[],
  claims: CiClaims,
  target: Target | undefined,
  owners: OwnerClaims,
): Evaluated[] =>
  policies
    .filter((policy) => !target || (policy.grant.project === target.project && (!target.org || policy.org === target.org)))
    .map((policy) => ({ policy, failed: policyFailures(policy, claims, owners) }));

/**
 * The exchange's decision, which the dry-run reports without acting on: the one matching
 * policy, or the refusal the token would get. Several matches are fine when they grant
 * the same project of the same org; the first one wins.
 */
function decide(
  policies: TrustPolicy[],
  claims: CiClaims,
  target: Target | undefined,
  owners: OwnerClaims,
): TrustPolicy | OAuthError {
  const audiences = new Set(Array.isArray(claims.aud) ? claims.aud : [claims.aud]);
  if (!policies.some((policy) => audiences.has(policy.audience))) {
    return new OAuthError('invalid_grant', "subject_token's audience (aud) is not one this server accepts from its issuer");
  }
  const matching = evaluatePolicies(policies, claims, target, owners)
    .filter(({ failed }) => failed.length === 0)
    .map(({ policy }) => policy);
  const targets = new Set(matching.map((policy) => `${policy.org ?? ''}/${policy.grant.project}`));
  if (targets.size > 1)
    return new OAuthError('invalid_target', 'this token may be exchanged for several projects; name one with audience');
  return (
    matching[0] ??
    new OAuthError(
      'invalid_grant',
      target
        ? `no trust policy for project "${target.project}"${target.org ? ` of org "${target.org}"` : ''} matches this token's claims`
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
  const target = parseTarget(services, request.project);
  const policy = decide(await policiesForToken(services, claims), claims, target, services.config.ciOwnerClaims);
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
  let claims: AccessTokenClaims;
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
  // Every ancestor rides along so its revocation reaches this token; the chain is bounded
  // so the token stays small and a check of it a few reads at most.
  const narrowedFrom = [...(claims.narrowed_from ?? []), claims.jti];
  if (narrowedFrom.length > MAX_NARROWING_DEPTH) {
    throw new OAuthError(
      'invalid_grant',
      `subject_token was narrowed ${MAX_NARROWING_DEPTH} times already; narrow one of the tokens it came from instead`,
    );
  }
  const { org, project } = await narrowedTarget(services, claims, parseTarget(services, request.project));
  const scope = narrowScope(claims.scope, request.scope);
  if (scope === null) throw new OAuthError('invalid_scope', "scope is wider than the subject_token's");
  const { iss: _iss, aud: _aud, iat: _iat, exp, ...rest } = claims;
  const ttl = Math.min(services.config.ttl.accessToken, exp - nowSeconds(services));
  if (ttl <= 0) throw new OAuthError('invalid_grant', 'subject_token has expired');
  // The session (`sid`) carries over, so revoking it still ends the narrower token.
  return issue(services, { ...rest, jti: generateId(), org, project, scope, narrowed_from: narrowedFrom }, ttl);
}

/**
 * Where a narrowed token may point: inside the org and project the subject is bound to,
 * and for a person's token, a project of an org they are a member of now (the org record
 * decides; the membership index only says which records to read).
 */
async function narrowedTarget(services: Services, claims: AccessTokenClaims, target: Target | undefined): Promise<Target> {
  const bound = (what: string, name: string) =>
    new OAuthError('invalid_target', `subject_token is bound to ${what} "${name}"; it cannot be exchanged for another`);
  if (claims.project && target && target.project !== claims.project) throw bound('project', claims.project);
  if (claims.org && target?.org && target.org !== claims.org) throw bound('org', claims.org);
  const project = target?.project ?? claims.project;
  if (!project) throw new OAuthError('invalid_request', 'name the project to narrow the token to with audience');
  if (claims.kind !== 'user') {
    // A CI token is its trust policy's project (and org, if the policy has one) already.
    if (!claims.project || (target?.org && target.org !== claims.org)) {
      throw new OAuthError('invalid_target', 'a CI token can be narrowed only within its own project and org');
    }
    return { org: claims.org, project };
  }
  const named = target?.org ?? claims.org;
  const slugs = named ? [named] : claims.email ? await orgsOf(services, claims.email) : [];
  // Membership as every org route reads it (a sign-in established for an org is in no other).
  const person = principalOf(claims);
  const reachable = (await readOrgs(services, slugs)).filter(
    (org) => roleIn(org, person) !== null && org.projects.includes(project),
  );
  const [only, ...others] = reachable;
  if (!only) {
    // Said the same way whether the org is missing or not theirs: outsiders learn nothing.
    throw new OAuthError(
      'invalid_target',
      named
        ? `no project "${project}" in org "${named}" among your orgs`
        : `no project "${project}" in any org you are a member of`,
    );
  }
  if (others.length > 0) {
    throw new OAuthError(
      'invalid_target',
      `project "${project}" is in several of your orgs; name one with audience ${services.config.base}/orgs/<org>/projects/${project}`,
    );
  }
  // An org that requires two-step sign-in takes only a sign-in that proved it, here as on its routes.
  if (only.requireMfa && person.kind === 'user' && !person.mfa)
    throw new OAuthError('invalid_target', mfaRequired(only.slug).message);
  return { org: only.slug, project };
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
  const target = project === undefined ? undefined : { org: null, project };
  let decision = decide(policies, claims, target, services.config.ciOwnerClaims);
  if (!(decision instanceof OAuthError) && !mine(decision))
    decision = new OAuthError('invalid_grant', `the exchange would not use a policy of org "${org}" for this token`);
  return {
    token: { issuer, trusted_issuer: trusted, verified: true, error: null },
    policies: evaluatePolicies(policies.filter(mine), claims, target, services.config.ciOwnerClaims).map(
      ({ policy, failed }) => ({
        id: policy.id,
        org: policy.org,
        matched: failed.length === 0,
        failed,
      }),
    ),
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
