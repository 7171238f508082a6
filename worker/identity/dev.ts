/**
 * The `dev` provider: signs in any email typed into a form. It exists for local use and
 * tests: config.ts refuses it unless the issuer is loopback, and every entry refuses any
 * request to a dev server that did not come to a loopback host from a loopback peer
 * (devRequestRefusal), so variables copied into a deployment cannot open it to anyone.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import type { Config } from '../config.ts';
import { newRequestId } from '../http/request-id.ts';

const Email = z.string().trim().toLowerCase().max(254).pipe(z.email());

export function devSignIn(
  config: Config,
  input: { email: string | undefined },
): { provider: 'dev'; subject: string; email: string } {
  if (config.identity !== 'dev' || !config.loopback) {
    throw new OAuthError('access_denied', 'the dev identity provider is not enabled');
  }
  const parsed = Email.safeParse(input.email ?? '');
  if (!parsed.success) throw new OAuthError('invalid_request', 'enter a valid email address');
  assertEmailAllowed(config, parsed.data);
  return { provider: 'dev', subject: parsed.data, email: parsed.data };
}

/** LATCHKEY_ALLOWED_EMAIL_DOMAINS, applied to every provider. */
export function assertEmailAllowed(config: Config, email: string): void {
  if (config.allowedEmailDomains.length === 0) return;
  const domain = email.split('@').pop() ?? '';
  if (!config.allowedEmailDomains.includes(domain)) {
    throw new OAuthError('access_denied', `accounts at ${domain} may not sign in to this server`);
  }
}

/** 127.0.0.0/8 and ::1, also IPv4-mapped (`::ffff:127.0.0.1`), bracketed or with a port (Forwarded's `for`). */
function isLoopbackAddress(address: string): boolean {
  const bare = (/^\[([^\]]*)\](:\d+)?$/.exec(address)?.[1] ?? address.replace(/^([\d.]+):\d+$/, '$1')).replace(/^::ffff:/i, '');
  return bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * A Host-style name (with or without a port) that is loopback, read as text: this runs on
 * every request of a dev server, where a URL object per name cost the key-check bench
 * measurable time. Only the plain forms count (`127.1` or `0x7f.0.0.1` are refused).
 */
function isLoopbackHost(host: string): boolean {
  const name = (/^\[([^\]]*)\](?::\d*)?$/.exec(host)?.[1] ?? host.replace(/:\d*$/, '')).toLowerCase();
  return name === 'localhost' || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name);
}

/** The host of a request URL, as text; a URL it cannot read stands for itself (never loopback). */
const urlHost = (url: string) => /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?([^/?#]*)/i.exec(url)?.[1] ?? url;

/**
 * Why a dev server must not answer this request, or null. Every name the request was
 * sent to (its URL, Host, a proxy's X-Forwarded-Host or Forwarded host) must be loopback,
 * and so must every address it came from (the peer when the runtime knows it, and any a
 * proxy or tunnel names): a dev server reached through a tunnel, a proxy, a public bind
 * address or a deployment answers no one.
 */
export function devRequestRefusal(request: Request, peer: string | null): string | null {
  const header = (name: string) => request.headers.get(name) ?? '';
  const forwarded = header('forwarded');
  const hosts = [urlHost(request.url), header('host'), ...header('x-forwarded-host').split(',')];
  for (const match of forwarded.matchAll(/host="?([^";,]*)/gi)) hosts.push(match[1] ?? '');
  const addresses = [peer ?? '', ...header('x-forwarded-for').split(','), header('x-real-ip')];
  for (const match of forwarded.matchAll(/for="?([^";,]*)/gi)) addresses.push(match[1] ?? '');
  if (hosts.some((host) => host.trim() !== '' && !isLoopbackHost(host.trim()))) {
    return 'the dev identity provider answers only on a loopback host (127.0.0.1, [::1] or localhost)';
  }
  if (addresses.some((address) => address.trim() !== '' && !isLoopbackAddress(address.trim()))) {
    return 'the dev identity provider answers only requests that come over loopback';
  }
  return null;
}

/** `GET /v1/me` exactly (any other spelling of the path is guarded as usual). */
const CREDENTIAL_CHECK = /^https?:\/\/[^/?#]+\/v1\/me(?:\?|$)/;

/** The entries' guard: a 403 for a request a dev server must not answer, else null. */
export function refuseOffLoopback(config: Config, request: Request, peer: string | null): Response | null {
  if (config.identity !== 'dev') return null;
  // The credential check answers only to a token this server issued, which only a guarded
  // sign-in hands out; it is every resource server's hot path, so it skips the guard.
  if (request.method === 'GET' && CREDENTIAL_CHECK.test(request.url)) return null;
  const refusal = devRequestRefusal(request, peer);
  if (refusal === null) return null;
  return Response.json(new OAuthError('access_denied', refusal).toJSON(), {
    status: 403,
    headers: { 'Cache-Control': 'no-store', 'X-Request-Id': newRequestId() },
  });
}
