/**
 * Invitations: the only way a person joins an org. An admin invites a verified email with
 * a role; until that person, signed in as that email, accepts, the org holds nothing of
 * theirs (no membership, no sign-ins in its audit trail, no sessions to list).
 *
 * An org's pending invitations are one record (`inv:<org>`): accepting, declining and
 * withdrawing are swaps of it, so of two accepts, or an accept and a withdrawal, racing
 * for one invitation exactly one finds it. A per-person index (`invx:<email>`) only says
 * which orgs to look in; the org's record decides.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { INVITATION_EXPIRES_IN, type Invitation, InvitationCreateRequest, InvitationId, Role } from '../../shared/schemas.ts';
import { parseInput } from '../http/form.ts';
import { atLeast, authorize, type Principal } from '../policy/roles.ts';
import type { Services } from '../services.ts';
import { readRecord, updateRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { generateId } from '../tokens/opaque.ts';
import { type AuditSource, appendAudit } from './audit.ts';
import { MAX_MEMBERS, noteMembership, type OrgRecord, readOrg, updateOrg } from './orgs.ts';

const Pending = z.object({
  id: z.string(),
  email: z.string(),
  role: Role,
  orgName: z.string(),
  invitedBy: z.string(),
  createdAt: z.number(),
  expiresAt: z.number(),
});
type Pending = z.infer<typeof Pending>;
const OrgInvitations = z.array(Pending);
const PersonIndex = z.array(z.object({ id: z.string(), org: z.string(), expiresAt: z.number() }));
type PersonIndex = z.infer<typeof PersonIndex>;

/** Bounds on what one org, or invitations to one person, can pile up. */
const MAX_PENDING_PER_ORG = 200;
/**
 * A person's index keeps this many live invitations; past it, the oldest make room (a
 * full index never refuses an org's invitation: strangers' orgs could fill it). With one
 * entry per org, and no org made by a person already in MAX_ORGS_PER_PERSON (accounts/orgs.ts),
 * pushing a real invitation out takes several accounts, each signed in.
 */
const MAX_PENDING_PER_PERSON = 100;
/**
 * An expired invitation is kept this long, so its person hears "expired" rather than "no
 * such", and in at most as many places as live ones (the longest expired go first).
 */
const KEEP_EXPIRED_MS = 7 * 86400_000;
/**
 * Every write renews the record's TTL and no invitation outlives 30 days from the write
 * that made it, so this keeps every entry as long as it matters.
 */
const RECORD_TTL_SECONDS = 30 * 86400 + KEEP_EXPIRED_MS / 1000;

const orgKey = (org: string) => storeKey('invitations', org);
const personKey = (email: string) => storeKey('invitationIndex', email.toLowerCase());
const secondsOf = (ms: number) => Math.floor(ms / 1000);
const isoOf = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Anyone but the invited person hears this, whether or not the invitation exists. */
const noSuchInvitation = (id: string) => new OAuthError('not_found', `no invitation "${id.slice(0, 40)}" for you`);

function view(org: string, entry: Pending): Invitation {
  return {
    id: entry.id,
    org,
    org_name: entry.orgName,
    email: entry.email,
    role: entry.role,
    invited_by: entry.invitedBy,
    created_at: secondsOf(entry.createdAt),
    expires_at: secondsOf(entry.expiresAt),
  };
}

/** Drops what expired past keeping, then the longest expired until at most `max` are left. */
function pruned<T extends { expiresAt: number }>(list: T[], now: number, max: number): T[] {
  const kept = list.filter((item) => item.expiresAt + KEEP_EXPIRED_MS > now);
  const expired = kept.filter((item) => item.expiresAt <= now).sort((a, b) => a.expiresAt - b.expiresAt);
  const dropped = new Set(expired.slice(0, Math.max(0, kept.length - max)));
  return kept.filter((item) => !dropped.has(item));
}

const updateOrgInvitations = (services: Services, org: string, change: (list: Pending[]) => Pending[]) =>
  updateRecord(
    services.store,
    orgKey(org),
    OrgInvitations,
    { ifAbsent: () => [], ttlSeconds: RECORD_TTL_SECONDS, what: 'invitation list' },
    change,
  );

