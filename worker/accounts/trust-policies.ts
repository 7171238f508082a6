/**
 * Trust policies that orgs hold, made and deleted through the org API.
 *
 * An org's policies all use the org's own audience, `<issuer>/orgs/<org>`, which its CI
 * jobs request their ID tokens for. That is what keeps orgs apart: nothing proves an org
 * owns the repository a policy names (repository ids are public), so without it another
 * org could write a policy for the same repository and be handed its tokens, or make its
 * exchanges ambiguous. With it, a token reaches only the org its job asked for, and the
 * exchange finds that org's policies with one read, from the token's `aud`.
 *
 * Each org's policies live in one record, so ids stay unique and the count stays bounded
 * under concurrent changes (one swap checks both). The operator's LATCHKEY_CI_POLICIES
 * stay beside them, read-only here.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { Slug } from '../../shared/schemas.ts';
import { orgAudience, TrustPolicy, type TrustPolicyInfo, TrustPolicyInput } from '../../shared/trust-policy.ts';
import { parseInput } from '../http/form.ts';
import { authorize, ownProject, type Principal } from '../policy/roles.ts';
import { normalizePolicy, PolicyRejected } from '../policy/trust-policy.ts';
import type { Services } from '../services.ts';
import { readRecord, updateRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { type AuditSource, appendAudit } from './audit.ts';
import { type OrgRecord, readOrg } from './orgs.ts';

const StoredPolicy = z.object({ policy: TrustPolicy, createdAt: z.number(), createdBy: z.string() });
type StoredPolicy = z.infer<typeof StoredPolicy>;
const OrgPolicies = z.array(StoredPolicy);

/** Kept as long as the org (ten years); the store needs some TTL. */
const POLICY_TTL_SECONDS = 10 * 365 * 86400;
/**
 * An org's record stays under the smallest value limit of the stores (Deno KV: 64 KiB):
 * at most 25 policies of at most 2 KiB each as stored.
 */
export const MAX_POLICIES_PER_ORG = 25;
const MAX_POLICY_BYTES = 2048;
/** A CI token names at most this many orgs' audiences before the rest are ignored. */
const MAX_ORG_AUDIENCES = 3;

const orgKey = (org: string) => storeKey('trustPolicies', org);

async function readOrgPolicies(services: Services, org: string): Promise<StoredPolicy[]> {
  return (await readRecord(services.store, orgKey(org), OrgPolicies))?.value ?? [];
}

/** The orgs a verified CI token's `aud` names, by their audience `<issuer>/orgs/<org>`. */
function orgsOfAudience(services: Services, aud: unknown): string[] {
  const prefix = orgAudience(services.config.base, '');
  const orgs = (Array.isArray(aud) ? aud : [aud])
    .filter((value): value is string => typeof value === 'string' && value.startsWith(prefix))
    .map((value) => value.slice(prefix.length))
    .filter((slug) => Slug.safeParse(slug).success);
  return [...new Set(orgs)].slice(0, MAX_ORG_AUDIENCES);
}

/**
 * Every policy that may apply to a verified CI token: the operator's for its issuer, and
 * the policies of the orgs its audience names (one read per such org; usually one).
 */
export async function policiesForToken(services: Services, claims: { iss: string; aud?: unknown }): Promise<TrustPolicy[]> {
  const configured = services.config.ciPolicies.filter((policy) => policy.issuer === claims.iss);
  const held = await Promise.all(orgsOfAudience(services, claims.aud).map((org) => readOrgPolicies(services, org)));
  return [...configured, ...held.flat().flatMap(({ policy }) => (policy.issuer === claims.iss ? [policy] : []))];
}

const view = (stored: StoredPolicy): TrustPolicyInfo => ({
  ...stored.policy,
  source: 'api',
  created_at: Math.floor(stored.createdAt / 1000),
  created_by: stored.createdBy,
});

/** An org's policies: the operator's for it (read-only here), then its own, oldest first. */
export async function orgPolicies(services: Services, org: string): Promise<TrustPolicyInfo[]> {
  const configured: TrustPolicyInfo[] = services.config.ciPolicies
    .filter((policy) => policy.org === org)
    .map((policy) => ({ ...policy, source: 'config', created_at: null, created_by: null }));
  return [...configured, ...(await readOrgPolicies(services, org)).map(view)];
}

const updateOrgPolicies = (services: Services, org: string, change: (current: StoredPolicy[]) => StoredPolicy[]) =>
  updateRecord(
    services.store,
    orgKey(org),
    OrgPolicies,
    { ifAbsent: () => [], ttlSeconds: POLICY_TTL_SECONDS, what: "org's trust policies" },
    change,
  );

/**
 * Checks a policy an org's admin wrote and stores it under the org; 201's body. The
 * audience may be left out: it can only be the org's own.
 */
