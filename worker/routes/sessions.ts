import { type Context, Hono } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import { MemberEmail, SessionId, type SessionList } from '../../shared/schemas.ts';
import { readOrg } from '../accounts/orgs.ts';
import {
  listOrgSessions,
  noSession,
  readFamilyRecord,
  revokeFamily,
  revokeSession,
  type SessionHolder,
  sessionOwner,
  sessionsSeenBy,
  sessionView,
} from '../accounts/sessions.ts';
import type { AppEnv } from '../app.ts';
import { auditSource, caller, orgParam } from '../http/caller.ts';
import { parseInput } from '../http/form.ts';
import { requireStepUp } from '../http/step-up.ts';
import { authorize, ownSession } from '../policy/roles.ts';

/**
 * Sessions (one per sign-in): a person lists and revokes their own, all of them; an org
 * admin lists and revokes only the sessions established for its org (sign-in with `org`),
 * never a member's others; an operator (LATCHKEY_OPERATORS) lists and revokes anyone's.
 * Revoking ends the refresh token at once and, through the `sid` every Bearer check
 * consults, the session's access tokens from the first request after the answer (which
 * waits out the isolates' session cache).
 */
export const sessionRoutes = new Hono<AppEnv>();

async function person(c: Context<AppEnv>): Promise<SessionHolder> {
  const principal = await caller(c);
  if (principal.kind !== 'user') throw new OAuthError('forbidden', 'only a signed-in person has sessions; API keys do not');
  // A token narrowed to a project acts for that project, not for the person's sign-ins.
  if (principal.project !== null)
    throw new OAuthError('forbidden', `this token is narrowed to project "${principal.project}" and cannot manage sessions`);
  return principal;
}

const sessionParam = (c: Context<AppEnv>) => parseInput(SessionId, c.req.param('sid'));

/** The caller's sessions; an operator's `?email=ADDR`, that person's. */
sessionRoutes.get('/v1/sessions', async (c) => {
  const me = await person(c);
  const email = c.req.query('email');
  const other = email === undefined ? undefined : () => parseInput(MemberEmail, email);
  const body: SessionList = { sessions: await sessionsSeenBy(c.var.services, me, other) };
  return c.json(body);
});

sessionRoutes.post('/v1/sessions/:sid/revoke', async (c) => {
  const me = await person(c);
  const othersNeedStepUp = () => requireStepUp(c, me, "end someone else's session");
  return c.json(await revokeSession(c.var.services, me, sessionParam(c), auditSource(c, me), othersNeedStepUp));
});

/** Sessions established for the org; `?member=EMAIL` for one member's of them. */
sessionRoutes.get('/v1/orgs/:org/sessions', async (c) => {
  const principal = await caller(c);
  const services = c.var.services;
  const org = await readOrg(services, orgParam(c));
  authorize(org, principal, 'sessions:read');
  const member = c.req.query('member');
  const only = member === undefined ? null : parseInput(MemberEmail, member).toLowerCase();
  const body: SessionList = { sessions: await listOrgSessions(services, org.slug, only, ownSession(principal)) };
  return c.json(body);
});

sessionRoutes.post('/v1/orgs/:org/sessions/:sid/revoke', async (c) => {
  const principal = await caller(c);
  const services = c.var.services;
  const org = await readOrg(services, orgParam(c));
  const mine = authorize(org, principal, 'sessions:write');
  const sid = sessionParam(c);
  const found = await readFamilyRecord(services, sid);
  // Only a session established for this org is the org's; any other answers as none.
  if (!found || found.value.org !== org.slug) throw noSession(sid);
  const theirs = found.value.email ? org.members[found.value.email.toLowerCase()] : undefined;
  if (theirs === 'owner' && mine !== 'owner')
    throw new OAuthError('forbidden', "lacks owner: only an owner can end an owner's session");
  if (principal.kind === 'user' && sessionOwner(found.value) !== sessionOwner(principal))
    await requireStepUp(c, principal, "end someone else's session");
  const ended = await revokeFamily(services, sid, 'admin', auditSource(c, principal), found);
  return c.json(sessionView(sid, ended ?? found.value, ownSession(principal)));
});
