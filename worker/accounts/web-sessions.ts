/**
 * Browser sign-ins: what a person's `lk_session` cookie names. Each lives a bounded time
 * and remembers when the person last proved who they are (`authTime`), which the console's
 * sensitive actions ask to be recent. A per-person index lets the console list a person's
 * signed-in browsers and end one; the record itself, keyed by a hash of the cookie, decides.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import type { Services } from '../services.ts';
import { parseRecord, readRecord, updateRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { generateId } from '../tokens/opaque.ts';
import { type FactorMethod, needsSecondFactor } from './factors.ts';
import { type Requester, sessionOwner } from './sessions.ts';

/** A browser sign-in's whole life; signing in again starts a new one. */
export const WEB_SESSION_SECONDS = 8 * 3600;
/** How recent a sign-in must be for a sensitive console action (keys of admin or above, roles, deleting policies). */
export const RECENT_SIGN_IN_SECONDS = 10 * 60;
const MAX_LISTED = 50;

/**
 * Whether the person proved who they are recently enough for a sensitive act: the console's
 * (keys of admin or above, roles, deleting policies) and approving a sign-in for a device or
 * a client, whose whole-person token could do those acts on the JSON API.
 */
export const signedInWithin = (services: Services, session: { authTime: number }): boolean =>
  services.now() - session.authTime <= RECENT_SIGN_IN_SECONDS * 1000;
const INDEX_TTL_SECONDS = 10 * 365 * 86400;

/**
 * Why this browser sign-in may not approve a sign-in for a device or an app, whose tokens
 * will say what it proved: 'stale' past the recent window, 'no-code' when the person has a
 * second factor and this sign-in did not give one (it began before they enrolled); null: it may.
 */
export async function approvalRefusal(
  services: Services,
  session: { sub: string; email: string | null; authTime: number; mfaAt: number | null },
): Promise<'stale' | 'no-code' | null> {
  if (!signedInWithin(services, session)) return 'stale';
  if (session.mfaAt === null && (await needsSecondFactor(services, sessionOwner(session)))) return 'no-code';
  return null;
}

export const WebSession = z.object({
  sub: z.string(),
  email: z.string().nullable(),
  // Added with the console; a record from before reads as signed in at its start, from nowhere.
  publicId: z.string().default(''),
  authTime: z.number().default(0),
  createdAt: z.number().default(0),
  expiresAt: z.number().default(0),
  address: z.string().nullable().default(null),
  userAgent: z.string().nullable().default(null),
  /**
   * How the person signed in (RFC 8176 values): `pwd` for the first step (what the identity
   * provider or the dev form proved), then `mfa` and `otp`, `hwk` or `swk` once a second factor was proven
   * (two-step sign-in, issue #22). A record from before reads as the first step only.
   */
  amr: z.array(z.string()).default(['pwd']),
  /** When the second factor was proven (ms); null when it was not. */
  mfaAt: z.number().nullable().default(null),
});
export type WebSession = z.infer<typeof WebSession>;
/** A web session as the request sees it: `key` is the hash its record lives under. */
export type ActiveWebSession = WebSession & { key: string };

/** A browser sign-in's public id as the console names it (`generateId('web_')`). */
export const WebSessionPublicId = z.string().regex(/^web_[\w-]{20}$/, 'not a signed-in browser id');

const WebSessionIndex = z.array(z.object({ id: z.string(), key: z.string(), expiresAt: z.number() }));

const indexKey = (owner: string) => storeKey('webSessionIndex', owner);

