/**
 * A person's second factors (issue #22): authenticator apps (TOTP), passkeys and security
 * keys (WebAuthn), and one set of ten recovery codes (a stand-in for a lost authenticator),
 * in one record per person (`mfa:<owner>`, the person's home). Enrolled at the console,
 * proven at sign-in before any browser sign-in exists.
 *
 * What makes a code count once: a TOTP factor keeps the last time step it accepted, and a
 * recovery code its use, and each is spent by a compare-and-set of the whole record, so of
 * two submissions of one code exactly one wins (the other reads the spent step and is
 * refused). Wrong codes are limited per person by the same counted guesses as user codes
 * (grants/user-code-guesses.ts): a guess is taken before the code is looked at, and given
 * back only if it was right, so the sixth code in a window is refused even when right.
 *
 * A passkey counts once by its challenge: each ceremony's challenge is kept by the server
 * and taken (compare-and-set) before the response is checked, so a response replayed, or
 * checked against a challenge it was not made for, fails. A registration's challenge lives
 * in this record, bound to the browser sign-in that began it; a sign-in's lives with the
 * pending second step (http/second-step.ts). An assertion is checked against the person's
 * own credentials only, and a failed one costs a guess as a wrong code does.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { returnGuess, takeGuess } from '../grants/user-code-guesses.ts';
import { normalizeRecoveryCode, RECOVERY_CODE_COUNT } from '../mfa/recovery-codes.ts';
import { base32Decode, generateTotpSecret, matchTotp } from '../mfa/totp.ts';
import {
  type AuthenticationResponse,
  type RelyingParty,
  registrationOptions,
  Transport,
  verifyAssertion,
  verifyRegistration,
  WEBAUTHN_CHALLENGE_SECONDS,
} from '../mfa/webauthn.ts';
import type { Services } from '../services.ts';
import { parseRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { generateId } from '../tokens/opaque.ts';
import { openSecret, sealSecret } from '../tokens/sealed.ts';
import { mfaRequiredFor } from './mfa-policy.ts';

/** Wrong codes a person may type per 15-minute window (user-code-guesses' window) before every code is refused. */
export const WRONG_CODE_LIMIT = 5;
/** An authenticator added but not confirmed with a first code is forgotten after this. */
export const PENDING_TOTP_SECONDS = 15 * 60;
/** Authenticator apps per person, pending ones included. */
export const MAX_TOTP_FACTORS = 5;
/** Passkeys and security keys per person. */
export const MAX_WEBAUTHN_FACTORS = 10;
/** A person's factors last as long as the store keeps anything (as their orgs and sessions index). */
const FACTORS_TTL_SECONDS = 10 * 365 * 86400;

export const FactorId = z.string().regex(/^mfa_[\w-]{20}$/, 'not a factor id');

const TotpFactor = z.object({
  id: z.string(),
  /** The base32 secret, AES-GCM under a key derived from the hash secret (tokens/sealed.ts), bound to owner and id. */
  sealed: z.string(),
  createdAt: z.number(),
  confirmedAt: z.number().nullable(),
  /** The last time step whose code was accepted: only a later one is accepted next. */
  lastStep: z.number().nullable(),
  lastUsedAt: z.number().nullable(),
});
const RecoveryCodes = z.object({
  id: z.string(),
  createdAt: z.number(),
  /** Keyed hashes of the codes (label `mfa-rc`, with the owner): the codes themselves were shown once. */
  codes: z.array(z.object({ hash: z.string(), usedAt: z.number().nullable() })),
});
const WebauthnFactor = z.object({
  id: z.string(),
  /** The credential's id and COSE public key, base64url: neither is secret (the authenticator keeps the private key). */
  credentialId: z.string(),
  publicKey: z.string(),
  /** The authenticator's signature counter at its last use: a later use must count past it, when it counts at all. */
  counter: z.number(),
  transports: z.array(Transport),
  /** A synced passkey (RFC 8176 `swk`) rather than one bound to its authenticator (`hwk`). */
  multiDevice: z.boolean(),
  name: z.string(),
  createdAt: z.number(),
  lastUsedAt: z.number().nullable(),
});
/** A passkey registration begun in the console: its challenge, for the one browser sign-in that began it. */
const PendingWebauthn = z.object({ challenge: z.string(), browser: z.string(), createdAt: z.number() });
const Factors = z.object({
  totp: z.array(TotpFactor),
  recovery: RecoveryCodes.nullable(),
  // Added with passkeys: a record from before has none.
  webauthn: z.array(WebauthnFactor).default([]),
  pendingWebauthn: PendingWebauthn.nullable().default(null),
});
type Factors = z.infer<typeof Factors>;
type TotpFactor = z.infer<typeof TotpFactor>;
type WebauthnFactor = z.infer<typeof WebauthnFactor>;

