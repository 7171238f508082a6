import { type Context, Hono } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import { InvitationId, type InvitationList, Role } from '../../shared/schemas.ts';
import {
  answerInvitation,
  invitationsFor,
  invite,
  pendingInvitations,
  resendInvitation,
  withdraw,
} from '../accounts/invitations.ts';
import type { AppEnv } from '../app.ts';
import { auditSource, caller, orgParam } from '../http/caller.ts';
import { parseInput, readBody } from '../http/form.ts';
import { requireStepUp } from '../http/step-up.ts';
import { atLeast, wholePerson } from '../policy/roles.ts';

/**
 * Invitations: an org's admins invite a verified email, list and withdraw pending
 * invitations; the person, signed in as that email, lists theirs and accepts or declines.
 * Only a person can be invited or answer (API keys and CI tokens are refused), and an
 * invitation is nobody else's business: to anyone else it does not exist.
 */
export const invitationRoutes = new Hono<AppEnv>();

const idParam = (c: Context<AppEnv>) => parseInput(InvitationId, c.req.param('id'));

/**
 * The signed-in person and their verified email; nobody else has invitations. A sign-in
 * established for one org acts in no other, so it neither sees nor answers invitations.
 */
async function invitee(c: Context<AppEnv>) {
  const principal = wholePerson(await caller(c), 'answer invitations');
  if (!principal.email) throw new OAuthError('forbidden', 'invitations are answered by a person with a verified email');
  return { principal, email: principal.email };
}

invitationRoutes.post('/v1/orgs/:org/invitations', async (c) => {
  const principal = await caller(c);
  // Read once the right to invite is checked: inviting someone as admin or owner hands out that
  // role, as changing a member's role does, so it wants the same step-up (the console: a recent sign-in).
  const readInput = async () => {
    const body = await readBody(c);
    const role = Role.safeParse(body.role);
    if (role.success && atLeast(role.data, 'admin')) await requireStepUp(c, principal, `invite someone as ${role.data}`);
    return body;
  };
  const created = await invite(c.var.services, principal, orgParam(c), readInput, auditSource(c, principal));
  return c.json(created, 201);
});

/** Pending invitations are shown to whoever may see the org's members. */
invitationRoutes.get('/v1/orgs/:org/invitations', async (c) => {
  const body: InvitationList = { invitations: await pendingInvitations(c.var.services, await caller(c), orgParam(c)) };
  return c.json(body);
});

invitationRoutes.delete('/v1/orgs/:org/invitations/:id', async (c) => {
  const principal = await caller(c);
  return c.json(await withdraw(c.var.services, principal, orgParam(c), c.req.param('id'), auditSource(c, principal)));
});

/** Sends a pending (or recently expired) invitation again: the same invitation, expiring 7 days from now. */
invitationRoutes.post('/v1/orgs/:org/invitations/:id/resend', async (c) => {
  const principal = await caller(c);
  const gate = async (role: Role) => {
    if (atLeast(role, 'admin')) await requireStepUp(c, principal, `renew an invitation as ${role}`);
  };
  return c.json(
    await resendInvitation(c.var.services, principal, orgParam(c), c.req.param('id'), auditSource(c, principal), gate),
  );
});

invitationRoutes.get('/v1/invitations', async (c) => {
  const { email } = await invitee(c);
  const body: InvitationList = { invitations: await invitationsFor(c.var.services, email) };
  return c.json(body);
});

invitationRoutes.post('/v1/invitations/:id/:answer{accept|decline}', async (c) => {
  const { principal, email } = await invitee(c);
  const answer = c.req.param('answer') === 'accept' ? 'accept' : 'decline';
  return c.json(await answerInvitation(c.var.services, idParam(c), email, answer, auditSource(c, principal)));
});