const updatePersonIndex = (services: Services, email: string, change: (index: PersonIndex) => PersonIndex) =>
  updateRecord(
    services.store,
    personKey(email),
    PersonIndex,
    { ifAbsent: () => [], ttlSeconds: RECORD_TTL_SECONDS, what: 'invitation index' },
    change,
  );

/**
 * A person's index with `entry` of `org` as that org's one entry (a re-invitation's, or a
 * resent one's, replaces the one before), within MAX_PENDING_PER_PERSON.
 */
function indexedOnce(index: PersonIndex, org: string, entry: Pending, now: number): PersonIndex {
  const kept = pruned(
    index.filter((item) => item.org !== org),
    now,
    2 * MAX_PENDING_PER_PERSON - 1,
  );
  const live = kept.filter((item) => item.expiresAt > now);
  // Full: the oldest live entries (first appended) make room; their orgs' records still
  // hold them, and the org can invite again.
  const evicted = new Set(live.slice(0, Math.max(0, live.length - MAX_PENDING_PER_PERSON + 1)));
  return [...kept.filter((item) => !evicted.has(item)), { id: entry.id, org, expiresAt: entry.expiresAt }];
}

/** A caller invites (or withdraws an invitation) only up to its own role: an owner alone for an owner. */
function mayInvite(mine: Role, role: Role, what: 'inviting' | 'withdrawing an invitation'): void {
  if (!atLeast(mine, role))
    throw new OAuthError('forbidden', `lacks ${role}: ${what} as ${role} takes the ${role} role or above (you are ${mine})`);
}

/**
 * Invites `email` to `org` as `role`, replacing a pending invitation of the same email.
 * `mine` is the caller's role there (members:write already checked).
 */
export async function createInvitation(
  services: Services,
  org: OrgRecord,
  mine: Role,
  input: { email: string; role: Role; expiresIn: number },
  source: AuditSource,
): Promise<Invitation> {
  const email = input.email.toLowerCase();
  mayInvite(mine, input.role, 'inviting');
  // Replacing a pending invitation withdraws it: the same rule, checked before the
  // person's index is touched (and again in the swap, in case of a race).
  const pendingBefore = (await readRecord(services.store, orgKey(org.slug), OrgInvitations))?.value ?? [];
  const before = pendingBefore.find((item) => item.email === email && item.expiresAt > services.now());
  if (before) mayInvite(mine, before.role, 'withdrawing an invitation');
  if (org.members[email]) {
    throw new OAuthError(
      'conflict',
      `${email} is already a member of "${org.slug}"; change their role with PUT /v1/orgs/${org.slug}/members/${email}`,
    );
  }
  const now = services.now();
  const entry: Pending = {
    id: generateId('inv_'),
    email,
    role: input.role,
    orgName: org.name,
    invitedBy: source.actor,
    createdAt: now,
    expiresAt: now + input.expiresIn * 1000,
  };
  // The person's index first: if the org's write below fails, the index names an
  // invitation no org holds, which finds nothing, and the inviter, told so, invites again.
  await updatePersonIndex(services, email, (index) => indexedOnce(index, org.slug, entry, now));
  let replaced: Pending | undefined;
  await updateOrgInvitations(services, org.slug, (list) => {
    replaced = list.find((item) => item.email === email);
    if (replaced && replaced.expiresAt > now) mayInvite(mine, replaced.role, 'withdrawing an invitation');
    const others = pruned(
      list.filter((item) => item.email !== email),
      now,
      2 * MAX_PENDING_PER_ORG - 1,
    );
    if (others.filter((item) => item.expiresAt > now).length >= MAX_PENDING_PER_ORG) {
      throw new OAuthError('conflict', `an org has at most ${MAX_PENDING_PER_ORG} pending invitations; withdraw some first`);
    }
    return [...others, entry];
  });
  const renewed = replaced ? `, replacing ${replaced.id}` : '';
  await appendAudit(services, org.slug, source, {
    action: 'invitation.created',
    subject: email,
    detail: `${entry.id} as ${entry.role}, expires ${isoOf(entry.expiresAt)}${renewed}`,
  });
  return view(org.slug, entry);
}

/** The org's pending invitations (expired ones left out), oldest first. */
export async function listOrgInvitations(services: Services, org: string): Promise<Invitation[]> {
  const now = services.now();
  const list = (await readRecord(services.store, orgKey(org), OrgInvitations))?.value ?? [];
  return list.filter((entry) => entry.expiresAt > now).map((entry) => view(org, entry));
}

