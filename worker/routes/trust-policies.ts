import { Hono } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import { DryRunRequest, type TrustPolicyList } from '../../shared/trust-policy.ts';
import { readOrg } from '../accounts/orgs.ts';
import { createTrustPolicy, deleteTrustPolicy, listTrustPolicies } from '../accounts/trust-policies.ts';
import type { AppEnv } from '../app.ts';
import { dryRunCiToken } from '../grants/token-exchange.ts';
import { auditSource, caller, orgParam } from '../http/caller.ts';
import { parseInput, readBody, readForm, readJson } from '../http/form.ts';
import { requireStepUpIn } from '../http/step-up.ts';
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
  const { policies } = await listTrustPolicies(c.var.services, principal, orgParam(c));
  const body: TrustPolicyList = { policies };
  return c.json(body);
});

trustPolicyRoutes.post('/v1/orgs/:org/trust-policies', async (c) => {
  const principal = await caller(c);
  const created = await createTrustPolicy(c.var.services, principal, orgParam(c), () => readJson(c), auditSource(c, principal));
  return c.json(created, 201);
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
  const slug = orgParam(c);
  await requireStepUpIn(c, principal, slug, 'policies:write', 'delete a trust policy');
  return c.json(await deleteTrustPolicy(c.var.services, principal, slug, c.req.param('id'), auditSource(c, principal)));
});