/** A factor as the console lists it. */
export type FactorView =
  | { id: string; kind: 'totp'; createdAt: number; lastUsedAt: number | null }
  | { id: string; kind: 'webauthn'; name: string; createdAt: number; lastUsedAt: number | null }
  | { id: string; kind: 'recovery'; createdAt: number; left: number; total: number };

/** The RFC 8176 method a proven second factor adds to the sign-in's `amr` (with `mfa`). */
export type FactorMethod = 'otp' | 'hwk' | 'swk';

const EMPTY: Factors = { totp: [], recovery: null, webauthn: [], pendingWebauthn: null };
const factorsKey = (owner: string) => storeKey('factors', owner);

async function readFactors(services: Services, owner: string): Promise<{ raw: string | null; value: Factors }> {
  const raw = await services.store.get(factorsKey(owner));
  return { raw, value: raw === null ? EMPTY : parseRecord(Factors, raw) };
}

/**
 * Read, decide, compare-and-set, from a fresh read when another writer got there first.
 * `decide` says what to write (null: nothing) and what to answer; it may run more than once.
 */
async function changeFactors<T>(
  services: Services,
  owner: string,
  decide: (current: Factors) => { next: Factors | null; answer: T },
): Promise<T> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const { raw, value } = await readFactors(services, owner);
    const { next, answer } = decide(value);
    if (next === null) return answer;
    const empty = next.totp.length === 0 && next.recovery === null && next.webauthn.length === 0 && !next.pendingWebauthn;
    const text = empty ? null : JSON.stringify(next);
    if (text === raw || (await services.store.swap(factorsKey(owner), raw, text, FACTORS_TTL_SECONDS))) return answer;
  }
  throw new OAuthError('temporarily_unavailable', 'your sign-in factors kept changing; try again');
}

const confirmed = (factor: TotpFactor) => factor.confirmedAt !== null;
const pendingLive = (services: Services, factor: TotpFactor) =>
  factor.confirmedAt === null && services.now() - factor.createdAt < PENDING_TOTP_SECONDS * 1000;
/** Pending authenticators past their time are dropped by whichever write comes next. */
const withoutStale = (services: Services, factors: Factors): Factors => ({
  ...factors,
  totp: factors.totp.filter((factor) => confirmed(factor) || pendingLive(services, factor)),
});
const recoveryLeft = (factors: Factors) => factors.recovery?.codes.filter((code) => code.usedAt === null).length ?? 0;

/**
 * Whether signing in asks for a second factor: while the person has a confirmed
 * authenticator or a passkey. Recovery codes stand in for a lost one at that prompt but do
 * not turn it on by themselves (as at most services), so making codes alone changes
 * nothing at sign-in (and such codes end when a factor turns it on: spendStep,
 * addWebauthnFactor), and removing the last factor turns two-step sign-in off.
 */
const hasFactor = (factors: Factors) => factors.totp.some(confirmed) || factors.webauthn.length > 0;

/** Whether this person must prove a second factor to sign in. */
export async function needsSecondFactor(services: Services, owner: string): Promise<boolean> {
  return hasFactor((await readFactors(services, owner)).value);
}

