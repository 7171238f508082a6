import { type Context, Hono } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import { MemberEmail, SessionId, type SessionInfo, type SessionList } from '../../shared/schemas.ts';
import { readOrg } from '../accounts/orgs.ts';
import { listSessions, readFamilyRecord, revokeFamily, sessionOwner, sessionView } from '../accounts/sessions.ts';
import type { AppEnv } from '../app.ts';
import { auditSource, caller, orgParam } from '../http/caller.ts';
import { parseInput } from '../http/form.ts';
import { authorize, ownSession, type Principal } from '../policy/roles.ts';

/**
 * Sessions (one per sign-in): a person lists and revokes their own; an org admin lists
 * and revokes its members'. Revoking ends the refresh token at once and, through the
 * `sid` every Bearer check consults, the session's access tokens from the first request
 * after the answer (which waits out the isolates' session cache).
 */
export const sessionRoutes = new Hono<AppEnv>();

type Person = Extract<Principal, { kind: 'user' }>;

async function person(c: Context<AppEnv>): Promise<Person> {
  const principal = await caller(c);
  if (principal.kind !== 'user') throw new OAuthError('forbidden', 'only a signed-in person has sessions; API keys do not');
  return principal;
}

const sessionParam = (c: Context<AppEnv>) => parseInput(SessionId, c.req.param('sid'));
const noSession = (sid: string) => new OAuthError('not_found', `no session "${sid.slice(0, 40)}"`);

sessionRoutes.get('/v1/sessions', async (c) => {
  const me = await person(c);
  const body: SessionList = { sessions: await listSessions(c.var.services, sessionOwner(me), me.sid) };
  return c.json(body);
});

sessionRoutes.post('/v1/sessions/:sid/revoke', async (c) => {
  const me = await person(c);
  const services = c.var.services;
  const sid = sessionParam(c);
  const found = await readFamilyRecord(services, sid);
  // Someone else's session is answered like one that does not exist.
  if (!found || sessionOwner(found.value) !== sessionOwner(me)) throw noSession(sid);
  const ended = await revokeFamily(services, sid, 'logout', auditSource(c, me), found);
  return c.json(sessionView(sid, ended ?? found.value, me.sid));
});

/** Members' sessions; `?member=EMAIL` for one member's. */
sessionRoutes.get('/v1/orgs/:org/sessions', async (c) => {
  const principal = await caller(c);
  const services = c.var.services;
  const org = await readOrg(services, orgParam(c));
  authorize(org, principal, 'sessions:read');
  const only = c.req.query('member');
  const emails = only === undefined ? Object.keys(org.members) : [parseInput(MemberEmail, only).toLowerCase()];
  if (only !== undefined && !org.members[emails[0] as string]) throw new OAuthError('not_found', `${only} is not a member`);
  const current = ownSession(principal);
  const lists = await Promise.all(emails.map((email) => listSessions(services, email, current)));
  const sessions: SessionInfo[] = lists.flat().sort((a, b) => b.created_at - a.created_at);
  const body: SessionList = { sessions };
  return c.json(body);
});

sessionRoutes.post('/v1/orgs/:org/sessions/:sid/revoke', async (c) => {
  const principal = await caller(c);
  const services = c.var.services;
  const org = await readOrg(services, orgParam(c));
  const mine = authorize(org, principal, 'sessions:write');
  const sid = sessionParam(c);
  const found = await readFamilyRecord(services, sid);
  const theirs = found?.value.email ? org.members[found.value.email.toLowerCase()] : undefined;
  if (!found || !theirs) throw noSession(sid);
  if (theirs === 'owner' && mine !== 'owner')
    throw new OAuthError('forbidden', "lacks owner: only an owner can end an owner's session");
  const ended = await revokeFamily(services, sid, 'admin', auditSource(c, principal), found);
  const current = ownSession(principal);
  return c.json(sessionView(sid, ended ?? found.value, current));
});
