import { Hono } from 'hono';
import type { DomainList } from '../../shared/schemas.ts';
import { claimDomain, listDomains, removeDomain, verifyDomain } from '../accounts/domains.ts';
import type { AppEnv } from '../app.ts';
import { auditSource, caller, orgParam } from '../http/caller.ts';
import { readBody } from '../http/form.ts';

/**
 * An org's email domains (owner or admin; API keys list them only): claim one, prove it by
 * a DNS TXT record, remove it (accounts/domains.ts).
 */
export const domainRoutes = new Hono<AppEnv>();

domainRoutes.get('/v1/orgs/:org/domains', async (c) => {
  const body: DomainList = { domains: await listDomains(c.var.services, await caller(c), orgParam(c)) };
  return c.json(body);
});

domainRoutes.post('/v1/orgs/:org/domains', async (c) => {
  const principal = await caller(c);
  const claimed = await claimDomain(c.var.services, principal, orgParam(c), () => readBody(c), auditSource(c, principal));
  return c.json(claimed.domain, claimed.created ? 201 : 200);
});

domainRoutes.post('/v1/orgs/:org/domains/:domain/verify', async (c) => {
  const principal = await caller(c);
  return c.json(await verifyDomain(c.var.services, principal, orgParam(c), c.req.param('domain'), auditSource(c, principal)));
});

domainRoutes.delete('/v1/orgs/:org/domains/:domain', async (c) => {
  const principal = await caller(c);
  return c.json(await removeDomain(c.var.services, principal, orgParam(c), c.req.param('domain'), auditSource(c, principal)));
});