/** The person's factors as the console lists them: confirmed authenticators, passkeys, then the recovery codes. */
export async function listFactors(services: Services, owner: string): Promise<FactorView[]> {
  const { value } = await readFactors(services, owner);
  const views: FactorView[] = value.totp.filter(confirmed).map((factor) => ({
    id: factor.id,
    kind: 'totp',
    createdAt: factor.confirmedAt ?? factor.createdAt,
    lastUsedAt: factor.lastUsedAt,
  }));
  for (const factor of value.webauthn) {
    const { id, name, createdAt, lastUsedAt } = factor;
    views.push({ id, kind: 'webauthn', name, createdAt, lastUsedAt });
  }
  if (value.recovery) {
    views.push({
      id: value.recovery.id,
      kind: 'recovery',
      createdAt: value.recovery.createdAt,
      left: recoveryLeft(value),
      total: value.recovery.codes.length,
    });
  }
  return views;
}

/** Adds an authenticator, pending until its first code: its id and the base32 secret, to be shown to the person now. */
export async function startTotpEnrollment(services: Services, owner: string): Promise<{ id: string; secret: string }> {
  const id = generateId('mfa_');
  const secret = generateTotpSecret();
  const factor: TotpFactor = {
    id,
    sealed: await sealSecret(services.hasher, 'totp-secret', [owner, id], secret),
    createdAt: services.now(),
    confirmedAt: null,
    lastStep: null,
    lastUsedAt: null,
  };
  const added = await changeFactors(services, owner, (current) => {
    const live = withoutStale(services, current);
    if (live.totp.length >= MAX_TOTP_FACTORS) return { next: null, answer: false };
    return { next: { ...live, totp: [...live.totp, factor] }, answer: true };
  });
  if (!added)
    throw new OAuthError('conflict', `you have ${MAX_TOTP_FACTORS} authenticator apps already; remove one before adding another`);
  return { id, secret };
}

/** The secret of an authenticator still waiting for its first code (to show the QR code again); null when there is none such. */
export async function pendingTotpSecret(services: Services, owner: string, id: string): Promise<string | null> {
  const factor = (await readFactors(services, owner)).value.totp.find((found) => found.id === id);
  if (!factor || !pendingLive(services, factor)) return null;
  return openSecret(services.hasher, 'totp-secret', [owner, id], factor.sealed);
}

export type CodeOutcome = 'ok' | 'wrong' | 'limited';

/** Runs `check` under the person's wrong-code limit: the guess is taken first and given back only when right. */
async function limited(services: Services, owner: string, check: () => Promise<boolean>): Promise<CodeOutcome> {
  const taken = await takeGuess(services, [{ name: `mfa:${owner}`, limit: WRONG_CODE_LIMIT }]);
  if (!taken) return 'limited';
  if (!(await check())) return 'wrong';
  await returnGuess(services, taken);
  return 'ok';
}

/**
 * Spends `step` on the authenticator `id` (whose secret was `sealed` when the code was
 * matched): true for the one caller that moves its last step forward, false for any other
 * (a replay, or a second submission of the same code at the same time).
 *
 * Confirming the first authenticator turns two-step sign-in on, and ends any recovery codes
 * made before: while it was off, anyone with the first step alone could make them (the
 * console asks nothing more then), and codes planted so would get past the very step the
 * person turns on to keep that someone out. Codes made while it is on outlive adding
 * another authenticator.
 */
function spendStep(
  services: Services,
  owner: string,
  id: string,
  sealed: string,
  step: number,
  confirm: { browserProven: boolean } | null,
) {
  return changeFactors(services, owner, (current) => {
    const factor = current.totp.find((found) => found.id === id && found.sealed === sealed);
    const usable = factor && (confirm ? pendingLive(services, factor) && mayAddHere(current, confirm) : confirmed(factor));
    if (!factor || !usable || (factor.lastStep !== null && step <= factor.lastStep)) return { next: null, answer: false };
    const now = services.now();
    const spent: TotpFactor = { ...factor, lastStep: step, lastUsedAt: now, confirmedAt: factor.confirmedAt ?? now };
    const totp = current.totp.map((found) => (found.id === id ? spent : found));
    return { next: { ...current, totp, recovery: hasFactor(current) ? current.recovery : null }, answer: true };
  });
}

