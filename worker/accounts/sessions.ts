/**
 * Sessions: one per sign-in, each a refresh-token family (grants/refresh-token.ts rotates
 * the tokens). The family record is the one place revocation is read, by the refresh
 * grant and by every Bearer check through the access token's `sid`. A per-person index
 * (by verified email, else by subject) lets a person list theirs. A sign-in may be
 * established for one org (its tokens then act in that org only); such sessions are also
 * in that org's index, and they are all an org admin can list or end: an org's power over
 * a person reaches only what was established for it.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { AMR_VALUES, RevokeReason, type SessionInfo } from '../../shared/schemas.ts';
import { isOperator, mfaRequired, type Principal } from '../policy/roles.ts';
import type { Services } from '../services.ts';
import { readRecord, updateRecord, type Versioned } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { generateId } from '../tokens/opaque.ts';
import { type AuditEvent, type AuditSource, appendAudit, appendAuditForPerson, SERVER_ACTOR } from './audit.ts';
import { OrgRecord } from './orgs.ts';

/** Where a sign-in came from, as the consent page shows it and the session keeps it. */
export const Requester = z.object({ address: z.string().nullable(), userAgent: z.string().nullable() });
export type Requester = z.infer<typeof Requester>;

/** At most this many `amr` values are kept (a record, a token); a longer list would make them unreadable. */
const MAX_AMR = 8;
const OWN_AMR: readonly string[] = AMR_VALUES;

/**
 * What the browser sign-in that approved a session proved (issue #22), carried through the
 * device code or authorization code into the session, and from it into every access token
 * (`amr`, `auth_time`): RFC 8176 methods, when the person last proved who they are, and
 * when a second factor was last proven (null: never in this session). A step-up moves both
 * times. Records from before say nothing: no methods, no times.
 */
export const SignInProof = z.object({
  amr: z.array(z.string()).max(MAX_AMR).default([]),
  authTime: z.number().nullable().default(null),
  mfaAt: z.number().nullable().default(null),
});
export type SignInProof = z.infer<typeof SignInProof>;

/**
 * An `amr` list within MAX_AMR, latchkey's own values (`mfa` among them) kept first: an
 * upstream provider may say eight of its own, and latchkey's second step adds to them.
 */
export const boundedAmr = (amr: string[]): string[] => {
  const unique = [...new Set(amr)];
  if (unique.length <= MAX_AMR) return unique;
  return [...unique.filter((value) => OWN_AMR.includes(value)), ...unique.filter((value) => !OWN_AMR.includes(value))].slice(
    0,
    MAX_AMR,
  );
};

/** Who approved a sign-in and what they proved, as a device code or authorization code keeps it until redeemed. */
export const SignInSubject = z.object({ sub: z.string(), email: z.string().nullable(), ...SignInProof.shape });
export type SignInSubject = z.infer<typeof SignInSubject>;

/** A browser sign-in's person and proof, as the session it approves will keep them. */
export const signInSubject = (session: {
  sub: string;
  email: string | null;
  amr: string[];
  /** 0: a browser sign-in from before it was recorded. */
  authTime: number;
  mfaAt: number | null;
}): SignInSubject => ({
  sub: session.sub,
  email: session.email,
  amr: boundedAmr(session.amr),
  authTime: session.authTime === 0 ? null : session.authTime,
  mfaAt: session.mfaAt,
});

export const Family = z.object({
  sub: z.string(),
  email: z.string().nullable(),
  clientId: z.string(),
  scope: z.string(),
  createdAt: z.number(),
  expiresAt: z.number(),
  revoked: RevokeReason.nullable(),
  device: Requester,
  // Added after the first release: older records read as "never said" and "not yet used".
  deviceName: z.string().nullable().default(null),
  lastUsedAt: z.number().nullable().default(null),
  /** The org the sign-in was established for; null (and every older record): none. */
  org: z.string().nullable().default(null),
  /**
   * Access tokens of this session revoked one by one (RFC 7009), until they expire. Kept
   * here so a Bearer check reads one record, the family, for both kinds of revocation.
   */
  revokedTokens: z.array(z.object({ jti: z.string(), exp: z.number() })).default([]),
  ...SignInProof.shape,
});
export type Family = z.infer<typeof Family>;
export type NewFamily = Pick<
  Family,
  'sub' | 'email' | 'clientId' | 'scope' | 'device' | 'deviceName' | 'org' | 'amr' | 'authTime' | 'mfaAt'
