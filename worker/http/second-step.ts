/**
 * Two-step sign-in in the browser. After the first step (the dev form, or the upstream
 * provider's callback) a person with a second factor gets no browser sign-in yet: a
 * pending record (`mfp:`), named by a cookie of its own and bound to this browser, waits
 * for a code (or a passkey) at /signin/two-step, and only a right one turns it into the
 * browser sign-in. So nothing that reads the sign-in cookie (consent, device approval, the
 * console) can be reached on the first step alone. A person without factors is signed in
 * at once, as before.
 */
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import * as z from 'zod';
import { needsSecondFactor, type Proof, provePasskey, proveSecondFactor, webauthnCredentials } from '../accounts/factors.ts';
import { sessionOwner } from '../accounts/sessions.ts';
import { withSecondFactor } from '../accounts/web-sessions.ts';
import type { AppEnv } from '../app.ts';
import type { Person } from '../identity/users.ts';
import { authenticationOptions, parseAssertion, relyingParty, WEBAUTHN_CHALLENGE_SECONDS } from '../mfa/webauthn.ts';
import type { Services } from '../services.ts';
import { parseRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { constantTimeEqual, generateSecret } from '../tokens/opaque.ts';
import { browserId, cookieName, cookieOptions, startWebSession } from './browser.ts';

/** How long the code page waits after the first step. */
export const SECOND_STEP_SECONDS = 10 * 60;
export const SECOND_STEP_PATH = '/signin/two-step';
/** The pending step's cookie, named and set as the session cookie is (browser.ts). */
const COOKIE = 'lk_2fa';
const SECRET_PREFIX = 'lk_2fa_';

const PendingSecondStep = z.object({
  person: z.object({ sub: z.string(), email: z.string().nullable() }),
  /** When the first step says the person proved who they are (ms); null: at the first step. */
  authenticatedAt: z.number().nullable(),
  /** What the first step proved (RFC 8176 values). */
  amr: z.array(z.string()),
  returnTo: z.string(),
  browser: z.string(),
  /** When the step ends (ms): the record's own end, which a new passkey challenge does not move. 0: a record from before. */
  expiresAt: z.number().default(0),
  /** The challenge of the passkey request the page last offered: single use, replaced by each new page. */
  passkey: z.object({ challenge: z.string(), createdAt: z.number() }).nullable().default(null),
});
export type PendingSecondStep = z.infer<typeof PendingSecondStep>;

/**
 * Ends the first step: the browser sign-in at once for a person without a second factor,
 * else a pending second step and the code page. Answers the redirect either way.
 */
export async function finishFirstStep(
  c: Context<AppEnv>,
  person: Person,
  first: {
    authenticatedAt?: number | undefined;
    amr: string[];
    returnTo: string;
    /** The identity provider proved a second factor, and the operator trusts it to say so: no code is asked. */
    upstreamSecondFactor?: boolean;
  },
) {
  const services = c.var.services;
  if (first.upstreamSecondFactor) {
    const mfaAt = Math.min(services.now(), first.authenticatedAt ?? services.now());
    await startWebSession(c, person, first.authenticatedAt, { amr: [...new Set([...first.amr, 'mfa'])], mfaAt });
    return c.redirect(first.returnTo, 303);
  }
  if (!(await needsSecondFactor(services, sessionOwner(person)))) {
    await startWebSession(c, person, first.authenticatedAt, { amr: first.amr, mfaAt: null });
    return c.redirect(first.returnTo, 303);
  }
  const secret = generateSecret(SECRET_PREFIX);
  const pending: PendingSecondStep = {
    person: { sub: person.sub, email: person.email },
    authenticatedAt: first.authenticatedAt ?? null,
    amr: first.amr,
    returnTo: first.returnTo,
    browser: await browserId(c),
    expiresAt: services.now() + SECOND_STEP_SECONDS * 1000,
    passkey: null,
  };
  await services.store.put(await pendingKey(c, secret), JSON.stringify(pending), SECOND_STEP_SECONDS);
  setCookie(c, cookieName(c, COOKIE), secret, cookieOptions(c, SECOND_STEP_SECONDS));
  c.header('Cache-Control', 'no-store');
  return c.redirect(SECOND_STEP_PATH, 303);
}

const pendingKey = async (c: Context<AppEnv>, secret: string) =>
  storeKey('secondStep', await c.var.services.hasher.hash('mfp', secret));

/** The cookie's stored key, if it is well formed. */
async function cookieKey(c: Context<AppEnv>): Promise<string | null> {
  const secret = getCookie(c, cookieName(c, COOKIE));
  if (!secret?.startsWith(SECRET_PREFIX) || secret.length > 100) return null;
  return pendingKey(c, secret);
}

/** A second step waiting in this browser: its store key, the record as read, and its value. */
export type WaitingStep = { key: string; raw: string; pending: PendingSecondStep };

/** The second step this browser has waiting; null when none (expired, finished, never begun, or another browser's). */
export async function pendingSecondStep(c: Context<AppEnv>): Promise<WaitingStep | null> {
  const key = await cookieKey(c);
  const raw = key ? await c.var.services.store.get(key) : null;
  if (!key || raw === null) return null;
  const pending = parseRecord(PendingSecondStep, raw);
  // The cookie alone is not enough: it must come back in the browser the first step ran in.
  if (!constantTimeEqual(pending.browser, await browserId(c))) return null;
  if (pending.expiresAt !== 0 && pending.expiresAt <= c.var.services.now()) return null;
  return { key, raw, pending };
}

const issuerAsRelyingParty = (services: Services) => relyingParty(services.config.issuer, services.config.branding.productName);

/** Replaces the pending record `raw` with `next`, keeping its end; false when it changed meanwhile. */
function rewrite(services: Services, waiting: WaitingStep, next: PendingSecondStep): Promise<boolean> {
  const left = next.expiresAt === 0 ? SECOND_STEP_SECONDS * 1000 : next.expiresAt - services.now();
  // The record's own end decides (pendingSecondStep); the store keeps it at least a minute.
  return services.store.swap(waiting.key, waiting.raw, JSON.stringify(next), Math.max(60, Math.ceil(left / 1000)));
}

/**
 * The options for navigator.credentials.get when the pending person has passkeys (null
 * when not): a new challenge, kept with the pending step in place of any before it, so
 * only the page shown last can be answered, and once.
 */
export async function passkeyRequest(c: Context<AppEnv>, waiting: WaitingStep) {
  const services = c.var.services;
  const credentials = await webauthnCredentials(services, sessionOwner(waiting.pending.person));
  if (credentials.length === 0) return null;
  const options = await authenticationOptions(issuerAsRelyingParty(services), credentials);
  const passkey = { challenge: options.challenge, createdAt: services.now() };
  // Another page of this browser replaced the record meanwhile: this page's passkey then fails and offers a new one.
  await rewrite(services, waiting, { ...waiting.pending, passkey });
  return options;
}

export type StepOutcome = Proof['outcome'] | 'gone' | 'stale';

/** Checks the typed code against the pending person's factors (and nobody else's), then signs in (signInAfter). */
export async function finishSecondStep(c: Context<AppEnv>, waiting: WaitingStep, code: string): Promise<StepOutcome> {
  const proof = await proveSecondFactor(c.var.services, sessionOwner(waiting.pending.person), code);
  return signInAfter(c, waiting, proof);
}

/**
 * Checks a passkey's assertion: the challenge the page offered is taken from the pending
 * step first (`stale` when there is none, it is past its time, or another post took it),
 * then the assertion is checked against it and the pending person's credentials only.
 */
export async function finishWithPasskey(c: Context<AppEnv>, waiting: WaitingStep, posted: string): Promise<StepOutcome> {
  const services = c.var.services;
  const { pending } = waiting;
  const assertion = parseAssertion(posted);
  if (!pending.passkey || !(await rewrite(services, waiting, { ...pending, passkey: null }))) return 'stale';
  if (services.now() - pending.passkey.createdAt >= WEBAUTHN_CHALLENGE_SECONDS * 1000) return 'stale';
  if (!assertion) return 'wrong';
  const rp = issuerAsRelyingParty(services);
  const proof = await provePasskey(services, sessionOwner(pending.person), rp, pending.passkey.challenge, assertion);
  return signInAfter(c, waiting, proof);
}

/**
 * A right second factor spends the pending step (once: of two right answers at once, one
 * signs in) and starts the browser sign-in, which records both steps in `amr` and when
 * the second was proven.
 */
async function signInAfter(c: Context<AppEnv>, waiting: WaitingStep, proof: Proof): Promise<StepOutcome> {
  const services = c.var.services;
  const { pending } = waiting;
  if (proof.outcome !== 'ok') return proof.outcome;
  if ((await services.store.consume(waiting.key)) === null) return 'gone';
  const amr = withSecondFactor(pending.amr, proof.amr);
  await startWebSession(c, pending.person, pending.authenticatedAt ?? undefined, { amr, mfaAt: services.now() });
  deleteCookie(c, cookieName(c, COOKIE), { path: '/', secure: services.config.issuer.protocol === 'https:' });
  return 'ok';
}