async function matchingStep(services: Services, owner: string, factor: TotpFactor, code: string): Promise<number | null> {
  const secret = await openSecret(services.hasher, 'totp-secret', [owner, factor.id], factor.sealed);
  const bytes = secret === null ? null : base32Decode(secret);
  return bytes ? matchTotp(bytes, code, services.now(), factor.lastStep) : null;
}

/**
 * Whether a factor may be added from a browser sign-in: any, while the person has none (the
 * first factor is added on the first step), else only one that gave a factor. Asked when the
 * factor is confirmed, not only when it was begun: one begun on the first step alone while
 * the person had none (by anyone holding that step) is not confirmed by that browser once the
 * person has turned two-step sign-in on meanwhile, which would plant a factor of theirs.
 */
const mayAddHere = (current: Factors, { browserProven }: { browserProven: boolean }) => browserProven || !hasFactor(current);

/**
 * Confirms a pending authenticator with its first code; from then on it is asked for at
 * sign-in. `browserProven`: the confirming browser's sign-in gave a second factor
 * (mayAddHere); `unproven` when it would have had to.
 */
export async function confirmTotp(
  services: Services,
  owner: string,
  id: string,
  typed: string,
  browserProven = false,
): Promise<CodeOutcome | 'unproven'> {
  const code = typed.replace(/\s/g, '');
  if (!mayAddHere((await readFactors(services, owner)).value, { browserProven })) return 'unproven';
  return limited(services, owner, async () => {
    const factor = (await readFactors(services, owner)).value.totp.find((found) => found.id === id);
    if (!factor || !pendingLive(services, factor)) return false;
    const step = await matchingStep(services, owner, factor, code);
    return step !== null && spendStep(services, owner, id, factor.sealed, step, { browserProven });
  });
}

/** A second factor proven at sign-in, and how (the kind, and its RFC 8176 method). */
export type Proof =
  | { outcome: 'ok'; method: 'totp' | 'recovery' | 'webauthn'; amr: FactorMethod }
  | { outcome: 'wrong' | 'limited' };

/**
 * Proves the person's second factor with what they typed: six digits are tried against
 * each confirmed authenticator, anything shaped like a recovery code against the unused
 * ones. Either way one guess is taken first. Recovery codes stand in for a factor only
 * while the person has one: made (or left over) with none, the first step alone made them,
 * and they prove no second step (the API's step-up would otherwise take them as `mfa`, and
 * an org requiring two-step sign-in with them).
 */
export async function proveSecondFactor(services: Services, owner: string, typed: string): Promise<Proof> {
  const digits = typed.replace(/\s/g, '');
  const recovery = /^\d{6}$/.test(digits) ? null : normalizeRecoveryCode(typed);
  let method: 'totp' | 'recovery' = 'totp';
  const outcome = await limited(services, owner, async () => {
    const { value } = await readFactors(services, owner);
    if (!hasFactor(value)) return false;
    if (recovery !== null) {
      method = 'recovery';
      return spendRecoveryCode(services, owner, await recoveryHash(services, owner, recovery));
    }
    for (const factor of value.totp.filter(confirmed)) {
      const step = await matchingStep(services, owner, factor, digits);
      if (step !== null) return spendStep(services, owner, factor.id, factor.sealed, step, null);
    }
    return false;
  });
  return outcome === 'ok' ? { outcome, method, amr: 'otp' } : { outcome };
}

const recoveryHash = (services: Services, owner: string, code: string) => services.hasher.hash('mfa-rc', `${owner}\0${code}`);

function spendRecoveryCode(services: Services, owner: string, hash: string): Promise<boolean> {
  return changeFactors(services, owner, (current) => {
    const codes = current.recovery?.codes ?? [];
    // Every entry is compared (a keyed hash, so timing tells nothing of the code).
    const index = codes.findIndex((code) => code.usedAt === null && code.hash === hash);
    if (!current.recovery || index < 0) return { next: null, answer: false };
    const spent = codes.map((code, i) => (i === index ? { ...code, usedAt: services.now() } : code));
    return { next: { ...current, recovery: { ...current.recovery, codes: spent } }, answer: true };
  });
}