>;

const SessionIndex = z.array(z.object({ sid: z.string(), expiresAt: z.number() }));
/** An org's index names whose each session is, so one member's are found without reading the rest. */
const OrgSessionIndex = z.array(z.object({ sid: z.string(), email: z.string().nullable(), expiresAt: z.number() }));
/** A person's index keeps the newest sessions; older ones still work but no longer list. */
const MAX_LISTED_SESSIONS = 100;
/**
 * The same for an org's index: older sessions still work but no longer list, and a removal
 * (or the org requiring a second factor) ends them at their next refresh, not at once.
 */
const MAX_ORG_LISTED_SESSIONS = 500;
const INDEX_TTL_SECONDS = 10 * 365 * 86400;
/** `last_used_at` moves at most this often, so a busy CLI does not rewrite its session on every refresh. */
const LAST_USED_GRANULARITY_MS = 60_000;

export const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
export const familyKey = (sid: string) => storeKey('family', sid);

/** Whose sessions these are: the verified email (how orgs name members), else the subject. */
export const sessionOwner = (who: { sub: string; email?: string | null | undefined }) => who.email?.toLowerCase() ?? who.sub;

/**
 * Why a sign-in may not be established for an org (null: it may). Only by one of its
 * members (by verified email); a missing org answers as one the person is not in, so the
 * answer tells nothing of it. And in an org that requires two-step sign-in (issue #22),
 * only by a sign-in that proved a second factor: its tokens would be refused on the org's
 * routes, but a product's API checking them offline would take them.
 */
export async function establishRefusal(
  services: Services,
  org: string,
  subject: { email: string | null; mfaAt: number | null },
): Promise<OAuthError | null> {
  const found = await readRecord(services.store, storeKey('org', org), OrgRecord);
  const { email } = subject;
  if (email === null || found?.value.members[email.toLowerCase()] === undefined) return notAMember(email, org);
  if (found.value.requireMfa && subject.mfaAt === null) return mfaRequired(org);
  return null;
}

export const notAMember = (email: string | null, org: string) =>
  new OAuthError('access_denied', `${email ?? 'this account'} is not a member of org "${org}"`);

export async function createFamily(
  services: Services,
  init: NewFamily,
  source: AuditSource,
): Promise<{ sid: string; family: Family }> {
  const { config, store, now } = services;
  // Approval checked it; a removal since then must not leave a session behind for the org.
  const refusal = init.org === null ? null : await establishRefusal(services, init.org, init);
  if (refusal) throw refusal;
  const sid = generateId('ses_');
  const createdAt = now();
  const family: Family = {
    ...init,
    createdAt,
    expiresAt: createdAt + config.ttl.refreshToken * 1000,
    revoked: null,
    lastUsedAt: createdAt,
    revokedTokens: [],
  };
  await store.put(familyKey(sid), JSON.stringify(family), config.ttl.refreshToken);
  const indexKey = storeKey('sessionIndex', sessionOwner(family));
  await updateRecord(
    store,
    indexKey,
    SessionIndex,
    { ifAbsent: () => [], ttlSeconds: INDEX_TTL_SECONDS, what: 'session list' },
    (index) =>
      [...index.filter((entry) => entry.expiresAt > createdAt), { sid, expiresAt: family.expiresAt }].slice(-MAX_LISTED_SESSIONS),
  );
  if (family.org !== null) {
    const entry = { sid, email: family.email?.toLowerCase() ?? null, expiresAt: family.expiresAt };
    await updateRecord(
      store,
      orgIndexKey(family.org),
      OrgSessionIndex,
      { ifAbsent: () => [], ttlSeconds: INDEX_TTL_SECONDS, what: 'org session list' },
      (index) => [...index.filter((old) => old.expiresAt > createdAt), entry].slice(-MAX_ORG_LISTED_SESSIONS),
    );
  }
  await auditSession(services, family, source, { action: 'session.created', subject: sid, detail: describeDevice(family) });
  if (family.org !== null) {
    // Asked again now that the org's session index names it: a removal, or the org turning
    // two-step sign-in on, that ran between the check above and that write ended the
    // sessions it found there, which was not yet this one. Each writes before it reads the
    // other's, so one of the two sees the other.
    const late = await establishRefusal(services, family.org, family);
    if (late) {
      await revokeFamily(services, sid, 'admin', { ...source, actor: SERVER_ACTOR });
      throw late;
    }
  }
  return { sid, family };
}

