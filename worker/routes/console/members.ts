/**
 * An org's members and invitations in the console. Each post runs the same account function
 * as its /v1 route (accounts/orgs.ts, accounts/invitations.ts): the same role check, the
 * owner rules, the same audit entry. Changing a role, inviting someone as admin or owner, or
 * removing someone wants a recent sign-in.
 */
import type { Context } from 'hono';
import { MemberEmail, MemberPutRequest, Role } from '../../../shared/schemas.ts';
import { invite, pendingInvitations, resendInvitation, withdraw } from '../../accounts/invitations.ts';
import { changeMemberRole, readOrg, removeMember } from '../../accounts/orgs.ts';
import type { AppEnv } from '../../app.ts';
import { orgParam } from '../../http/caller.ts';
import { backTo, consolePost, signedInRecently } from '../../http/console.ts';
import { parseInput } from '../../http/form.ts';
import { orgPath } from '../../pages/console/layout.ts';
import { membersPage } from '../../pages/console/members.ts';
import { atLeast, authorize } from '../../policy/roles.ts';
import { signInPage } from '../sign-in.ts';
import { consoleSection, pageUser } from './env.ts';
import { formFields, may } from './form-fields.ts';

export const membersConsole = consoleSection();

const emailParam = (c: Context<AppEnv>) => parseInput(MemberEmail, c.req.param('email')).toLowerCase();

membersConsole.get('/console/orgs/:org/members', async (c) => {
  const user = pageUser(c);
  const services = c.var.services;
  const org = await readOrg(services, orgParam(c));
  authorize(org, user.principal, 'members:read');
  const invitations = await pendingInvitations(services, user.principal, org.slug);
  return membersPage(c, { user, org, invitations, mayManage: may(org, user.principal, 'members:write') });
});

membersConsole.post('/console/orgs/:org/members/:email/role', async (c) => {
  const { form, user } = await consolePost(c);
  const slug = orgParam(c);
  const email = emailParam(c);
  const { role } = parseInput(MemberPutRequest, formFields(form, ['role']));
  if (!(await signedInRecently(c, user))) {
    return signInPage(
      c,
      orgPath(slug, 'members'),
      `Changing ${email}’s role needs a recent sign-in. Sign in again, then change the role again.`,
    );
  }
  await changeMemberRole(c.var.services, user.principal, slug, email, role, user.source);
  return backTo(c, orgPath(slug, 'members'), 'member-changed');
});

membersConsole.post('/console/orgs/:org/members/:email/remove', async (c) => {
  const { user } = await consolePost(c);
  const slug = orgParam(c);
  const email = emailParam(c);
  // Removing someone ends their sessions for the org (the API asks a step-up): a recent sign-in,
  // asked once the removal would be allowed, so anyone else hears what removeMember says.
  if (email !== user.principal.email?.toLowerCase() && !(await signedInRecently(c, user))) {
    const org = await readOrg(c.var.services, slug);
    const mine = authorize(org, user.principal, 'members:write');
    const theirs = org.members[email];
    if (theirs !== undefined && (theirs !== 'owner' || mine === 'owner')) {
      return signInPage(
        c,
        orgPath(slug, 'members'),
        `Removing ${email} needs a recent sign-in. Sign in again, then remove them again.`,
      );
    }
  }
  await removeMember(c.var.services, user.principal, slug, email, user.source);
  return backTo(c, orgPath(slug, 'members'), 'member-removed');
});

/** Thrown by the invitation's input below to stop before anything is written. */
class NeedsRecentSignIn extends Error {}

membersConsole.post('/console/orgs/:org/invitations', async (c) => {
  const { form, user } = await consolePost(c);
  const slug = orgParam(c);
  const fields = formFields(form, ['email', 'role', 'expires_in']);
  // Read once the right to invite is checked: inviting someone as admin or owner hands out that
  // role, as changing a member's role does, so it wants the same recent sign-in.
  const readInput = async () => {
    const role = Role.safeParse(fields.role);
    if (role.success && atLeast(role.data, 'admin') && !(await signedInRecently(c, user))) throw new NeedsRecentSignIn();
    return fields;
  };
  try {
    await invite(c.var.services, user.principal, slug, readInput, user.source);
  } catch (error) {
    if (!(error instanceof NeedsRecentSignIn)) throw error;
    return signInPage(
      c,
      orgPath(slug, 'members'),
      `Inviting ${fields.email ?? 'someone'} as ${fields.role} needs a recent sign-in. Sign in again, then send the invitation again.`,
    );
  }
  return backTo(c, orgPath(slug, 'members'), 'invitation-sent');
});

membersConsole.post('/console/orgs/:org/invitations/:id/:action{resend|withdraw}', async (c) => {
  const { user } = await consolePost(c);
  const slug = orgParam(c);
  const id = c.req.param('id');
  if (c.req.param('action') === 'resend') {
    const gate = async (role: Role) => {
      if (atLeast(role, 'admin') && !(await signedInRecently(c, user))) throw new NeedsRecentSignIn();
    };
    try {
      await resendInvitation(c.var.services, user.principal, slug, id, user.source, gate);
    } catch (error) {
      if (!(error instanceof NeedsRecentSignIn)) throw error;
      return signInPage(
        c,
        orgPath(slug, 'members'),
        'Renewing an invitation as admin or owner needs a recent sign-in. Sign in again, then send it again.',
      );
    }
    return backTo(c, orgPath(slug, 'members'), 'invitation-resent');
  }
  await withdraw(c.var.services, user.principal, slug, id, user.source);
  return backTo(c, orgPath(slug, 'members'), 'invitation-withdrawn');
});
