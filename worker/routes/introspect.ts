import { Hono } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import { type AccessTokenClaims, type IntrospectionResponse, TokenLookupRequest } from '../../shared/schemas.ts';
import { readOrg } from '../accounts/orgs.ts';
import type { AppEnv } from '../app.ts';
import { prefixOf } from '../branding.ts';
import { lookupRefreshToken } from '../grants/refresh-token.ts';
import { bearerToken, parseInput, readForm } from '../http/form.ts';
import { authorize, principalOf } from '../policy/roles.ts';
import type { Services } from '../services.ts';
import { authenticate } from '../tokens/credential.ts';

/**
 * RFC 7662. The caller presents its own Bearer credential and learns about tokens of the
 * same subject and, as one who may read an org's keys (an admin or above; a project key or
 * a narrowed token for its project only), about that org's: its API keys, CI and narrowed
 * tokens naming it, and the tokens of sessions established for it. A person's own sign-in
 * (for no org) is no org's business. Everything else, unknown or not, is `active: false`.
 */
export const introspectRoutes = new Hono<AppEnv>();

const INACTIVE: IntrospectionResponse = { active: false };

introspectRoutes.post('/oauth/introspect', async (c) => {
  const services = c.var.services;
  const caller = await authenticate(services, bearerToken(c));
  const { token } = parseInput(TokenLookupRequest, await readForm(c));
  c.header('Cache-Control', 'no-store');

  if (prefixOf(token, services.config.branding.accepted.refreshToken)) {
    const found = await lookupRefreshToken(services, token);
    if (!found?.live) return c.json(INACTIVE);
    const { family } = found;
    const own = owns(caller, { sub: family.sub, kind: 'user', org: family.org });
    if (!own && !(await orgReaches(services, caller, family.org, null))) return c.json(INACTIVE);
    const body: IntrospectionResponse = {
      active: true,
      token_type: 'refresh_token',
      sub: family.sub,
      client_id: family.clientId,
      scope: family.scope,
      exp: Math.floor(family.expiresAt / 1000),
      iat: Math.floor(found.issuedAt / 1000),
      iss: services.config.base,
      sid: found.sid,
      kind: 'user',
    };
    return c.json(body);
  }

  // A token refused is inactive; a store that cannot say is a 503 like on every route: a
  // resource server told `active: false` would act on a revocation that never happened.
  const claims = await authenticate(services, token).catch((error: unknown) => {
    if (error instanceof OAuthError && error.status < 500) return null;
    throw error;
  });
  if (!claims) return c.json(INACTIVE);
  // A session's tokens carry the org the session was established for (null: none).
  if (!owns(caller, claims) && !(await orgReaches(services, caller, claims.org, claims.project))) return c.json(INACTIVE);
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

/**
 * Whether the token is the caller's own: the same subject of the same kind. A CI token's
 * subject is its runner's (`repo:acme/app:ref:…`), which jobs under other orgs' policies
 * share, so for CI the org must match too.
 */
function owns(caller: AccessTokenClaims, token: Pick<AccessTokenClaims, 'sub' | 'kind' | 'org'>): boolean {
  if (caller.sub !== token.sub || caller.kind !== token.kind) return false;
  return caller.kind !== 'ci' || caller.org === token.org;
}

/**
 * Whether the caller may learn about a token of `org` (`project`: the project it is
 * confined to, null: org-wide), by the rule that lets it read the org's keys. A refusal of
 * any kind, a missing org or a caller with no place in orgs (a CI token) is simply no.
 */
async function orgReaches(
  services: Services,
  caller: AccessTokenClaims,
  org: string | null,
  project: string | null,
): Promise<boolean> {
  if (org === null) return false;
  try {
    authorize(await readOrg(services, org), principalOf(caller), 'keys:read', project);
    return true;
  } catch (error) {
    if (error instanceof OAuthError) return false;
    throw error;
  }
}