/** Withdraws invitation `id` of `org`; `mine` is the caller's role there (members:write already checked). */
export async function withdrawInvitation(
  services: Services,
  org: string,
  id: string,
  mine: Role,
  source: AuditSource,
): Promise<Invitation> {
  let found: Pending | undefined;
  await updateOrgInvitations(services, org, (list) => {
    found = list.find((entry) => entry.id === id);
    if (!found) throw new OAuthError('not_found', `no pending invitation "${id.slice(0, 40)}" in org "${org}"`);
    mayInvite(mine, found.role, 'withdrawing an invitation');
    return list.filter((entry) => entry.id !== id);
  });
  const withdrawn = found as Pending;
  await forgetInPersonIndex(services, withdrawn.email, id);
  await appendAudit(services, org, source, { action: 'invitation.withdrawn', subject: withdrawn.email, detail: withdrawn.id });
  return view(org, withdrawn);
}

/** The pending invitations made for `email`, newest first. */
export async function invitationsFor(services: Services, email: string): Promise<Invitation[]> {
  const mine = email.toLowerCase();
  const now = services.now();
  const index = (await readRecord(services.store, personKey(mine), PersonIndex))?.value ?? [];
  const orgs = [...new Set(index.filter((item) => item.expiresAt > now).map((item) => item.org))];
  const lists = await Promise.all(
    orgs.map(async (org) => {
      const list = (await readRecord(services.store, orgKey(org), OrgInvitations))?.value ?? [];
      return list.filter((entry) => entry.email === mine && entry.expiresAt > now).map((entry) => view(org, entry));
    }),
  );
  return lists.flat().sort((a, b) => b.created_at - a.created_at);
}

/**
 * The invited person accepts (becomes a member with the invited role) or declines. The
 * invitation is taken out of its org's record in one swap before anything else, so it is
 * used once; anyone but the person it was made for is told it does not exist.
 */
export async function answerInvitation(
  services: Services,
  id: string,
  email: string,
  answer: 'accept' | 'decline',
  source: AuditSource,
): Promise<Invitation> {
  const mine = email.toLowerCase();
  const now = services.now();
  const index = (await readRecord(services.store, personKey(mine), PersonIndex))?.value ?? [];
  const org = index.find((item) => item.id === id)?.org;
  if (!org) throw noSuchInvitation(id);
  if (answer === 'accept') {
    // Refused while the invitation still stands, rather than after it is spent.
    const current = await readOrg(services, org);
    if (!current.members[mine] && Object.keys(current.members).length >= MAX_MEMBERS)
      throw new OAuthError('conflict', `org "${org}" is full (${MAX_MEMBERS} members); ask an admin to make room`);
  }
  let found: Pending | undefined;
  await updateOrgInvitations(services, org, (list) => {
    found = list.find((entry) => entry.id === id && entry.email === mine);
    if (!found) throw noSuchInvitation(id);
    if (answer === 'accept' && found.expiresAt <= now) {
      throw new OAuthError(
        'not_found',
        `invitation "${id}" to "${org}" expired at ${isoOf(found.expiresAt)}; ask the org for a new one`,
      );
    }
    return list.filter((entry) => entry.id !== id);
  });
  const taken = found as Pending;
  await forgetInPersonIndex(services, mine, id);
  if (answer === 'decline') {
    await appendAudit(services, org, source, { action: 'invitation.declined', subject: mine, detail: id });
    return view(org, taken);
  }
  let before: Role | undefined;
  try {
    await updateOrg(services, org, (current) => {
      before = current.members[mine];
      // Already a member (an older invitation won): the role they hold stays.
      return before ? current : { ...current, members: { ...current.members, [mine]: taken.role } };
    });
  } catch (error) {
    // The org filled up meanwhile, or the store gave up: the invitation stands again, so
    // the person can accept once there is room rather than ask to be invited anew.
    await restoreInvitation(services, org, taken).catch(() => {});
    throw error;
  }
  await noteMembership(services, mine, org, true);
  await appendAudit(services, org, source, { action: 'invitation.accepted', subject: mine, detail: `${id} as ${taken.role}` });
  if (!before)
    await appendAudit(services, org, source, { action: 'member.changed', subject: mine, detail: `added as ${taken.role}` });
  return view(org, taken);
}

