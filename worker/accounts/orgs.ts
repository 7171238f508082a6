/**
 * Orgs in the store: one record per org holding its projects and its members' roles (by
 * verified email), so one read answers every permission check. Changes are swaps, retried
 * when another change got there first.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { type Org, Role } from '../../shared/schemas.ts';
import type { Services } from '../services.ts';
import { readRecord, updateRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';

export const OrgRecord = z.object({
  slug: z.string(),
  name: z.string(),
  createdAt: z.number(),
  createdBy: z.string(),
  projects: z.array(z.string()),
  members: z.record(z.string(), Role),
});
export type OrgRecord = z.infer<typeof OrgRecord>;

/** Orgs are kept as long as the store keeps anything (no expiry of their own). */
const ORG_TTL_SECONDS = 10 * 365 * 86400;
export const MAX_MEMBERS = 1000;
/**
 * A person in this many orgs creates no more: orgs are free to make, and each is one more
 * voice that can invite a stranger (accounts/invitations.ts bounds a person's invitations).
 */
const MAX_ORGS_PER_PERSON = 50;
const MAX_PROJECTS = 500;

export async function readOrg(services: Services, slug: string): Promise<OrgRecord> {
  const found = await readRecord(services.store, storeKey('org', slug), OrgRecord);
  if (!found) throw new OAuthError('not_found', `no org "${slug}"`);
  return found.value;
}

export async function createOrg(
  services: Services,
  input: { slug: string; name?: string | undefined },
  owner: { sub: string; email: string },
): Promise<OrgRecord> {
  // The place in the person's index is taken first, with the limit checked in the same
  // swap: checked apart, concurrent creations all passed it, and an index write that gave
  // up after the org was made left an org no limit counted.
  let reserved = false;
  await updateRecord(
    services.store,
    storeKey('memberOrgs', owner.email.toLowerCase()),
    MemberOrgs,
    { ifAbsent: () => [], ttlSeconds: ORG_TTL_SECONDS, what: 'membership index' },
    (orgs) => {
      reserved = false;
      if (orgs.includes(input.slug)) return orgs;
      if (orgs.length >= MAX_ORGS_PER_PERSON)
        throw new OAuthError('invalid_request', `a person in ${MAX_ORGS_PER_PERSON} orgs cannot create another; leave one first`);
      reserved = true;
      return [...orgs, input.slug];
    },
  );
  const org: OrgRecord = {
    slug: input.slug,
    name: input.name ?? input.slug,
    createdAt: services.now(),
    createdBy: owner.sub,
    projects: [],
    members: { [owner.email.toLowerCase()]: 'owner' },
  };
  const created = await services.store
    .swap(storeKey('org', org.slug), null, JSON.stringify(org), ORG_TTL_SECONDS)
    .catch(async (error: unknown) => {
      if (reserved) await noteMembership(services, owner.email, org.slug, false).catch(() => {});
      throw error;
    });
  if (!created) {
    if (reserved) await noteMembership(services, owner.email, org.slug, false);
    throw new OAuthError('conflict', `the org slug "${org.slug}" is taken`);
  }
  return org;
}

const MemberOrgs = z.array(z.string());

/**
 * The orgs a person (by email) is in: an index kept beside the org records, so sign-ins
 * can reach their orgs' audit trails and `GET /v1/orgs` can list them. The org record
 * stays the authority; a reader checks membership there.
 */
export async function orgsOf(services: Services, email: string): Promise<string[]> {
  return (await readRecord(services.store, storeKey('memberOrgs', email.toLowerCase()), MemberOrgs))?.value ?? [];
}

/**
 * The orgs whose own record lists `email` as a member: the index, checked against each
 * org. What reaches an org about a person (their sign-ins) goes only to these.
 */
export async function orgsWithMember(services: Services, email: string): Promise<string[]> {
  const lowered = email.toLowerCase();
  const orgs = await readOrgs(services, await orgsOf(services, lowered));
  return orgs.flatMap((org) => (org.members[lowered] ? [org.slug] : []));
}

/**
 * The org records of `slugs` (as a membership index names them), side by side; an org no
 * longer there is left out, while a store that fails still fails (503).
 */
export async function readOrgs(services: Services, slugs: string[]): Promise<OrgRecord[]> {
  const orgs = await Promise.all(slugs.map((slug) => readRecord(services.store, storeKey('org', slug), OrgRecord)));
  return orgs.flatMap((org) => (org ? [org.value] : []));
}

export async function noteMembership(services: Services, email: string, slug: string, member: boolean): Promise<void> {
  const key = storeKey('memberOrgs', email.toLowerCase());
  await updateRecord(
    services.store,
    key,
    MemberOrgs,
    { ifAbsent: () => [], ttlSeconds: ORG_TTL_SECONDS, what: 'membership index' },
    (orgs) => (member ? [...new Set([...orgs, slug])] : orgs.filter((org) => org !== slug)),
  );
}

/** Applies `change` to the current record, within the org's limits; retried on a concurrent change. */
export function updateOrg(services: Services, slug: string, change: (org: OrgRecord) => OrgRecord): Promise<OrgRecord> {
  const ifAbsent = () => {
    throw new OAuthError('not_found', `no org "${slug}"`);
  };
  return updateRecord(
    services.store,
    storeKey('org', slug),
    OrgRecord,
    { ifAbsent, ttlSeconds: ORG_TTL_SECONDS, what: 'org' },
    (org) => {
      const next = change(org);
      if (Object.keys(next.members).length > MAX_MEMBERS)
        throw new OAuthError('invalid_request', `an org has at most ${MAX_MEMBERS} members`);
      if (next.projects.length > MAX_PROJECTS)
        throw new OAuthError('invalid_request', `an org has at most ${MAX_PROJECTS} projects`);
      if (!Object.values(next.members).includes('owner'))
        throw new OAuthError('invalid_request', 'an org keeps at least one owner');
      return next;
    },
  );
}

export function orgView(org: OrgRecord): Org {
  return {
    slug: org.slug,
    name: org.name,
    created_at: Math.floor(org.createdAt / 1000),
    created_by: org.createdBy,
    projects: org.projects,
    members: Object.entries(org.members).map(([email, role]) => ({ email, role })),
  };
}
