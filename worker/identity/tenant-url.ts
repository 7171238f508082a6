/**
 * Addresses an org's admin names (an SSO connection's issuer, and every endpoint its
 * provider's discovery document names), which the server then fetches or sends browsers
 * to. The operator's own provider is trusted with any https address; a tenant's is not: on
 * a public deployment it must be https on a public name, never loopback, a private or
 * link-local address (cloud metadata), so no org turns the server into a client of the
 * network it runs in. A loopback deployment (development, the tests) lets plain http on
 * loopback through, as LATCHKEY_DOH_URL and the operator's issuer do.
 *
 * What a public name resolves to is not checked here (Workers cannot see it); the runtimes'
 * own outbound rules apply to that.
 */
import { OAuthError } from '../../shared/errors.ts';
import { isLoopbackUrl } from '../config.ts';

/** The URL, when an org may have the server use it; else `invalid_request` naming `what`. */
export function tenantUrl(value: string, deploymentLoopback: boolean, what: string): URL {
  const url = URL.canParse(value) ? new URL(value) : null;
  if (!url) throw new OAuthError('invalid_request', `${what} is not a URL`);
  if (url.username || url.password) throw new OAuthError('invalid_request', `${what} must not carry a user name or password`);
  if (url.protocol === 'http:' && deploymentLoopback && isLoopbackUrl(url)) return url;
  if (url.protocol !== 'https:')
    throw new OAuthError('invalid_request', `${what} must be https (plain http only on loopback, for development)`);
  if (!deploymentLoopback && internalHost(url.hostname)) {
    throw new OAuthError('invalid_request', `${what} must be on a public host, not loopback, a private or a link-local address`);
  }
  return url;
}

/** Loopback, private, link-local, unspecified or carrier-grade NAT addresses, and names that mean this machine. */
export function internalHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal') || host.endsWith('.local')) return true;
  if (host.startsWith('[')) return internalIpv6(host.slice(1, -1));
  const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)?.slice(1).map(Number);
  if (!octets) return false;
  const [a = 0, b = 0] = octets;
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    a >= 224
  );
}

function internalIpv6(address: string): boolean {
  if (address === '::' || address === '::1') return true;
  // IPv4-mapped (URL writes it in hex: ::ffff:7f00:1) and NAT64 forms reach IPv4 hosts: judged as those.
  const mapped = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(address);
  if (mapped) {
    const high = Number.parseInt(mapped[1] ?? '0', 16);
    const low = Number.parseInt(mapped[2] ?? '0', 16);
    return internalHost(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
  }
  const first = Number.parseInt(address.split(':', 1)[0] || '0', 16);
  // fc00::/7 unique local, fe80::/10 link-local, ff00::/8 multicast.
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00;
}