async function restoreInvitation(services: Services, org: string, taken: Pending): Promise<void> {
  await updateOrgInvitations(services, org, (list) =>
    list.some((entry) => entry.email === taken.email) ? list : [...list, taken],
  );
  await updatePersonIndex(services, taken.email, (index) =>
    index.some((item) => item.id === taken.id) ? index : [...index, { id: taken.id, org, expiresAt: taken.expiresAt }],
  );
}

async function forgetInPersonIndex(services: Services, email: string, id: string): Promise<void> {
  const now = services.now();
  await updatePersonIndex(services, email, (index) =>
    pruned(
      index.filter((item) => item.id !== id),
      now,
      2 * MAX_PENDING_PER_PERSON,
    ),
  );
}

/*
 * What an org's admins do with its invitations, each with the caller's role check, so the
 * /v1 routes and the console run the same rules and write the same audit entries.
 */

/** Invites a person to org `slug`: members:write, and no higher than the caller's own role. */
export async function invite(
  services: Services,
  principal: Principal,
  slug: string,
  body: () => Promise<Record<string, unknown>>,
  source: AuditSource,
): Promise<Invitation> {
  const org = await readOrg(services, slug);
  const mine = authorize(org, principal, 'members:write');
  const input = parseInput(InvitationCreateRequest, await body());
  return createInvitation(services, org, mine, { email: input.email, role: input.role, expiresIn: input.expires_in }, source);
}

/** The org's pending invitations, to whoever may see its members. */
export async function pendingInvitations(services: Services, principal: Principal, slug: string): Promise<Invitation[]> {
  authorize(await readOrg(services, slug), principal, 'members:read');
  return listOrgInvitations(services, slug);
}

/** Withdraws invitation `id` of org `slug`. */
export async function withdraw(
  services: Services,
  principal: Principal,
  slug: string,
  id: string,
  source: AuditSource,
): Promise<Invitation> {
  const mine = authorize(await readOrg(services, slug), principal, 'members:write');
  return withdrawInvitation(services, slug, parseInput(InvitationId, id), mine, source);
}

/**
 * Sends invitation `id` of org `slug` again: the same invitation (id, email, role) with a new
 * expiry, `expiresIn` seconds from now; one that expired but is still kept can be renewed so.
 * The caller may resend only what it could invite.
 */
export async function resendInvitation(
  services: Services,
  principal: Principal,
  slug: string,
  id: string,
  source: AuditSource,
  /**
   * Asked with the invitation's role before anything is written: renewing an invitation of
   * admin or above hands that role out again (the API's step-up, the console's recent sign-in).
   */
  gate?: (role: Role) => void | Promise<void>,
  expiresIn: number = INVITATION_EXPIRES_IN.default,
): Promise<Invitation> {
  const org = await readOrg(services, slug);
  const mine = authorize(org, principal, 'members:write');
  const wanted = parseInput(InvitationId, id);
  const current = (await readRecord(services.store, orgKey(slug), OrgInvitations))?.value.find((entry) => entry.id === wanted);
  if (current) {
    mayInvite(mine, current.role, 'inviting');
    await gate?.(current.role);
  }
  const now = services.now();
  const expiresAt = now + expiresIn * 1000;
  let renewed: Pending | undefined;
  await updateOrgInvitations(services, slug, (list) => {
    const found = list.find((entry) => entry.id === wanted);
    if (!found) throw new OAuthError('not_found', `no pending invitation "${wanted}" in org "${slug}"`);
    mayInvite(mine, found.role, 'inviting');
    renewed = { ...found, expiresAt };
    return list.map((entry) => (entry.id === wanted ? (renewed as Pending) : entry));
  });
  const entry = renewed as Pending;
  // The person's index names the invitation with its new expiry, within the same bounds.
  await updatePersonIndex(services, entry.email, (index) => indexedOnce(index, slug, entry, now));
  await appendAudit(services, slug, source, {
    action: 'invitation.resent',
    subject: entry.email,
    detail: `${entry.id} as ${entry.role}, expires ${isoOf(expiresAt)}`,
  });
  return view(slug, entry);
}
