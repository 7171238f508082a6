import { Hono } from 'hono';
import { AMR_VALUES, MFA_ACR, SCOPES, type ServerMetadata, SUPPORTED_GRANTS } from '../../shared/schemas.ts';
import type { AppEnv } from '../app.ts';

/** RFC 8414 metadata (also served as OpenID discovery) and the JWKS. */
export const discoveryRoutes = new Hono<AppEnv>();

/** What this server says of itself at `base` (a hostile stand-in in the CLI tests says the same). */
export function serverMetadata(base: string): ServerMetadata {
  return {
    issuer: base,
    token_endpoint: `${base}/oauth/token`,
    device_authorization_endpoint: `${base}/oauth/device_authorization`,
    revocation_endpoint: `${base}/oauth/revoke`,
    introspection_endpoint: `${base}/oauth/introspect`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    userinfo_endpoint: `${base}/v1/me`,
    authorization_endpoint: `${base}/oauth/authorize`,
    authorization_response_iss_parameter_supported: true,
    grant_types_supported: [...SUPPORTED_GRANTS],
    response_types_supported: ['code'],
    scopes_supported: [...SCOPES],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    introspection_endpoint_auth_methods_supported: ['bearer'],
    acr_values_supported: [MFA_ACR],
    amr_values_supported: [...AMR_VALUES],
  };
}

for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
  discoveryRoutes.get(path, (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.json(serverMetadata(c.var.services.config.base));
  });
}

discoveryRoutes.get('/.well-known/jwks.json', (c) => {
  c.header('Cache-Control', 'public, max-age=300');
  return c.json(c.var.services.keys.jwks);
});
