import { Hono } from 'hono';
import * as z from 'zod';
import { AUDIT_PAGE_MAX, readAuditPage } from '../accounts/audit.ts';
import { readOrg } from '../accounts/orgs.ts';
import type { AppEnv } from '../app.ts';
import { caller, orgParam } from '../http/caller.ts';
import { parseInput } from '../http/form.ts';
import { authorize } from '../policy/roles.ts';

/** An org's audit trail, oldest first, a page at a time (`after` = the last seq seen). */
export const auditRoutes = new Hono<AppEnv>();

const AuditQuery = z.strictObject({
  after: z.coerce.number().int().nonnegative().default(0),
  limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(100),
});

auditRoutes.get('/v1/orgs/:org/audit', async (c) => {
  const principal = await caller(c);
  const services = c.var.services;
  const org = await readOrg(services, orgParam(c));
  authorize(org, principal, 'audit:read');
  const { after, limit } = parseInput(AuditQuery, c.req.query());
  return c.json(await readAuditPage(services, org.slug, after, limit));
});