/** Ten new recovery codes, replacing any before them; the codes are returned to be shown once and kept only as hashes. */
export async function replaceRecoveryCodes(services: Services, owner: string, codes: string[]): Promise<void> {
  if (codes.length !== RECOVERY_CODE_COUNT) throw new RangeError(`expected ${RECOVERY_CODE_COUNT} recovery codes`);
  const hashes = await Promise.all(
    codes.map(async (code) => ({ hash: await recoveryHash(services, owner, normalizeRecoveryCode(code) ?? ''), usedAt: null })),
  );
  const recovery = { id: generateId('mfa_'), createdAt: services.now(), codes: hashes };
  await changeFactors(services, owner, (current) => ({ next: { ...withoutStale(services, current), recovery }, answer: true }));
}

/**
 * Removes one of the person's factors (an authenticator, pending or not, a passkey, or the
 * recovery codes). Another person's id, or one that does not exist, answers not found; the last
 * factor of someone who must keep one is refused.
 */
export async function removeFactor(services: Services, person: { sub: string; email: string | null }, owner: string, id: string) {
  const required = await mfaRequiredFor(services, person);
  const answer = await changeFactors(services, owner, (current) => {
    const known = [...current.totp, ...current.webauthn].some((factor) => factor.id === id);
    if (!known && current.recovery?.id !== id) return { next: null, answer: 'not_found' as const };
    const next = withoutStale(services, {
      ...current,
      totp: current.totp.filter((factor) => factor.id !== id),
      webauthn: current.webauthn.filter((factor) => factor.id !== id),
      recovery: current.recovery?.id === id ? null : current.recovery,
    });
    if (hasFactor(current) && !hasFactor(next) && required) return { next: null, answer: 'required' as const };
    return { next, answer: 'removed' as const };
  });
  if (answer === 'not_found')
    throw new OAuthError('not_found', 'no such sign-in factor of yours; it may have been removed already');
  if (answer === 'required')
    throw new OAuthError(
      'forbidden',
      'an org you are in requires two-step sign-in: add another factor before removing your last one',
    );
}

// ---------------------------------------------------------------------------------------
// Passkeys and security keys (WebAuthn).

const storedCredential = ({ credentialId, publicKey, counter, transports }: WebauthnFactor) => ({
  credentialId,
  publicKey,
  counter,
  transports,
});
const methodOf = (multiDevice: boolean): FactorMethod => (multiDevice ? 'swk' : 'hwk');

/**
 * Begins adding a passkey in the browser sign-in `browser` (its record's key): the options
 * for navigator.credentials.create, whose challenge is kept in the person's record for that
 * sign-in alone (a later start replaces it) until finishWebauthnEnrollment takes it.
 */
export async function startWebauthnEnrollment(
  services: Services,
  owner: string,
  browser: string,
  rp: RelyingParty,
  person: { name: string },
) {
  const { value } = await readFactors(services, owner);
  if (value.webauthn.length >= MAX_WEBAUTHN_FACTORS)
    throw new OAuthError('conflict', `you have ${MAX_WEBAUTHN_FACTORS} passkeys already; remove one before adding another`);
  const options = await registrationOptions(rp, person, value.webauthn.map(storedCredential));
  const pendingWebauthn = { challenge: options.challenge, browser, createdAt: services.now() };
  await changeFactors(services, owner, (current) => ({
    next: { ...withoutStale(services, current), pendingWebauthn },
    answer: true,
  }));
  return options;
}

/**
 * Why a passkey was not added: no live registration of this browser's, a response that did
 * not verify, one too many (or registered already), or a browser that gave no second factor
 * while the person has one now (mayAddHere).
 */
