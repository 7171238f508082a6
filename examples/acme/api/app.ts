/**
 * Acme's API on @latchkey/verify: every route takes an Acme access token (a JWT, checked
 * offline against the issuer's JWKS) or an Acme API key (checked at the issuer, cached for
 * at most `keyCacheSeconds`, which is how long a revoked key may still get in here).
 */
import { createVerifier, protectedResourceMetadata, protectedResourceMetadataUrl } from '@latchkey/verify';
import { type LatchkeyEnv, latchkey } from '@latchkey/verify/hono';
import { Hono } from 'hono';

export type AcmeApiOptions = {
  /** The Acme deployment of latchkey, e.g. https://auth.acme.dev */
  issuer: string;
  /** This API's own base URL, e.g. https://api.acme.dev */
  resource: string;
  /** The deployment's API-key prefixes (its LATCHKEY_SECRET_PREFIXES). */
  apiKeyPrefixes: string[];
  keyCacheSeconds?: number;
};

export function acmeApi(options: AcmeApiOptions) {
  const verifier = createVerifier({
    issuer: options.issuer,
    // latchkey puts its own base URL in every access token's `aud`.
    audience: options.issuer,
    realm: 'acme-api',
    resourceMetadata: protectedResourceMetadataUrl(options.resource),
    apiKeyPrefixes: options.apiKeyPrefixes,
    apiKeyCache: { staleSeconds: options.keyCacheSeconds ?? 30 },
  });
  const metadata = protectedResourceMetadata({
    resource: options.resource,
    issuer: options.issuer,
    scopes: ['read', 'write', 'admin'],
    name: 'Acme API',
  });

  return new Hono<LatchkeyEnv>()
    .get('/.well-known/oauth-protected-resource', (c) => c.json(metadata))
    .get('/v1/whoami', latchkey(verifier, { scope: 'read' }), (c) => {
      const { kind, sub, email, org, project, role, scope } = c.var.principal;
      return c.json({ kind, sub, email, org, project, role, scope });
    })
    .post('/v1/deploys', latchkey(verifier, { scope: 'write' }), (c) =>
      c.json({ deploy: 'queued', by: c.var.principal.sub }, 202),
    )
    .delete('/v1/projects/:project', latchkey(verifier, { scope: 'admin' }), (c) => c.json({ deleted: c.req.param('project') }));
}
