import { Hono } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import { Slug } from '../../shared/schemas.ts';
import { DryRunRequest, orgAudience, TrustPolicyInput, type TrustPolicyList } from '../../shared/trust-policy.ts';
import { readOrg } from '../accounts/orgs.ts';
import { createOrgPolicy, deleteOrgPolicy, orgPolicies } from '../accounts/trust-policies.ts';
import type { AppEnv } from '../app.ts';
import { dryRunCiToken } from '../grants/token-exchange.ts';
import { auditSource, caller, orgParam } from '../http/caller.ts';
import { parseInput, readBody, readForm, readJson } from '../http/form.ts';
import { authorize, isOperator, ownProject } from '../policy/roles.ts';

/**
 * CI trust policies: an org's own, which its members list and try out (dry-run) and its
 * admins make and delete; and the operators' dry-run over every policy on the server (an
 * operator is a person signed in with an email listed in LATCHKEY_OPERATORS).
 */
export const trustPolicyRoutes = new Hono<AppEnv>();

trustPolicyRoutes.post('/v1/trust-policies/dry-run', async (c) => {
  const services = c.var.services;
  if (!isOperator(services.config.operators, await caller(c))) {
    throw new OAuthError('forbidden', 'the trust-policy dry-run needs an operator (a person listed in LATCHKEY_OPERATORS)');
  }
  const input = parseInput(DryRunRequest, await readForm(c));
  c.header('Cache-Control', 'no-store');
  return c.json(await dryRunCiToken(services, input.subject_token, input.audience));
});

trustPolicyRoutes.get('/v1/orgs/:org/trust-policies', async (c) => {
  const principal = await caller(c);
  const services = c.var.services;
  const org = await readOrg(services, orgParam(c));
  // A project key sees its own project's policies; everyone else the whole org's.
  const project = ownProject(principal);
  authorize(org, principal, 'policies:read', project);
  const policies = await orgPolicies(services, org.slug);
  const body: TrustPolicyList = { policies: project ? policies.filter((policy) => policy.grant.project === project) : policies };
  return c.json(body);
});

trustPolicyRoutes.post('/v1/orgs/:org/trust-policies', async (c) => {
  const principal = await caller(c);
  const services = c.var.services;
  const org = await readOrg(services, orgParam(c));
  authorize(org, principal, 'policies:read', ownProject(principal));
  // The audience may be left out: an org's policies can only use the org's own.
  const body = { audience: orgAudience(services.config.base, org.slug), ...(await readJson(c)) };
  const input = parseInput(TrustPolicyInput, body);
  authorize(org, principal, 'policies:write', input.grant.project);
  return c.json(await createOrgPolicy(services, org, input, auditSource(c, principal)), 201);
});

trustPolicyRoutes.post('/v1/orgs/:org/trust-policies/dry-run', async (c) => {
  const principal = await caller(c);
  const services = c.var.services;
  const org = await readOrg(services, orgParam(c));
  const input = parseInput(DryRunRequest, await readBody(c));
  authorize(org, principal, 'policies:read', ownProject(principal));
  if (principal.project && input.audience !== principal.project) {
    throw new OAuthError(
      'forbidden',
      `lacks policies:read here: name this credential's project ("${principal.project}") as audience`,
    );
  }
  return c.json(await dryRunCiToken(services, input.subject_token, input.audience, org.slug));
});

trustPolicyRoutes.delete('/v1/orgs/:org/trust-policies/:id', async (c) => {
  const principal = await caller(c);
  const services = c.var.services;
  const org = await readOrg(services, orgParam(c));
  const id = parseInput(Slug, c.req.param('id'));
  authorize(org, principal, 'policies:read', ownProject(principal));
  const target = (await orgPolicies(services, org.slug)).find((policy) => policy.id === id);
  if (!target) throw new OAuthError('not_found', `no trust policy "${id}" in org "${org.slug}"`);
  authorize(org, principal, 'policies:write', target.grant.project);
  return c.json(await deleteOrgPolicy(services, org.slug, id, auditSource(c, principal)));
});