export type WebauthnEnrollment = { outcome: 'ok'; amr: FactorMethod } | { outcome: 'expired' | 'invalid' | 'full' | 'unproven' };

/**
 * Finishes adding a passkey: takes this browser's challenge (once: a second post of the
 * same response finds none), checks the browser's response against it and the relying
 * party, and stores the credential. The first factor turns two-step sign-in on and ends
 * recovery codes made while it was off (as spendStep does for an authenticator).
 */
export async function finishWebauthnEnrollment(
  services: Services,
  owner: string,
  browser: string,
  rp: RelyingParty,
  posted: string,
  name: string,
  browserProven: boolean,
): Promise<WebauthnEnrollment> {
  const taken = await changeFactors(services, owner, (current) => {
    const pending = current.pendingWebauthn;
    if (!pending || pending.browser !== browser) return { next: null, answer: null };
    const live = services.now() - pending.createdAt < WEBAUTHN_CHALLENGE_SECONDS * 1000;
    const answer = !live ? null : mayAddHere(current, { browserProven }) ? pending.challenge : ('unproven' as const);
    return { next: { ...current, pendingWebauthn: null }, answer };
  });
  if (taken === 'unproven') return { outcome: 'unproven' };
  if (taken === null) return { outcome: 'expired' };
  const challenge = taken;
  const credential = await verifyRegistration(rp, challenge, posted);
  if (!credential) return { outcome: 'invalid' };
  const factor: WebauthnFactor = {
    id: generateId('mfa_'),
    ...credential,
    name,
    createdAt: services.now(),
    lastUsedAt: null,
  };
  const added = await changeFactors(services, owner, (current) => {
    if (!mayAddHere(current, { browserProven })) return { next: null, answer: 'unproven' as const };
    const full = current.webauthn.length >= MAX_WEBAUTHN_FACTORS;
    if (full || current.webauthn.some((found) => found.credentialId === factor.credentialId))
      return { next: null, answer: 'full' as const };
    const recovery = hasFactor(current) ? current.recovery : null;
    return { next: { ...current, webauthn: [...current.webauthn, factor], recovery }, answer: 'ok' as const };
  });
  return added === 'ok' ? { outcome: 'ok', amr: methodOf(credential.multiDevice) } : { outcome: added };
}

/** The person's passkeys as a sign-in offers them (navigator.credentials.get's allowCredentials). */
export async function webauthnCredentials(services: Services, owner: string) {
  return (await readFactors(services, owner)).value.webauthn.map(storedCredential);
}

/**
 * Proves the person's second factor with a passkey's assertion over `challenge` (which the
 * caller has taken, so it counts once). Only the person's own credentials are looked at:
 * another person's credential id, or one removed, is as unknown as a made-up one. A guess
 * is taken first, as for a code. The signature counter moves forward by compare-and-set.
 */
export async function provePasskey(
  services: Services,
  owner: string,
  rp: RelyingParty,
  challenge: string,
  response: AuthenticationResponse,
): Promise<Proof> {
  let amr: FactorMethod = 'hwk';
  const outcome = await limited(services, owner, async () => {
    const factor = (await readFactors(services, owner)).value.webauthn.find((found) => found.credentialId === response.id);
    if (!factor) return false;
    const verified = await verifyAssertion(rp, challenge, response, storedCredential(factor));
    if (!verified) return false;
    amr = methodOf(verified.multiDevice);
    return changeFactors(services, owner, (current) => {
      const now = current.webauthn.find((found) => found.id === factor.id && found.publicKey === factor.publicKey);
      const counts = verified.newCounter > 0 || (now?.counter ?? 0) > 0;
      if (!now || (counts && verified.newCounter <= now.counter)) return { next: null, answer: false };
      const used = { ...now, counter: verified.newCounter, lastUsedAt: services.now(), multiDevice: verified.multiDevice };
      return {
        next: { ...current, webauthn: current.webauthn.map((found) => (found.id === now.id ? used : found)) },
        answer: true,
      };
    });
  });
  return outcome === 'ok' ? { outcome, method: 'webauthn', amr } : { outcome };
}
