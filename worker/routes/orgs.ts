import { Hono } from 'hono';
import { OrgMfaRequest } from '../../shared/org-mfa.ts';
import {
  type ApiKeyList,
  KeyCreateRequest,
  KeyRotateRequest,
  MemberEmail,
  MemberPutRequest,
  type OrgList,
} from '../../shared/schemas.ts';
import { createOrgApiKey, listOrgApiKeys, revokeOrgApiKey, rotateOrgApiKey } from '../accounts/api-keys.ts';
import { readOrgMfa, setOrgMfa } from '../accounts/mfa-policy.ts';
import { changeMemberRole, createOrgAs, createProject, orgsFor, orgView, readOrg, removeMember } from '../accounts/orgs.ts';
import type { AppEnv } from '../app.ts';
import { auditSource, caller, orgParam } from '../http/caller.ts';
import { parseInput, readBody } from '../http/form.ts';
import { keyStepUp, requireStepUp, requireStepUpIn } from '../http/step-up.ts';
import { authorize } from '../policy/roles.ts';

/** The /v1 org API: orgs, projects, members and API keys. Every route checks the caller's role. */
export const orgRoutes = new Hono<AppEnv>();

orgRoutes.post('/v1/orgs', async (c) => {
  const principal = await caller(c);
  const org = await createOrgAs(c.var.services, principal, () => readBody(c), auditSource(c, principal));
  return c.json(orgView(org), 201);
});

/** The orgs the caller belongs to (an API key: its own org). */
orgRoutes.get('/v1/orgs', async (c) => {
  const body: OrgList = { orgs: await orgsFor(c.var.services, await caller(c)) };
  return c.json(body);
});

orgRoutes.get('/v1/orgs/:org', async (c) => {
  const principal = await caller(c);
  const org = await readOrg(c.var.services, orgParam(c));
  authorize(org, principal, 'org:read');
  return c.json(orgView(org));
});

orgRoutes.post('/v1/orgs/:org/projects', async (c) => {
  const principal = await caller(c);
  const org = await createProject(c.var.services, principal, orgParam(c), () => readBody(c), auditSource(c, principal));
  return c.json(orgView(org), 201);
});

/** Whether the org requires two-step sign-in of its members: any member reads it. */
orgRoutes.get('/v1/orgs/:org/mfa', async (c) => {
  return c.json(await readOrgMfa(c.var.services, await caller(c), orgParam(c)));
});

/** The owner, signed in as themselves, turns the requirement on or off (accounts/mfa-policy.ts). */
orgRoutes.put('/v1/orgs/:org/mfa', async (c) => {
  const principal = await caller(c);
  // Read once the owner is known to be one: turning it off lowers what every member's sign-in
  // must prove, turning it on ends others' sessions, so either is a step-up act. A sign-in that
  // proved no second factor at all is told by setOrgMfa to give one first.
  const readRequired = async () => {
    const { required } = parseInput(OrgMfaRequest, await readBody(c));
    if (principal.kind === 'user' && principal.mfa)
      await requireStepUp(c, principal, 'change whether the org requires two-step sign-in');
    return required;
  };
  return c.json(await setOrgMfa(c.var.services, principal, orgParam(c), readRequired, auditSource(c, principal)));
});

/**
 * Changes an existing member's role. Nobody becomes a member here: a person joins only by
 * accepting an invitation (routes/invitations.ts).
 */
orgRoutes.put('/v1/orgs/:org/members/:email', async (c) => {
  const principal = await caller(c);
  const slug = orgParam(c);
  const email = parseInput(MemberEmail, c.req.param('email')).toLowerCase();
  const { role } = parseInput(MemberPutRequest, await readBody(c));
  await requireStepUpIn(c, principal, slug, 'members:write', "change a member's role");
  return c.json(orgView(await changeMemberRole(c.var.services, principal, slug, email, role, auditSource(c, principal))));
});

orgRoutes.delete('/v1/orgs/:org/members/:email', async (c) => {
  const principal = await caller(c);
  const slug = orgParam(c);
  const email = parseInput(MemberEmail, c.req.param('email')).toLowerCase();
  // Removing someone ends their sessions for the org: a step-up act. Leaving is not.
  if (principal.kind !== 'user' || principal.email?.toLowerCase() !== email)
    await requireStepUpIn(c, principal, slug, 'members:write', 'remove a member (it ends their sessions for the org)');
  return c.json(orgView(await removeMember(c.var.services, principal, slug, email, auditSource(c, principal))));
});

orgRoutes.post('/v1/orgs/:org/keys', async (c) => {
  const principal = await caller(c);
  const readInput = async () => parseInput(KeyCreateRequest, await readBody(c));
  const gate = keyStepUp(c, principal);
  return c.json(await createOrgApiKey(c.var.services, principal, orgParam(c), readInput, auditSource(c, principal), gate), 201);
});

orgRoutes.get('/v1/orgs/:org/keys', async (c) => {
  const { keys } = await listOrgApiKeys(c.var.services, await caller(c), orgParam(c));
  const body: ApiKeyList = { keys };
  return c.json(body);
});

orgRoutes.post('/v1/orgs/:org/keys/:id/:action{revoke|rotate}', async (c) => {
  const principal = await caller(c);
  const services = c.var.services;
  const [slug, id, source] = [orgParam(c), c.req.param('id'), auditSource(c, principal)];
  if (c.req.param('action') === 'revoke') return c.json(await revokeOrgApiKey(services, principal, slug, id, source));
  const readGrace = async () => parseInput(KeyRotateRequest, await readBody(c)).grace_seconds;
  return c.json(await rotateOrgApiKey(services, principal, slug, id, readGrace, source, keyStepUp(c, principal)), 201);
});
