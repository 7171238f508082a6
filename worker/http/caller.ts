/**
 * Who is calling: on a /v1 route, the Bearer credential turned into a principal the role
 * checks understand, and the audit source its changes are recorded under; on a sign-in,
 * the address and user agent the consent page shows and the session keeps.
 */
import type { Context } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import { Slug } from '../../shared/schemas.ts';
import type { AuditSource } from '../accounts/audit.ts';
import type { Requester } from '../accounts/sessions.ts';
import type { AppEnv } from '../app.ts';
import { type Principal, principalOf } from '../policy/roles.ts';
import { authenticate } from '../tokens/credential.ts';
import { bearerToken, parseInput } from './form.ts';

export async function caller(c: Context<AppEnv>): Promise<Principal> {
  c.header('Cache-Control', 'no-store');
  const claims = await authenticate(c.var.services, bearerToken(c));
  c.set('claims', claims);
  return principalOf(claims);
}

/** A person's verified email (or id), or the API key's id. */
export const actorOf = (principal: Principal) => (principal.kind === 'user' ? (principal.email ?? principal.sub) : principal.id);

export const auditSource = (c: Context<AppEnv>, principal: Principal): AuditSource => ({
  actor: actorOf(principal),
  requestId: c.var.requestId,
});

/** The address and user agent of a sign-in request (the agent cut to 200 characters). */
export const requesterOf = (c: Context<AppEnv>): Requester => ({
  address: c.var.services.clientAddress(c.req.raw),
  userAgent: c.req.header('user-agent')?.slice(0, 200) ?? null,
});

export const orgParam = (c: Context<AppEnv>) => parseInput(Slug, c.req.param('org'));
