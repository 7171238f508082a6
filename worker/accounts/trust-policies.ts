/**
 * Trust policies that orgs hold, made and deleted through the org API. They are stored by
 * issuer, because the exchange starts from a CI token's issuer: one read finds every
 * org's policies for it. A per-org list of the issuers it has policies for lets the org's
 * admins list theirs. The operator's LATCHKEY_CI_POLICIES stay beside them, read-only.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { TrustPolicy, type TrustPolicyInfo, type TrustPolicyInput } from '../../shared/trust-policy.ts';
import { normalizePolicy, PolicyRejected } from '../policy/trust-policy.ts';
import type { Services } from '../services.ts';
import { parseRecord, updateRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { type AuditSource, appendAudit } from './audit.ts';
import type { OrgRecord } from './orgs.ts';

const StoredPolicy = z.object({ policy: TrustPolicy, createdAt: z.number(), createdBy: z.string() });
type StoredPolicy = z.infer<typeof StoredPolicy>;
const IssuerPolicies = z.array(StoredPolicy);
const OrgIssuers = z.array(z.string());

/** Kept as long as the org (ten years); the store needs some TTL. */
const POLICY_TTL_SECONDS = 10 * 365 * 86400;
export const MAX_POLICIES_PER_ORG = 50;
/** One issuer's policies share a record; this keeps it well under a Durable Object value's limit. */
const MAX_POLICIES_PER_ISSUER = 500;

const issuerKey = (issuer: string) => storeKey('trustPolicies', issuer);
const orgKey = (org: string) => storeKey('orgPolicyIssuers', org);

async function readIssuer(services: Services, issuer: string): Promise<StoredPolicy[]> {
  const raw = await services.store.get(issuerKey(issuer));
  return raw === null ? [] : parseRecord(IssuerPolicies, raw);
}

const updateIssuer = (services: Services, issuer: string, change: (current: StoredPolicy[]) => StoredPolicy[]) =>
  updateRecord(
    services.store,
    issuerKey(issuer),
    IssuerPolicies,
    { empty: [], ttlSeconds: POLICY_TTL_SECONDS, what: "issuer's policy list" },
    change,
  );

/** Every policy for tokens of this issuer: the operator's, then the orgs'. One store read. */
export async function policiesForIssuer(services: Services, issuer: string): Promise<TrustPolicy[]> {
  const configured = services.config.ciPolicies.filter((policy) => policy.issuer === issuer);
  const stored = await readIssuer(services, issuer);
  return [...configured, ...stored.map(({ policy }) => policy)];
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
  const raw = await services.store.get(orgKey(org));
  const issuers = raw === null ? [] : parseRecord(OrgIssuers, raw);
  const stored = (await Promise.all(issuers.map((issuer) => readIssuer(services, issuer))))
    .flat()
    .filter(({ policy }) => policy.org === org)
    .sort((a, b) => a.createdAt - b.createdAt);
  return [...configured, ...stored.map(view)];
}

/** Checks a policy an org's admin wrote and stores it under the org; 201's body. */
export async function createOrgPolicy(
  services: Services,
  org: OrgRecord,
  input: TrustPolicyInput,
  source: AuditSource,
): Promise<TrustPolicyInfo> {
  if (input.org !== undefined && input.org !== org.slug) {
    throw new OAuthError('invalid_request', `the policy names org "${input.org}" but is being created in "${org.slug}"`);
  }
  let policy: TrustPolicy;
  try {
    policy = normalizePolicy({ ...input, org: org.slug });
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
  const existing = await orgPolicies(services, org.slug);
  if (existing.some((other) => other.id === policy.id))
    throw new OAuthError('conflict', `org "${org.slug}" already has a trust policy "${policy.id}"`);
  if (existing.length >= MAX_POLICIES_PER_ORG)
    throw new OAuthError('invalid_request', `an org has at most ${MAX_POLICIES_PER_ORG} trust policies`);

  // The org's issuer list first: a listed issuer without policies is harmless, while a
  // policy its org could not list (and so not delete) would not be.
  await updateRecord(
    services.store,
    orgKey(org.slug),
    OrgIssuers,
    { empty: [], ttlSeconds: POLICY_TTL_SECONDS, what: "org's policy list" },
    (issuers) => [...new Set([...issuers, policy.issuer])],
  );
  const stored: StoredPolicy = { policy, createdAt: services.now(), createdBy: source.actor };
  await updateIssuer(services, policy.issuer, (current) => {
    // Checked again here: another admin may have made the same id since the check above.
    if (current.some((other) => other.policy.org === org.slug && other.policy.id === policy.id))
      throw new OAuthError('conflict', `org "${org.slug}" already has a trust policy "${policy.id}"`);
    if (current.length >= MAX_POLICIES_PER_ISSUER)
      throw new OAuthError(
        'invalid_request',
        `this server holds at most ${MAX_POLICIES_PER_ISSUER} policies for ${policy.issuer}`,
      );
    return [...current, stored];
  });
  await appendAudit(services, org.slug, source, {
    action: 'policy.created',
    subject: policy.id,
    detail: `${policy.issuer} (aud ${policy.audience}) -> project ${policy.grant.project}: ${policy.grant.scopes.join(' ')}`,
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
  const found = (await orgPolicies(services, org)).find((policy) => policy.id === id);
  if (!found) throw new OAuthError('not_found', `no trust policy "${id}" in org "${org}"`);
  if (found.source === 'config') {
    throw new OAuthError(
      'conflict',
      `trust policy "${id}" is set by the server's operator (LATCHKEY_CI_POLICIES); ask them to remove it`,
    );
  }
  let removed: StoredPolicy | undefined;
  await updateIssuer(services, found.issuer, (current) => {
    removed = current.find(({ policy }) => policy.org === org && policy.id === id);
    return current.filter((stored) => stored !== removed);
  });
  if (!removed) throw new OAuthError('not_found', `no trust policy "${id}" in org "${org}"`);
  await appendAudit(services, org, source, {
    action: 'policy.deleted',
    subject: id,
    detail: `${found.issuer} -> project ${found.grant.project}`,
  });
  return view(removed);
}