export async function createWebSession(
  services: Services,
  key: string,
  person: { sub: string; email: string | null },
  requester: Requester,
  /** When the identity provider says the person proved who they are (ms); absent, now (never later than now). */
  authenticatedAt?: number,
  /** What the sign-in proved: absent, the first step alone. */
  proof: { amr: string[]; mfaAt: number | null } = { amr: ['pwd'], mfaAt: null },
): Promise<WebSession> {
  const now = services.now();
  const session: WebSession = {
    sub: person.sub,
    email: person.email,
    publicId: generateId('web_'),
    authTime: Math.min(now, authenticatedAt ?? now),
    createdAt: now,
    expiresAt: now + WEB_SESSION_SECONDS * 1000,
    address: requester.address,
    userAgent: requester.userAgent,
    amr: proof.amr,
    mfaAt: proof.mfaAt,
  };
  await services.store.put(storeKey('webSession', key), JSON.stringify(session), WEB_SESSION_SECONDS);
  await updateRecord(
    services.store,
    indexKey(sessionOwner(session)),
    WebSessionIndex,
    { ifAbsent: () => [], ttlSeconds: INDEX_TTL_SECONDS, what: 'browser sign-in list' },
    (index) =>
      [...index.filter((entry) => entry.expiresAt > now), { id: session.publicId, key, expiresAt: session.expiresAt }].slice(
        -MAX_LISTED,
      ),
  );
  return session;
}

/**
 * A sign-in's `amr` once a second factor was proven in it: the first step's, then `mfa`
 * and how (RFC 8176): `otp` for a code, `hwk` for a key bound to its authenticator (a
 * security key), `swk` for a synced passkey.
 */
export const withSecondFactor = (amr: string[], method: FactorMethod): string[] => [...new Set([...amr, 'mfa', method])];

/**
 * Records that the person proved a second factor in this browser sign-in after it began:
 * the first code of an authenticator added here, or a passkey made here. Without it, the browser that turned
 * two-step sign-in on would count as one signed in on the first step alone, and be asked
 * to sign in again before its next change of factors.
 */
export async function recordSecondFactor(services: Services, key: string, method: FactorMethod): Promise<void> {
  const recordKey = storeKey('webSession', key);
  for (let attempt = 0; attempt < 5; attempt++) {
    const raw = await services.store.get(recordKey);
    if (raw === null) return;
    const session = parseRecord(WebSession, raw);
    const now = services.now();
    if (session.expiresAt <= now) return;
    const next: WebSession = { ...session, amr: withSecondFactor(session.amr, method), mfaAt: now };
    // The record's own end decides (readWebSessionRecord); the store keeps it at least a minute.
    const ttl = Math.max(60, Math.ceil((session.expiresAt - now) / 1000));
    if (await services.store.swap(recordKey, raw, JSON.stringify(next), ttl)) return;
  }
  throw new OAuthError('temporarily_unavailable', 'your browser sign-in kept changing; try again');
}

export async function readWebSessionRecord(services: Services, key: string): Promise<WebSession | null> {
  const session = (await readRecord(services.store, storeKey('webSession', key), WebSession))?.value ?? null;
  // The record's own end decides, whatever a store's expiry lags; one from before the console
  // has none (0), and its store TTL bounds it.
  if (session && session.expiresAt !== 0 && session.expiresAt <= services.now()) return null;
  return session;
}

/** A person's signed-in browsers, newest first. */
export async function listWebSessions(services: Services, owner: string): Promise<ActiveWebSession[]> {
  const index = (await readRecord(services.store, indexKey(owner), WebSessionIndex))?.value ?? [];
  const now = services.now();
  const found = await Promise.all(
    index
      .filter((entry) => entry.expiresAt > now)
      .map(async ({ key }) => {
        const session = await readWebSessionRecord(services, key);
        // The record decides: one that names someone else is not theirs.
        return session && sessionOwner(session) === owner ? { ...session, key } : null;
      }),
  );
  return found.filter((session) => session !== null).sort((a, b) => b.createdAt - a.createdAt);
}

/** Ends one of the owner's browser sign-ins by its public id; false when they have none by that id. */
export async function endWebSession(services: Services, owner: string, id: string): Promise<boolean> {
  const target = (await listWebSessions(services, owner)).find((session) => session.publicId === id);
  if (!target) return false;
  await services.store.delete(storeKey('webSession', target.key));
  return true;
}
