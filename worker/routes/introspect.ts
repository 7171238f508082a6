import { Hono } from 'hono';
import { type IntrospectionResponse, TOKEN_PREFIX, TokenLookupRequest } from '../../shared/schemas.ts';
import type { AppEnv } from '../app.ts';
import { lookupRefreshToken } from '../grants/refresh-token.ts';
import { bearerToken, parseInput, readForm } from '../http/form.ts';
import { authenticate } from '../tokens/credential.ts';

/**
 * RFC 7662. The caller presents its own Bearer credential and learns only about tokens of
 * the same subject; everything else, unknown or not, is `active: false`.
 */
export const introspectRoutes = new Hono<AppEnv>();

const INACTIVE: IntrospectionResponse = { active: false };

introspectRoutes.post('/oauth/introspect', async (c) => {
  const services = c.var.services;
  const caller = await authenticate(services, bearerToken(c));
  const { token } = parseInput(TokenLookupRequest, await readForm(c));
  c.header('Cache-Control', 'no-store');

  if (token.startsWith(TOKEN_PREFIX.refreshToken)) {
    const found = await lookupRefreshToken(services, token);
    if (!found?.live || found.family.sub !== caller.sub) return c.json(INACTIVE);
    const body: IntrospectionResponse = {
      active: true,
      token_type: 'refresh_token',
      sub: found.family.sub,
      client_id: found.family.clientId,
      scope: found.family.scope,
      exp: Math.floor(found.family.expiresAt / 1000),
      iat: Math.floor(found.issuedAt / 1000),
      iss: services.config.base,
      sid: found.sid,
      kind: 'user',
    };
    return c.json(body);
  }

  const claims = await authenticate(services, token).catch(() => null);
  if (!claims || claims.sub !== caller.sub) return c.json(INACTIVE);
  const body: IntrospectionResponse = {
    active: true,
    token_type: 'access_token',
    sub: claims.sub,
    client_id: claims.client_id,
    scope: claims.scope,
    exp: claims.exp,
    iat: claims.iat,
    iss: claims.iss,
    jti: claims.jti,
    sid: claims.sid,
    kind: claims.kind,
  };
  return c.json(body);
});
