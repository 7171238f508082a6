/** Which upstream identity provider LATCHKEY_IDENTITY names; null for `dev`, which has none. */
import type { Config } from '../config.ts';
import { githubProvider } from './github.ts';
import { oidcProvider } from './oidc.ts';
import type { UpstreamProvider } from './upstream.ts';

export function upstreamProvider(config: Config): UpstreamProvider | null {
  if (config.identity === 'oidc' && config.oidc) return oidcProvider(config.oidc);
  if (config.identity === 'github' && config.github) return githubProvider(config.github);
  return null;
}

/** The upstream's origin, which the sign-in page names and its CSP lets the form lead to. */
export function upstreamOrigin(config: Config): URL | null {
  if (config.identity === 'oidc' && config.oidc) return new URL(config.oidc.issuer);
  if (config.identity === 'github' && config.github) return new URL(config.github.webUrl);
  return null;
}
