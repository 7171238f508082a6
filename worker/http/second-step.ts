/**
 * Two-step sign-in in the browser. After the first step (the dev form, or the upstream
 * provider's callback) a person with a second factor gets no browser sign-in yet: a
 * pending record (`mfp:`), named by a cookie of its own and bound to this browser, waits
 * for a code at /signin/two-step, and only a right code turns it into the browser
 * sign-in. So nothing that reads the sign-in cookie (consent, device approval, the
 * console) can be reached on the first step alone. A person without factors is signed in
 * at once, as before.
 */
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import * as z from 'zod';
import { needsSecondFactor, type Proof, proveSecondFactor } from '../accounts/factors.ts';
import { sessionOwner } from '../accounts/sessions.ts';
import { withSecondFactor } from '../accounts/web-sessions.ts';
import type { AppEnv } from '../app.ts';
import type { Person } from '../identity/users.ts';
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
});
export type PendingSecondStep = z.infer<typeof PendingSecondStep>;

/**
 * Ends the first step: the browser sign-in at once for a person without a second factor,
 * else a pending second step and the code page. Answers the redirect either way.
 */
export async function finishFirstStep(
  c: Context<AppEnv>,
  person: Person,
  first: { authenticatedAt?: number | undefined; amr: string[]; returnTo: string },
) {
  const services = c.var.services;
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

/** The second step this browser has waiting; null when none (expired, finished, never begun, or another browser's). */
export async function pendingSecondStep(c: Context<AppEnv>): Promise<{ key: string; pending: PendingSecondStep } | null> {
  const key = await cookieKey(c);
  const raw = key ? await c.var.services.store.get(key) : null;
  if (!key || raw === null) return null;
  const pending = parseRecord(PendingSecondStep, raw);
  // The cookie alone is not enough: it must come back in the browser the first step ran in.
  if (!constantTimeEqual(pending.browser, await browserId(c))) return null;
  return { key, pending };
}

/**
 * Checks the typed code against the pending person's factors (and nobody else's); a right
 * one spends the pending step (once: of two right codes at once, one signs in) and starts
 * the browser sign-in, which records both steps in `amr` and when the second was proven.
 */
export async function finishSecondStep(
  c: Context<AppEnv>,
  waiting: { key: string; pending: PendingSecondStep },
  code: string,
): Promise<Proof['outcome'] | 'gone'> {
  const services = c.var.services;
  const { pending } = waiting;
  const proof = await proveSecondFactor(services, sessionOwner(pending.person), code);
  if (proof.outcome !== 'ok') return proof.outcome;
  if ((await services.store.consume(waiting.key)) === null) return 'gone';
  const amr = withSecondFactor(pending.amr);
  await startWebSession(c, pending.person, pending.authenticatedAt ?? undefined, { amr, mfaAt: services.now() });
  deleteCookie(c, cookieName(c, COOKIE), { path: '/', secure: services.config.issuer.protocol === 'https:' });
  return 'ok';
}
