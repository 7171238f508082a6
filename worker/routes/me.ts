import { Hono } from 'hono';
import type { MeResponse } from '../../shared/schemas.ts';
import type { AppEnv } from '../app.ts';
import { bearerToken } from '../http/form.ts';
import { authenticate } from '../tokens/credential.ts';

/** The presented credential, as the server sees it. */
export const meRoutes = new Hono<AppEnv>();

meRoutes.get('/v1/me', async (c) => {
  const claims = await authenticate(c.var.services, bearerToken(c));
  const body: MeResponse = {
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
  // Every resource server's check comes here: one Response, its headers given whole
  // (c.json would first collect them in a Headers object of Hono's).
  return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
});
