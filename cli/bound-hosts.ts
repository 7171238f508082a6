/**
 * What the credential helpers (git, Docker, kubectl) share: which hosts a context's token
 * may be handed to, the token as they write it, and when it expires.
 *
 * A helper is asked by a tool about whatever host that tool is talking to — a clone URL
 * in a README, a registry in a Dockerfile — so the answer is the token only for a host the
 * person bound: for git, the context's own server and what `setup-git --host` added; for
 * Docker, what `setup-docker --registry` added. Everything else gets nothing.
 */
import { type Context, selectContext } from '../packages/client/src/config.ts';
import { cachedToken, resolveCredential, validStoredToken } from '../packages/client/src/credential.ts';
import { isVisibleAscii, unverifiedClaim } from '../packages/client/src/token-text.ts';
import type { CliDeps, GlobalOptions } from './deps.ts';
import { CliError } from './errors.ts';
import { LAST_RFC3339_SECOND } from './rfc3339.ts';

/** `name` or `name:port`, the name a DNS name, an IPv4 address or a bracketed IPv6 one: no user, path, query or space. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::[0-9]{1,5})?$/;

/** Plain http carries a token in the clear; it is answered only for this machine. */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * `host[:port]` as URL normalises it under `protocol` (lower case, the default port
 * dropped), so `Example.com:443` and `example.com` are one host over https; null for
 * anything that is not a bare host.
 */
export function normalHost(protocol: 'http' | 'https', host: string): string | null {
  if (!HOST.test(host)) return null;
  const port = host.match(/:([0-9]+)$/)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return null;
  const text = `${protocol}://${host}/`;
  return URL.canParse(text) ? new URL(text).host : null;
}

/** Whether the host names this machine (as URL reads it: `127.1` is 127.0.0.1). */
export function isLoopback(host: string): boolean {
  const normal = normalHost('http', host);
  return normal !== null && LOOPBACK.has(normal.replace(/:[0-9]+$/, ''));
}

/** The host of the context's server: a git remote there is bound without asking. */
export const serverHost = (context: Context): string => new URL(context.server).host;

/**
 * The context whose bindings a helper checks: --context, else the current one; null when
 * nothing is logged in, and then no host is bound (the tool asks its next helper).
 */
export async function boundContext(deps: CliDeps, global: GlobalOptions): Promise<{ name: string; context: Context } | null> {
  const config = await deps.config.read();
  if (!global.context && !config.current) return null;
  return selectContext(config, global.context);
}

/** Hosts git may be given this context's token for. */
export const gitHosts = (context: Context): string[] => [serverHost(context), ...(context.gitHosts ?? [])];

/** Whether `host`, reached over `protocol`, is one of `bound` (each compared under that protocol's default port). */
export function isBound(bound: readonly string[], protocol: string, host: string): boolean {
  if (protocol !== 'https' && !(protocol === 'http' && isLoopback(host))) return false;
  const asked = normalHost(protocol, host);
  return asked !== null && bound.some((entry) => normalHost(protocol, entry) === asked);
}

/**
 * A host the person names on the command line: `host[:port]`, or `http(s)://host[:port]`
 * (nothing after the host). Plain http is for loopback only. Returns the host to store
 * and the URL schemes a tool may reach it by: a bare loopback host, both.
 */
export function parseHostArgument(option: string, value: string): { host: string; protocols: ('http' | 'https')[] } {
  const scheme = value.match(/^(https?):\/\/(.*?)\/?$/i);
  const protocol = (scheme?.[1]?.toLowerCase() ?? 'https') as 'http' | 'https';
  const bare = scheme ? (scheme[2] as string) : value;
  const host = normalHost(protocol, bare);
  if (host === null) throw new CliError('usage', `${option} takes a host, host:port or http(s)://host[:port]: "${value}"`);
  if (protocol === 'http' && !isLoopback(host)) {
    throw new CliError(
      'usage',
      `${option} ${value}: plain http would send the token in the clear; only 127.0.0.1, localhost and [::1] may use it`,
    );
  }
  const protocols: ('http' | 'https')[] = scheme ? [protocol] : isLoopback(host) ? ['http', 'https'] : ['https'];
  return { host, protocols };
}

/** `a,b` or `a`: the values of a host option (commas never occur in a host). */
export const listArgument = (value: string): string[] => value.split(',').filter((part) => part !== '');

/**
 * A token as a helper writes it into a line-based protocol: visible ASCII only, so a
 * token a hostile server issued cannot add a line (`host=…`) to what git reads.
 */
export function lineSafeToken(token: string): string {
  if (!isVisibleAscii(token))
    throw new CliError('invalid_credential', 'the token holds characters no credential has; log in again');
  return token;
}

/**
 * For git and Docker: the stored token of the context whose bindings were just checked —
 * the session cache, else the sealed file, refreshed under the lock, as `latchkey token`
 * reads it. Never LATCHKEY_TOKEN: a token passed in is bound to no host, and the one
 * `latchkey exec --context OTHER` gives its child would otherwise reach every host bound
 * here. Nor LATCHKEY_SERVER: the token goes to a bound host, not to a server named.
 */
export async function boundToken(deps: CliDeps, name: string, context: Context): Promise<string> {
  return lineSafeToken(await validStoredToken(deps, name, context));
}

/** For kubectl, whose kubeconfig names where it goes: the token `latchkey token` would print (the same cache, resolution and refresh). */
export async function helperToken(deps: CliDeps, global: GlobalOptions): Promise<string> {
  const quick = await cachedToken(deps, global);
  return lineSafeToken(quick ?? (await resolveCredential(deps, global, { tokenStdin: false, cacheAsked: true })).token);
}

/**
 * The `exp` of a JWT access token, read without verifying: it is our own, just fetched
 * from (or cached for) the server it came from, and only tells the tool when to ask
 * again. Null for an API key (opaque, no expiry) or a claim no calendar can hold.
 */
export function tokenExpiry(token: string): number | null {
  const exp = unverifiedClaim(token, 'exp');
  return typeof exp === 'number' && Number.isInteger(exp) && exp > 0 && exp <= LAST_RFC3339_SECOND ? exp : null;
}