const orgIndexKey = (org: string) => storeKey('orgSessionIndex', org);

/**
 * A session's events go to the trail of the org it was established for, and only there;
 * a session for no org, to each org the person has joined (its tokens act in all of them).
 */
function auditSession(services: Services, family: Family, source: AuditSource, event: AuditEvent): Promise<unknown> {
  return family.org !== null
    ? appendAudit(services, family.org, source, event)
    : appendAuditForPerson(services, family.email, source, event);
}

/** The family record with the exact text it was read as, for a later swap. */
export const readFamilyRecord = (services: Services, sid: string): Promise<Versioned<Family> | null> =>
  readRecord(services.store, familyKey(sid), Family);

export async function readFamily(services: Services, sid: string): Promise<Family | null> {
  return (await readFamilyRecord(services, sid))?.value ?? null;
}

/**
 * The family with a refresh recorded as its last use, or null when that would change
 * nothing worth a write (at most once a minute, and never on an ended session).
 */
export function touched(family: Family, now: number): Family | null {
  if (family.revoked || now - (family.lastUsedAt ?? 0) < LAST_USED_GRANULARITY_MS) return null;
  return { ...family, lastUsedAt: now };
}

/** A second factor proven for the session at `at` (a step-up), by `methods` (RFC 8176): it counts as a fresh sign-in with MFA. */
export type StepUp = { at: number; methods: string[] };

export const steppedUp = (family: Family, step: StepUp): Family => ({
  ...family,
  authTime: step.at,
  mfaAt: step.at,
  amr: boundedAmr([...family.amr, 'mfa', ...step.methods]),
});

/** Records a step-up in the trail the session's events go to. */
export const auditStepUp = (services: Services, sid: string, family: Family, source: AuditSource) =>
  auditSession(services, family, source, { action: 'session.stepped_up', subject: sid, detail: describeDevice(family) });

/** The family ended for `reason`, kept long enough for `sid` checks to refuse every access token of it. */
export function ended(family: Family, reason: RevokeReason, now: number, accessTokenTtlSeconds: number) {
  const ttlSeconds = seconds(Math.max(family.expiresAt - now, accessTokenTtlSeconds * 1000 + 60_000));
  return { family: { ...family, revoked: reason }, ttlSeconds };
}

/** At most this many single revoked access tokens per session; more ends the whole session. */
const MAX_REVOKED_TOKENS = 50;

/** Refuses one access token of a session from its next use (RFC 7009), leaving the session alive; answers as revokeFamily does. */
export async function revokeSessionToken(
  services: Services,
  sid: string,
  token: { jti: string; exp: number },
  source: AuditSource,
): Promise<void> {
  const { store, now } = services;
  for (let attempt = 0; attempt < 5; attempt++) {
    const found = await readFamilyRecord(services, sid);
    if (!found) return;
    // Ended already, perhaps a moment ago by a request still waiting out the cache bound.
    if (found.value.revoked) return services.sessions.changed(sid);
    const nowSeconds = Math.floor(now() / 1000);
    const live = found.value.revokedTokens.filter((entry) => entry.exp > nowSeconds && entry.jti !== token.jti);
    // Someone revoking token after token of one session is better served by ending it.
    if (live.length >= MAX_REVOKED_TOKENS) {
      await revokeFamily(services, sid, 'logout', source, found);
      return;
    }
    const next = { ...found.value, revokedTokens: [...live, token] };
    if (await store.swap(familyKey(sid), found.raw, JSON.stringify(next), seconds(found.value.expiresAt - now()))) {
      return services.sessions.changed(sid);
    }
  }
  throw new OAuthError('temporarily_unavailable', 'could not revoke the token; retry');
}

