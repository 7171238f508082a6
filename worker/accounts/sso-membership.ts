/**
 * Just-in-time membership (off unless an org's admin turns it on: the connection's
 * `jitRole`): a person whose email the org's verified domains cover, signing in through
 * the org's own connection, joins the org with that role if they are not a member. It is
 * the org's provider vouching for its own domain's people, the one way besides accepting an
 * invitation that anyone becomes a member (DESIGN.md, Tenancy). An existing member's role
 * is never changed (a demoted admin stays demoted), and the role is never owner.
 *
 * Removing a member does not keep them out while it is on: their provider still signs
 * them in, and the next sign-in makes them a member again. Take them out at the provider.
 */
import type { SsoJitRole } from '../../shared/schemas.ts';
import type { Services } from '../services.ts';
import { appendAudit } from './audit.ts';
import { MAX_MEMBERS, noteMembership, updateOrg } from './orgs.ts';

/** Makes `email` a member of `org` with `role` unless they are one; whether they joined now. */
export async function joinBySso(
  services: Services,
  input: { org: string; email: string; role: SsoJitRole; issuer: string; requestId: string },
): Promise<boolean> {
  const email = input.email.toLowerCase();
  let joined = false;
  await updateOrg(services, input.org, (current) => {
    // A full org takes no one more: the person still signs in, as a non-member (as without JIT).
    joined = current.members[email] === undefined && Object.keys(current.members).length < MAX_MEMBERS;
    return joined ? { ...current, members: { ...current.members, [email]: input.role } } : current;
  });
  if (!joined) return false;
  await noteMembership(services, email, input.org, true);
  await appendAudit(
    services,
    input.org,
    { actor: email, requestId: input.requestId },
    { action: 'member.joined_by_sso', subject: email, detail: `as ${input.role}, signed in by ${input.issuer}` },
  );
  return true;
}
