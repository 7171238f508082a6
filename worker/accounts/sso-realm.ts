/**
 * Home-realm discovery and enforcement: which org's single sign-on an email belongs to.
 *
 * An email's realm is the org that verified its domain, or the nearest parent domain it
 * verified: whoever controls `acme.example`'s DNS controls `eu.acme.example`'s mail too, so
 * proving the one covers the other (and a sub-domain is no way around an org's
 * enforcement). A sub-domain another org verified itself is that org's: the most specific
 * verified domain decides, for discovery, enforcement and whose provider may vouch for the
 * address alike. Domains are compared as DNS names: lower case, IDN labels in their ASCII
 * (punycode) form, no trailing dot, so no spelling of a domain is a way around it either.
 */
import { OAuthError } from '../../shared/errors.ts';
import type { Services } from '../services.ts';
import { verifiedOwnerOf } from './domains.ts';
import { type SsoConnection, ssoConnectionOf } from './sso-connections.ts';

/** The realm of an email: the org, the verified domain that decided it, and the org's enabled connection (null: none). */
export type SsoRealm = { org: string; domain: string; connection: SsoConnection | null };

/** Labels a parent domain keeps at least: `example` alone is never claimed (shared/schemas.ts DomainName). */
const MIN_LABELS = 2;
/**
 * A domain has up to 127 labels; an email's is looked up at most this many times, at the
 * least specific end (the names of two to nine labels), where the domains orgs verify are:
 * capping at the most specific end instead put an address nine labels below its org's
 * domain in no realm, past the org's enforcement.
 */
const MAX_PARENTS = 8;

/**
 * The domain of an email as DNS names it (lower case, punycode, no trailing dot); null when
 * it is not a host name at all (no realm can hold it).
 */
export function emailDomain(email: string): string | null {
  const at = email.lastIndexOf('@');
  if (at < 0) return null;
  const raw = email.slice(at + 1);
  if (raw === '' || /[\s/\\?#@:[\]]/.test(raw)) return null;
  let host: string;
  try {
    host = new URL(`http://${raw}/`).hostname;
  } catch {
    return null;
  }
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  return name.includes('.') && !name.startsWith('[') ? name : null;
}

/** An email with its domain as emailDomain spells it: the one form memberships and audit entries use. */
export function canonicalEmail(email: string): string {
  const domain = emailDomain(email);
  const local = email.slice(0, email.lastIndexOf('@')).toLowerCase();
  return domain === null ? email.toLowerCase() : `${local}@${domain}`;
}

/** The domain and its parents, most specific first, down to two labels; of a deep domain, its MAX_PARENTS least specific. */
function domainAndParents(domain: string): string[] {
  const labels = domain.split('.');
  const names: string[] = [];
  for (let start = Math.max(0, labels.length - MIN_LABELS - MAX_PARENTS + 1); labels.length - start >= MIN_LABELS; start++) {
    names.push(labels.slice(start).join('.'));
  }
  return names;
}

/** The org whose verified domain covers `email` (the most specific one), and its connection if enabled; null: none. */
export async function realmOf(services: Services, email: string): Promise<SsoRealm | null> {
  const domain = emailDomain(email);
  if (domain === null) return null;
  for (const name of domainAndParents(domain)) {
    const org = await verifiedOwnerOf(services, name);
    if (org === null) continue;
    const connection = await ssoConnectionOf(services, org);
    return { org, domain: name, connection: connection?.enabled ? connection : null };
  }
  return null;
}

/** What a person whose email an org's enforced SSO covers is told on any other way in. */
export const enforcedMessage = (org: string) =>
  `${org} requires you to sign in through its single sign-on: enter your email on the sign-in page`;

/**
 * Whether `email` is one of the deployment's operators (LATCHKEY_OPERATORS), both spelled as
 * canonicalEmail spells them. Operators are above orgs: only the deployment's own provider
 * signs one in, never an org's, whose owner names its provider and may run it
 * (sso-sign-in.ts); and so no org's enforcement keeps one from the deployment's.
 */
export function isOperatorEmail(operators: readonly string[], email: string): boolean {
  const canonical = canonicalEmail(email);
  return operators.some((operator) => canonicalEmail(operator) === canonical);
}

/**
 * Refuses a sign-in of `email` that did not come through its realm's connection when that
 * connection is enforced: the dev form and the deployment's own provider, after they said
 * who signed in and before any browser sign-in exists. Not an operator's (isOperatorEmail).
 */
export async function assertNotEnforcedElsewhere(services: Services, email: string): Promise<void> {
  if (isOperatorEmail(services.config.operators, email)) return;
  const realm = await realmOf(services, email);
  if (realm?.connection?.enforced) throw new OAuthError('access_denied', enforcedMessage(realm.org));
}