/**
 * Ends a session: its refresh token at once, its access tokens from their next use (`sid`),
 * answering only once no isolate can still admit them (accounts/isolate-cache.ts).
 * Returns the record as it now stands (null: no such session). `first` is the record as
 * the caller just read it, saving a read; a stale one only costs a retry.
 */
export async function revokeFamily(
  services: Services,
  sid: string,
  reason: RevokeReason,
  source: AuditSource,
  first?: Versioned<Family>,
): Promise<Family | null> {
  const { store, now, config } = services;
  const key = familyKey(sid);
  // Retried on a concurrent change (a refresh recording its last use).
  for (let attempt = 0; attempt < 5; attempt++) {
    const found = attempt === 0 && first ? first : await readFamilyRecord(services, sid);
    if (found === null) return null;
    const { raw, value: family } = found;
    if (family.revoked) {
      // Perhaps ended a moment ago by a request still waiting out the cache bound: this
      // answer must not come sooner than that one.
      await services.sessions.changed(sid);
      return family;
    }
    // Outlive every access token of this session, so `sid` checks keep refusing them.
    const { family: revoked, ttlSeconds } = ended(family, reason, now(), config.ttl.accessToken);
    if (await store.swap(key, raw, JSON.stringify(revoked), ttlSeconds)) {
      await announceEnded(services, sid, family, reason, source);
      return revoked;
    }
  }
  throw new OAuthError('temporarily_unavailable', 'could not revoke the session; retry');
}

/**
 * What follows a session's end in the store: its audit entry, written while other
 * isolates' copies of the session expire, and the answer only after both.
 */
export async function announceEnded(
  services: Services,
  sid: string,
  family: Family,
  reason: RevokeReason,
  source: AuditSource,
): Promise<void> {
  const settled = services.sessions.changed(sid);
  try {
    await auditSession(services, family, reason === 'reuse' ? { ...source, actor: SERVER_ACTOR } : source, {
      action: reason === 'reuse' ? 'session.reuse_detected' : 'session.revoked',
      subject: sid,
      detail: reason === 'reuse' ? 'a spent refresh token was presented again' : `${reason} by ${source.actor}`,
    });
  } finally {
    await settled;
  }
}

/** A person acting on their own sessions: on /v1 their token's principal, at the console their whole person. */
export type SessionHolder = Extract<Principal, { kind: 'user' }>;

/**
 * Whether `me` reaches this session of its own person: a sign-in established for an org
 * reaches only the person's sessions established for that same org, never the others.
 */
export const reaches = (me: SessionHolder, family: { org: string | null }) => me.org === null || family.org === me.org;

export const noSession = (sid: string) => new OAuthError('not_found', `no session "${sid.slice(0, 40)}"`);

/**
 * A person ends one of their sessions (`POST /v1/sessions/{sid}/revoke` and the console's
 * Revoke): their own, within what their sign-in reaches, or, as an operator
 * (LATCHKEY_OPERATORS), anyone's. Someone else's session answers as one that does not exist.
 */
export async function revokeSession(
  services: Services,
  me: SessionHolder,
  sid: string,
  source: AuditSource,
  /** Asked before an operator ends someone else's session (the API's step-up); throws to stop it. */
  othersGate?: () => Promise<void>,
): Promise<SessionInfo> {
  const found = await readFamilyRecord(services, sid);
  const mine = found !== null && sessionOwner(found.value) === sessionOwner(me) && reaches(me, found.value);
  if (!found || !(mine || isOperator(services.config.operators, me))) throw noSession(sid);
  if (!mine) await othersGate?.();
  const ended = await revokeFamily(services, sid, mine ? 'logout' : 'admin', source, found);
  return sessionView(sid, ended ?? found.value, me.sid);
}

