/** RFC 9728: what an API protected by latchkey publishes about itself. */

export type ProtectedResourceMetadata = {
  resource: string;
  authorization_servers: string[];
  scopes_supported: string[];
  bearer_methods_supported: ['header'];
  resource_name?: string;
  resource_documentation?: string;
};

/** The JSON object to serve at `/.well-known/oauth-protected-resource` (RFC 9728 §2). */
export function protectedResourceMetadata(options: {
  resource: string;
  issuer: string;
  scopes: string[];
  name?: string;
  documentation?: string;
}): ProtectedResourceMetadata {
  return {
    resource: options.resource,
    authorization_servers: [options.issuer.replace(/\/+$/, '')],
    scopes_supported: [...options.scopes],
    bearer_methods_supported: ['header'],
    ...(options.name ? { resource_name: options.name } : {}),
    ...(options.documentation ? { resource_documentation: options.documentation } : {}),
  };
}

/**
 * Where the metadata of `resource` lives (RFC 9728 §3.1): the well-known path goes between
 * the host and the resource's path, `https://api.example.com/v2` ->
 * `https://api.example.com/.well-known/oauth-protected-resource/v2`. This is the value for a
 * verifier's `resourceMetadata` option, which puts it in every challenge.
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}
