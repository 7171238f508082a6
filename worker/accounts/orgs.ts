/**
 * Orgs in the store: one record per org holding its projects and its members' roles (by
 * verified email), so one read answers every permission check. Changes are swaps, retried
 * when another change got there first.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { type Org, OrgCreateRequest, type OrgList, ProjectCreateRequest, Role } from '../../shared/schemas.ts';
import { parseInput } from '../http/form.ts';
import { authorize, type Principal, roleIn, wholePerson } from '../policy/roles.ts';
import type { Services } from '../services.ts';
import { readRecord, updateRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { type AuditSource, appendAudit } from './audit.ts';
import { endOrgSessions } from './sessions.ts';

export const OrgRecord = z.object({
  slug: z.string(),
  name: z.string(),
  createdAt: z.number(),
  createdBy: z.string(),
  projects: z.array(z.string()),
  members: z.record(z.string(), Role),
  /**
   * Whether the org's members act in it only from a sign-in that proved a second factor
   * (the owner's policy, accounts/mfa-policy.ts; policy/roles.ts enforces it). Records
   * from before the policy read as not requiring it.
   */
  requireMfa: z.boolean().default(false),
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
  await registerOrg(services, input.slug);
  const org: OrgRecord = {
    slug: input.slug,
    name: input.name ?? input.slug,
    createdAt: services.now(),
    createdBy: owner.sub,
    projects: [],
    members: { [owner.email.toLowerCase()]: 'owner' },
    requireMfa: false,
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
 * Every org's slug, for the operator page (there is no other way to find all orgs): a
 * counter, and each creation's slug under its own number. Creations at once each take a
 * number and write their own entry, so none waits on another (one shared list made them
 * retry each other into a 503). A hint written before the org itself, so an org never
 * exists unlisted; a slug whose creation failed or was taken already is left out by the
 * reader, whom the org records decide.
 */
const registryCount = storeKey('orgRegistry', 'count');
const registryEntry = (n: number) => storeKey('orgRegistry', String(n));
/** The operator page lists the newest this many registrations. */
export const LISTED_REGISTERED_ORGS = 500;

async function registerOrg(services: Services, slug: string): Promise<void> {
  const n = await services.store.increment(registryCount, ORG_TTL_SECONDS);
  await services.store.put(registryEntry(n), slug, ORG_TTL_SECONDS);
}

/** The deployment's orgs, newest first, as far as the registry knows them (orgs made before it are not in it). */
export async function registeredOrgs(services: Services): Promise<OrgRecord[]> {
  const count = Number((await services.store.get(registryCount)) ?? 0);
  const numbers = Array.from({ length: Math.min(count, LISTED_REGISTERED_ORGS) }, (_, i) => count - i);
  const slugs = await Promise.all(numbers.map((n) => services.store.get(registryEntry(n))));
  const unique = [...new Set(slugs.filter((slug): slug is string => slug !== null))];
  return (await readOrgs(services, unique)).sort((a, b) => b.createdAt - a.createdAt);
}

/**
 * The orgs the caller belongs to and its role in each (`GET /v1/orgs`, the console's You
 * page): a person's from their membership index, an API key's its own org.
 */
export async function orgsFor(services: Services, principal: Principal): Promise<OrgList['orgs']> {
  const slugs = principal.kind === 'user' ? (principal.email ? await orgsOf(services, principal.email) : []) : [principal.org];
  const orgs: OrgList['orgs'] = [];
  for (const org of await readOrgs(services, slugs)) {
    // The membership index is a hint; the org record decides.
    const role = roleIn(org, principal);
    if (role) orgs.push({ slug: org.slug, name: org.name, role });
  }
  return orgs;
}

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
    require_mfa: org.requireMfa,
  };
}

/*
 * What a caller does to an org, one function per act, so the /v1 routes and the console run
 * the same role checks and write the same audit entries. `body` reads the request's fields,
 * called only once the caller is let in, so an outsider learns nothing from a bad one.
 */

/** A person with a verified email makes an org and becomes its owner. */
export async function createOrgAs(
  services: Services,
  principal: Principal,
  body: () => Promise<Record<string, unknown>>,
  source: AuditSource,
): Promise<OrgRecord> {
  const person = wholePerson(principal, 'create an org');
  if (!person.email) throw new OAuthError('forbidden', 'only a person with a verified email can create an org');
  const input = parseInput(OrgCreateRequest, await body());
  const org = await createOrg(services, input, { sub: person.sub, email: person.email });
  await appendAudit(services, org.slug, source, { action: 'org.created', subject: org.slug });
  return org;
}

/** An admin adds a project to the org. */
export async function createProject(
  services: Services,
  principal: Principal,
  slug: string,
  body: () => Promise<Record<string, unknown>>,
  source: AuditSource,
): Promise<OrgRecord> {
  authorize(await readOrg(services, slug), principal, 'projects:create');
  const input = parseInput(ProjectCreateRequest, await body());
  const org = await updateOrg(services, slug, (current) => {
    if (current.projects.includes(input.slug)) throw new OAuthError('conflict', `project "${input.slug}" exists`);
    return { ...current, projects: [...current.projects, input.slug] };
  });
  await appendAudit(services, slug, source, { action: 'project.created', subject: input.slug });
  return org;
}

/**
 * Changes an existing member's role; only an owner makes or unmakes an owner. Nobody becomes
 * a member here: a person joins only by accepting an invitation (accounts/invitations.ts).
 */
export async function changeMemberRole(
  services: Services,
  principal: Principal,
  slug: string,
  member: string,
  role: Role,
  source: AuditSource,
): Promise<OrgRecord> {
  const email = member.toLowerCase();
  let before: string | undefined;
  const org = await updateOrg(services, slug, (current) => {
    const mine = authorize(current, principal, 'members:write');
    before = current.members[email];
    if (!before) {
      throw new OAuthError(
        'not_found',
        `${email} is not a member of "${slug}"; invite them (POST /v1/orgs/${slug}/invitations, or \`latchkey members invite\`) and they join when they accept`,
      );
    }
    if ((role === 'owner' || before === 'owner') && mine !== 'owner') {
      throw new OAuthError('forbidden', 'lacks owner: only an owner can make or unmake an owner');
    }
    return { ...current, members: { ...current.members, [email]: role } };
  });
  if (before !== role) {
    await appendAudit(services, slug, source, { action: 'member.changed', subject: email, detail: `${before} -> ${role}` });
  }
  return org;
}

/** Removes a member (only an owner removes an owner); what they signed in for this org ends with it. */
export async function removeMember(
  services: Services,
  principal: Principal,
  slug: string,
  member: string,
  source: AuditSource,
): Promise<OrgRecord> {
  const email = member.toLowerCase();
  const org = await updateOrg(services, slug, (current) => {
    const mine = authorize(current, principal, 'members:write');
    const theirs = current.members[email];
    if (!theirs) throw new OAuthError('not_found', `${email} is not a member`);
    if (theirs === 'owner' && mine !== 'owner')
      throw new OAuthError('forbidden', 'lacks owner: only an owner can remove an owner');
    const { [email]: _removed, ...members } = current.members;
    return { ...current, members };
  });
  await noteMembership(services, email, slug, false);
  await appendAudit(services, slug, source, { action: 'member.removed', subject: email });
  // Their other sessions only lose the membership.
  await endOrgSessions(services, slug, email, source);
  return org;
}
