/**
 * What a browser carries between pages: a binding cookie that CSRF tokens are derived
 * from, and, once signed in, a session cookie naming a short-lived web session.
 */
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { TOKEN_PREFIX } from '../../shared/schemas.ts';
import type { AppEnv } from '../app.ts';
import type { Person } from '../identity/users.ts';
import { readRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { base64url, constantTimeEqual, generateSecret, randomBytes } from '../tokens/opaque.ts';

const WEB_SESSION_SECONDS = 3600;
const WebSession = z.object({ sub: z.string(), email: z.string().nullable() });

function cookieName(c: Context<AppEnv>, name: string): string {
  // The __Host- prefix needs Secure, which browsers refuse on plain-http loopback issuers.
  return c.var.services.config.issuer.protocol === 'https:' ? `__Host-${name}` : name;
}

function cookieOptions(c: Context<AppEnv>, maxAge: number) {
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

export async function readWebSession(c: Context<AppEnv>): Promise<(Person & { id: string }) | null> {
  const secret = getCookie(c, cookieName(c, 'lk_session'));
  if (!secret?.startsWith(TOKEN_PREFIX.session) || secret.length > 100) return null;
  const { store, hasher } = c.var.services;
  const id = await hasher.hash('ws', secret);
  const found = await readRecord(store, storeKey('webSession', id), WebSession);
  return found ? { ...found.value, id } : null;
}

export async function startWebSession(c: Context<AppEnv>, person: Person): Promise<void> {
  const { store, hasher } = c.var.services;
  const secret = generateSecret(TOKEN_PREFIX.session);
  const record: z.infer<typeof WebSession> = { sub: person.sub, email: person.email };
  await store.put(storeKey('webSession', await hasher.hash('ws', secret)), JSON.stringify(record), WEB_SESSION_SECONDS);
  setCookie(c, cookieName(c, 'lk_session'), secret, cookieOptions(c, WEB_SESSION_SECONDS));
}

/** For form posts that only make sense signed in. */
export async function requireWebSession(c: Context<AppEnv>): Promise<Person & { id: string }> {
  const session = await readWebSession(c);
  if (!session) throw new OAuthError('access_denied', 'your sign-in expired; start again from the link', { status: 403 });
  return session;
}