/**
 * The sessions a person sees (`GET /v1/sessions`, the console): their own, within what
 * their sign-in reaches; with `other` (an operator only), another person's. `other` gives
 * that person's email and is called (and so validated) only once the caller is known to be
 * an operator: anyone else hears "forbidden", whatever they sent.
 */
export async function sessionsSeenBy(services: Services, me: SessionHolder, other?: () => string): Promise<SessionInfo[]> {
  if (other !== undefined && !isOperator(services.config.operators, me))
    throw new OAuthError('forbidden', "only an operator (LATCHKEY_OPERATORS) lists another person's sessions");
  const owner = other === undefined ? sessionOwner(me) : other().toLowerCase();
  return (await listSessions(services, owner, me.sid)).filter((session) => reaches(me, session));
}

/** The sessions of one person, newest first, revoked ones included until they expire. */
export async function listSessions(services: Services, owner: string, currentSid: string | null): Promise<SessionInfo[]> {
  const index = (await readRecord(services.store, storeKey('sessionIndex', owner), SessionIndex))?.value ?? [];
  return viewsOf(services, index, currentSid);
}

/** The sessions established for an org (`member`: one person's of them), newest first. */
export async function listOrgSessions(
  services: Services,
  org: string,
  member: string | null,
  currentSid: string | null,
): Promise<SessionInfo[]> {
  const index = (await readRecord(services.store, orgIndexKey(org), OrgSessionIndex))?.value ?? [];
  const wanted = member === null ? index : index.filter((entry) => entry.email === member.toLowerCase());
  // The family decides: an index entry whose record names another org is not the org's.
  return (await viewsOf(services, wanted, currentSid)).filter((view) => view.org === org);
}

/**
 * Ends every session a person established for an org (a removal from it); their other
 * sessions are untouched.
 */
export async function endOrgSessions(services: Services, org: string, email: string, source: AuditSource): Promise<void> {
  const index = (await readRecord(services.store, orgIndexKey(org), OrgSessionIndex))?.value ?? [];
  const theirs = index.filter((entry) => entry.email === email.toLowerCase() && entry.expiresAt > services.now());
  await Promise.all(
    theirs.map(async ({ sid }) => {
      const found = await readFamilyRecord(services, sid);
      if (found && found.value.org === org && !found.value.revoked) await revokeFamily(services, sid, 'admin', source, found);
    }),
  );
}

async function viewsOf(services: Services, index: { sid: string }[], currentSid: string | null): Promise<SessionInfo[]> {
  const families = await Promise.all(index.map(async ({ sid }) => ({ sid, family: await readFamily(services, sid) })));
  return families
    .flatMap(({ sid, family }) => (family ? [sessionView(sid, family, currentSid)] : []))
    .sort((a, b) => b.created_at - a.created_at);
}

export function sessionView(sid: string, family: Family, currentSid: string | null): SessionInfo {
  const at = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));
  return {
    id: sid,
    sub: family.sub,
    email: family.email,
    client_id: family.clientId,
    device_name: family.deviceName,
    user_agent: family.device.userAgent,
    address: family.device.address,
    scope: family.scope,
    created_at: Math.floor(family.createdAt / 1000),
    last_used_at: at(family.lastUsedAt),
    expires_at: Math.floor(family.expiresAt / 1000),
    revoked: family.revoked,
    org: family.org,
    amr: family.amr,
    auth_time: at(family.authTime),
    mfa_at: at(family.mfaAt),
    current: sid === currentSid,
  };
}

function describeDevice(family: Family): string {
  const where = [family.deviceName, family.device.userAgent, family.device.address].filter(Boolean).join(', ');
  return `${family.clientId}${where ? ` from ${where}` : ''}`;
}
