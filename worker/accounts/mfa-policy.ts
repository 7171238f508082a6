/**
 * Orgs that require two-step sign-in of their members (issue #22): the owner's policy,
 * what it ends when it turns on, and whom it binds. policy/roles.ts `authorize` refuses a
 * member's sign-in that proved no second factor on every route of such an org.
 */
import { OAuthError } from '../../shared/errors.ts';
import type { OrgMfaPolicy } from '../../shared/org-mfa.ts';
import { authorize, type Principal, TWO_STEP_PAGE, wholePerson } from '../policy/roles.ts';
import type { Services } from '../services.ts';
import { type AuditSource, appendAudit } from './audit.ts';
import { type OrgRecord, orgsOf, readOrg, readOrgs, updateOrg } from './orgs.ts';
import { type Family, listOrgSessions, readFamilyRecord, revokeFamily } from './sessions.ts';

/**
 * Whether an org the person is in requires MFA, so their last factor may not be removed.
 * Asked of the org records themselves (the membership index only finds them).
 */
export async function mfaRequiredFor(services: Services, person: { sub: string; email: string | null }): Promise<boolean> {
  if (!person.email) return false;
  const email = person.email.toLowerCase();
  const orgs = await readOrgs(services, await orgsOf(services, email));
  return orgs.some((org) => org.requireMfa && org.members[email] !== undefined);
}

/** The org's policy as its members read it (`GET /v1/orgs/{org}/mfa`): part of the org, so whoever reads the org reads it. */
export async function readOrgMfa(services: Services, principal: Principal, slug: string): Promise<OrgMfaPolicy> {
  const org = await readOrg(services, slug);
  authorize(org, principal, 'org:read');
  return { org: org.slug, required: org.requireMfa };
}

/** A session that did not prove a second factor; a record from before sign-ins recorded it proved none. */
const lacksMfa = (family: Family) => family.mfaAt === null || !family.amr.includes('mfa');

/**
 * The org's owner, as a whole person, says whether its members must sign in with a second
 * factor. Turning it on wants the owner's own sign-in to have proven one (so the owner is
 * not the first one locked out), and ends the sessions established for the org that proved
 * none: only those, as an org's power reaches only what was established for it (a member's
 * other sessions are refused on its routes, not ended). The flag is written first, so a
 * session made while the others end is refused all the same.
 */
export async function setOrgMfa(
  services: Services,
  principal: Principal,
  slug: string,
  required: () => Promise<boolean>,
  source: AuditSource,
): Promise<OrgMfaPolicy> {
  authorize(await readOrg(services, slug), principal, 'mfa:write');
  const owner = wholePerson(principal, 'change whether an org requires two-step sign-in');
  const wanted = await required();
  if (wanted && !owner.mfa) {
    throw new OAuthError(
      'mfa_required',
      `to require two-step sign-in in org "${slug}", sign in with it yourself first: add an authenticator at ${TWO_STEP_PAGE} on this server's console, then sign in again`,
    );
  }
  let before = false;
  const org = await updateOrg(services, slug, (current: OrgRecord) => {
    // Checked again on the record the change is made to: a role changed since the read above counts.
    authorize(current, principal, 'mfa:write');
    before = current.requireMfa;
    return { ...current, requireMfa: wanted };
  });
  if (before === wanted) return { org: org.slug, required: wanted, sessions_ended: 0 };
  const ended = wanted ? await endSessionsWithoutMfa(services, slug, source) : 0;
  await appendAudit(services, slug, source, {
    action: wanted ? 'org.mfa_required' : 'org.mfa_not_required',
    subject: slug,
    detail: wanted ? `${ended} session${ended === 1 ? '' : 's'} without two-step sign-in ended` : null,
  });
  return { org: org.slug, required: wanted, sessions_ended: ended };
}

/**
 * Ends the sessions established for the org (its session index) whose sign-in proved no
 * second factor; each ending is in the org's trail as any admin's is. How many ended.
 */
async function endSessionsWithoutMfa(services: Services, slug: string, source: AuditSource): Promise<number> {
  const sessions = await listOrgSessions(services, slug, null, null);
  const ended = await Promise.all(
    sessions.map(async ({ id }) => {
      const found = await readFamilyRecord(services, id);
      if (!found || found.value.org !== slug || found.value.revoked || !lacksMfa(found.value)) return false;
      if (found.value.expiresAt <= services.now()) return false;
      await revokeFamily(services, id, 'admin', source, found);
      return true;
    }),
  );
  return ended.filter(Boolean).length;
}
