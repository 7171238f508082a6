import { Hono } from 'hono';
import type { DomainList } from '../../shared/schemas.ts';
import { claimDomain, listDomains, removeDomain, verifyDomain } from '../accounts/domains.ts';
import type { AppEnv } from '../app.ts';
import { auditSource, caller, orgParam } from '../http/caller.ts';
import { readBody } from '../http/form.ts';
import { requireStepUpIn } from '../http/step-up.ts';

/**
 * An org's email domains (owner or admin; API keys list them only): claim one, prove it by
 * a DNS TXT record, remove it (accounts/domains.ts).
 */
export const domainRoutes = new Hono<AppEnv>();

/** A verified domain decides whose sign-ins an org's provider takes: a person with a second factor proves it recently first. */
const DOMAINS_STEP_UP = "change the org's verified domains";

domainRoutes.get('/v1/orgs/:org/domains', async (c) => {
  const body: DomainList = { domains: await listDomains(c.var.services, await caller(c), orgParam(c)) };
  return c.json(body);
});

domainRoutes.post('/v1/orgs/:org/domains', async (c) => {
  const principal = await caller(c);
  await requireStepUpIn(c, principal, orgParam(c), 'domains:write', DOMAINS_STEP_UP);
  const claimed = await claimDomain(c.var.services, principal, orgParam(c), () => readBody(c), auditSource(c, principal));
  return c.json(claimed.domain, claimed.created ? 201 : 200);
});

domainRoutes.post('/v1/orgs/:org/domains/:domain/verify', async (c) => {
  const principal = await caller(c);
  await requireStepUpIn(c, principal, orgParam(c), 'domains:write', DOMAINS_STEP_UP);
  return c.json(await verifyDomain(c.var.services, principal, orgParam(c), c.req.param('domain'), auditSource(c, principal)));
});

domainRoutes.delete('/v1/orgs/:org/domains/:domain', async (c) => {
  const principal = await caller(c);
  await requireStepUpIn(c, principal, orgParam(c), 'domains:write', DOMAINS_STEP_UP);
  return c.json(await removeDomain(c.var.services, principal, orgParam(c), c.req.param('domain'), auditSource(c, principal)));
});
