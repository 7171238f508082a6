import { Hono } from 'hono';
import type { MeResponse } from '../../shared/schemas.ts';
import type { AppEnv } from '../app.ts';
import { bearerFrom } from '../http/form.ts';
import type { Services } from '../services.ts';
import { authenticate } from '../tokens/credential.ts';

/**
 * `GET /v1/me`: the presented credential, as the server sees it. Every resource server's
 * check comes here, so app.ts answers GET before the router; this route serves HEAD.
 */
export const meRoutes = new Hono<AppEnv>();

meRoutes.get('/v1/me', async (c) => {
  c.header('Cache-Control', 'no-store');
  return c.json(await describeCredential(c.var.services, c.req.header('authorization')));
});

/** The Bearer credential of an `Authorization` header, refused if revoked or expired. */
export async function describeCredential(services: Services, authorization: string | null | undefined): Promise<MeResponse> {
  const claims = await authenticate(services, bearerFrom(authorization));
  return {
    sub: claims.sub,
    kind: claims.kind,
    email: claims.email ?? null,
    org: claims.org,
    project: claims.project,
    scope: claims.scope,
    exp: claims.exp,
    session_id: claims.sid,
    client_id: claims.client_id,
    ...(claims.role ? { role: claims.role } : {}),
  };
}
