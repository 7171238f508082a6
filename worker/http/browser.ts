/**
 * What a browser carries between pages: a binding cookie that CSRF tokens are derived
 * from, and, once signed in, a session cookie naming a short-lived web session.
 */
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { OAuthError } from '../../shared/errors.ts';
import { type ActiveWebSession, createWebSession, readWebSessionRecord, WEB_SESSION_SECONDS } from '../accounts/web-sessions.ts';
import type { AppEnv } from '../app.ts';
import { prefixOf } from '../branding.ts';
import type { Person } from '../identity/users.ts';
import { storeKey } from '../store/store.ts';
import { base64url, constantTimeEqual, generateSecret, randomBytes } from '../tokens/opaque.ts';
import { requesterOf } from './caller.ts';

/** A browser cookie's name: every cookie of ours is `__Host-` named on an https issuer. */
export function cookieName(c: Context<AppEnv>, name: string): string {
  // The __Host- prefix needs Secure, which browsers refuse on plain-http loopback issuers.
  return c.var.services.config.issuer.protocol === 'https:' ? `__Host-${name}` : name;
}

/** What every cookie of ours is set with: HttpOnly, SameSite=Lax, the whole site, Secure on https. */
export function cookieOptions(c: Context<AppEnv>, maxAge: number) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'Lax' as const,
    secure: c.var.services.config.issuer.protocol === 'https:',
    maxAge,
  };
}

/** This browser's binding cookie, set on first sight. */
function binding(c: Context<AppEnv>): string {
  const name = cookieName(c, 'lk_b');
  let value = getCookie(c, name);
  if (!value || !/^[\w-]{43}$/.test(value)) {
    value = base64url(randomBytes(32));
    setCookie(c, name, value, cookieOptions(c, 86400));
  }
  return value;
}

/** The CSRF token for this browser. */
export async function csrfToken(c: Context<AppEnv>): Promise<string> {
  return c.var.services.hasher.hash('csrf', binding(c));
}

/** A stable id of this browser, for binding an upstream sign-in to the browser that began it. */
export async function browserId(c: Context<AppEnv>): Promise<string> {
  return c.var.services.hasher.hash('browser', binding(c));
}

/** Every form post must echo the token derived from its own browser's binding cookie. */
export async function assertCsrf(c: Context<AppEnv>, submitted: string | undefined): Promise<void> {
  const binding = getCookie(c, cookieName(c, 'lk_b'));
  const expected = binding ? await c.var.services.hasher.hash('csrf', binding) : null;
  if (!expected || !submitted || !constantTimeEqual(expected, submitted)) {
    throw new OAuthError('invalid_request', 'the form expired or came from another site; reload the page and try again', {
      status: 403,
    });
  }
}

export async function readWebSession(c: Context<AppEnv>): Promise<ActiveWebSession | null> {
  const key = await sessionKey(c);
  const found = key ? await readWebSessionRecord(c.var.services, key) : null;
  return key && found ? { ...found, key } : null;
}

/** The stored key of the session cookie this request carries, if it is well formed. */
async function sessionKey(c: Context<AppEnv>): Promise<string | null> {
  const secret = getCookie(c, cookieName(c, 'lk_session'));
  // The deployment's prefix or latchkey's: a browser signed in before a rebrand stays signed in.
  if (!secret || !prefixOf(secret, c.var.services.config.branding.accepted.browserSession) || secret.length > 100) return null;
  return c.var.services.hasher.hash('ws', secret);
}

/**
 * `authenticatedAt`: when the identity provider says the person proved who they are (ms);
 * absent, now. `proof`: what the sign-in proved (absent, the first step alone). Called for
 * a person with a second factor only once it is proven (http/second-step.ts).
 */
export async function startWebSession(
  c: Context<AppEnv>,
  person: Person,
  authenticatedAt?: number,
  proof?: { amr: string[]; mfaAt: number | null },
): Promise<void> {
  const services = c.var.services;
  const secret = generateSecret(services.config.branding.prefixes.browser_session);
  await createWebSession(services, await services.hasher.hash('ws', secret), person, requesterOf(c), authenticatedAt, proof);
  setCookie(c, cookieName(c, 'lk_session'), secret, cookieOptions(c, WEB_SESSION_SECONDS));
}

/** Signing out: the record goes, then the cookie. */
export async function endThisWebSession(c: Context<AppEnv>): Promise<void> {
  const key = await sessionKey(c);
  if (key) await c.var.services.store.delete(storeKey('webSession', key));
  deleteCookie(c, cookieName(c, 'lk_session'), { path: '/', secure: c.var.services.config.issuer.protocol === 'https:' });
}

/** For form posts that only make sense signed in. */
export async function requireWebSession(c: Context<AppEnv>): Promise<ActiveWebSession> {
  const session = await readWebSession(c);
  if (!session) throw new OAuthError('access_denied', 'your sign-in expired; start again from the link', { status: 403 });
  return session;
}