export async function createOrgPolicy(
  services: Services,
  org: OrgRecord,
  input: TrustPolicyInput,
  source: AuditSource,
): Promise<TrustPolicyInfo> {
  if (input.org !== undefined && input.org !== org.slug) {
    throw new OAuthError('invalid_request', `the policy names org "${input.org}" but is being created in "${org.slug}"`);
  }
  const audience = orgAudience(services.config.base, org.slug);
  if (input.audience !== audience) {
    throw new OAuthError(
      'invalid_request',
      `an org's policies use the org's own audience: "${audience}" (CI jobs request their ID tokens for it), not "${input.audience}"`,
    );
  }
  let policy: TrustPolicy;
  try {
    policy = normalizePolicy({ ...input, org: org.slug }, services.config.ciOwnerClaims);
  } catch (error) {
    if (error instanceof PolicyRejected) throw new OAuthError('invalid_request', error.message);
    throw error;
  }
  if (!services.config.ciIssuers.includes(policy.issuer)) {
    throw new OAuthError(
      'invalid_request',
      `this server does not trust tokens from ${policy.issuer}; its operator lists trusted CI issuers in LATCHKEY_CI_ISSUERS`,
    );
  }
  if (!org.projects.includes(policy.grant.project))
    throw new OAuthError('not_found', `no project "${policy.grant.project}" in org "${org.slug}"`);
  if (services.config.ciPolicies.some((other) => other.org === org.slug && other.id === policy.id))
    throw new OAuthError('conflict', `org "${org.slug}" already has a trust policy "${policy.id}"`);
  const stored: StoredPolicy = { policy, createdAt: services.now(), createdBy: source.actor };
  if (JSON.stringify(stored).length > MAX_POLICY_BYTES)
    throw new OAuthError('invalid_request', `a trust policy is at most ${MAX_POLICY_BYTES} bytes as stored; this one is longer`);

  await updateOrgPolicies(services, org.slug, (current) => {
    if (current.some((other) => other.policy.id === policy.id))
      throw new OAuthError('conflict', `org "${org.slug}" already has a trust policy "${policy.id}"`);
    if (current.length >= MAX_POLICIES_PER_ORG)
      throw new OAuthError('invalid_request', `an org holds at most ${MAX_POLICIES_PER_ORG} trust policies`);
    return [...current, stored];
  });
  await appendAudit(services, org.slug, source, {
    action: 'policy.created',
    subject: policy.id,
    detail: `${policy.issuer} -> project ${policy.grant.project}: ${policy.grant.scopes.join(' ')}`,
  });
  return view(stored);
}

/** Deletes one of the org's own policies; tokens it matched are refused from the next exchange. */
export async function deleteOrgPolicy(
  services: Services,
  org: string,
  id: string,
  source: AuditSource,
): Promise<TrustPolicyInfo> {
  if (services.config.ciPolicies.some((policy) => policy.org === org && policy.id === id)) {
    throw new OAuthError(
      'conflict',
      `trust policy "${id}" is set by the server's operator (LATCHKEY_CI_POLICIES); ask them to remove it`,
    );
  }
  let removed: StoredPolicy | undefined;
  await updateOrgPolicies(services, org, (current) => {
    removed = current.find(({ policy }) => policy.id === id);
    return current.filter((stored) => stored !== removed);
  });
  if (!removed) throw new OAuthError('not_found', `no trust policy "${id}" in org "${org}"`);
  await appendAudit(services, org, source, {
    action: 'policy.deleted',
    subject: id,
    detail: `${removed.policy.issuer} -> project ${removed.policy.grant.project}`,
  });
  return view(removed);
}

/**
 * The policies a principal may see in an org (policies:read): a project key or a narrowed
 * token its own project's, everyone else the whole org's. The org comes back too, for a
 * page that offers its projects.
 */
export async function listTrustPolicies(
  services: Services,
  principal: Principal,
  slug: string,
): Promise<{ org: OrgRecord; policies: TrustPolicyInfo[] }> {
  const org = await readOrg(services, slug);
  const project = ownProject(principal);
  authorize(org, principal, 'policies:read', project);
  const policies = await orgPolicies(services, org.slug);
  return { org, policies: project ? policies.filter((policy) => policy.grant.project === project) : policies };
}

/**
 * `POST /v1/orgs/{org}/trust-policies` and the console's form: the body as the JSON API
 * takes it (read only once the caller may see the org), checked, and created for an admin
 * of the granted project's org (policies:write). The audience may be left out: an org's
 * policies can only use the org's own.
 */
export async function createTrustPolicy(
  services: Services,
  principal: Principal,
  slug: string,
  body: () => Promise<object> | object,
  source: AuditSource,
): Promise<TrustPolicyInfo> {
  const org = await readOrg(services, slug);
  authorize(org, principal, 'policies:read', ownProject(principal));
  const input = parseInput(TrustPolicyInput, { audience: orgAudience(services.config.base, org.slug), ...(await body()) });
  authorize(org, principal, 'policies:write', input.grant.project);
  return createOrgPolicy(services, org, input, source);
}

/**
 * `DELETE /v1/orgs/{org}/trust-policies/{id}` and the console's Delete: an admin over the
 * policy's project (policies:write) removes one of the org's own policies.
 */
export async function deleteTrustPolicy(
  services: Services,
  principal: Principal,
  slug: string,
  rawId: unknown,
  source: AuditSource,
): Promise<TrustPolicyInfo> {
  const org = await readOrg(services, slug);
  const id = parseInput(Slug, rawId);
  authorize(org, principal, 'policies:read', ownProject(principal));
  const target = (await orgPolicies(services, org.slug)).find((policy) => policy.id === id);
  if (!target) throw new OAuthError('not_found', `no trust policy "${id}" in org "${org.slug}"`);
  authorize(org, principal, 'policies:write', target.grant.project);
  return deleteOrgPolicy(services, org.slug, id, source);
}
