/**
 * Step-up (RFC 9470): a server refuses an act with `401` and a Bearer challenge
 * `error="insufficient_user_authentication"` until the person proves a second factor
 * recently enough (`acr_values`, `max_age`). The client proves it with the refresh grant
 * plus the code (`otp`), which rotates the session's refresh token and brings back an
 * access token that says so; then it retries the act once.
 *
 * The challenge header comes from the network, so it is parsed as RFC 9110 §11.6.1 writes
 * it and nothing more is believed: a header past its size, a parameter twice, an `acr`
 * that is not one visible word or a `max_age` that is not a number is dropped, and the
 * description goes into a LatchkeyError, which escapes what a terminal would obey.
 */
import type { Context } from './config.ts';
import type { ClientDeps, Selection } from './deps.ts';
import { LatchkeyError } from './errors.ts';
import { productOf } from './product.ts';
import type { StoredCredential } from './secrets/secret-store.ts';

export const STEP_UP_ERROR = 'insufficient_user_authentication';

export type StepUpChallenge = {
  /** What the server asks the sign-in to have proven (`urn:latchkey:acr:mfa`); may be empty. */
  acrValues: string[];
  /** How long ago, in seconds, the factor may have been proven; null when not said. */
  maxAge: number | null;
  /** The server's words, as sent (escape before printing: a LatchkeyError message does). */
  description: string | null;
};

/** Longer than any challenge latchkey sends (~350 characters) by far; more is not read at all. */
const MAX_HEADER_LENGTH = 4096;
const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const TOKEN68 = /[A-Za-z0-9._~+/-]+=*/y;
const WHITESPACE = /[ \t]*/y;

type Challenge = { scheme: string; params: Map<string, string> | null };

/**
 * The challenges of a WWW-Authenticate value: `scheme param="v", param2=v2, Other x`.
 * A challenge whose parameters break the grammar (an unclosed quote, a value missing,
 * something that is no token) keeps no parameters (`params: null`) and parsing ends there:
 * what follows cannot be read with any confidence. One naming a parameter twice keeps none either.
 */
export function parseChallenges(header: string): Challenge[] {
  if (header.length > MAX_HEADER_LENGTH) return [];
  const challenges: Challenge[] = [];
  let at = 0;
  const match = (pattern: RegExp): string | null => {
    pattern.lastIndex = at;
    const found = pattern.exec(header);
    if (!found || found[0] === '') return null;
    at = pattern.lastIndex;
    return found[0];
  };
  const skipSpace = () => void match(WHITESPACE);
  const quoted = (): string | null => {
    let value = '';
    for (at++; at < header.length; at++) {
      const char = header[at] as string;
      if (char === '"') {
        at++;
        return value;
      }
      if (char === '\\') at++;
      if (at < header.length) value += header[at];
    }
    return null; // no closing quote
  };

  let current: Challenge | null = null;
  while (at < header.length) {
    skipSpace();
    if (header[at] === ',') {
      at++;
      continue;
    }
    if (at >= header.length) break;
    const name = match(TOKEN);
    if (name === null) {
      if (current) current.params = null;
      break;
    }
    skipSpace();
    if (header[at] !== '=' || current === null) {
      // A new challenge: its scheme, then perhaps a token68 (`Basic abc==`), which has no params.
      current = { scheme: name.toLowerCase(), params: new Map() };
      challenges.push(current);
      const before = at;
      const token68 = match(TOKEN68);
      if (token68 !== null) {
        skipSpace();
        if (at >= header.length || header[at] === ',') current.params = null;
        else at = before;
      }
      continue;
    }
    // name = value: a parameter of the current challenge.
    at++;
    skipSpace();
    const value = header[at] === '"' ? quoted() : match(TOKEN);
    if (value === null) {
      current.params = null;
      break;
    }
    const key = name.toLowerCase();
    if (current.params?.has(key)) current.params = null;
    else current.params?.set(key, value);
  }
  return challenges;
}

/** The step-up challenge in a WWW-Authenticate value (its first Bearer challenge saying so); null when there is none. */
export function stepUpChallenge(header: string | null | undefined): StepUpChallenge | null {
  if (!header) return null;
  for (const { scheme, params } of parseChallenges(header)) {
    if (scheme !== 'bearer' || params?.get('error') !== STEP_UP_ERROR) continue;
    const acr = params.get('acr_values');
    const maxAge = params.get('max_age');
    return {
      acrValues: acr !== undefined && /^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(acr) ? acr.split(' ') : [],
      maxAge: maxAge !== undefined && /^\d{1,9}$/.test(maxAge) ? Number(maxAge) : null,
      description: params.get('error_description') ?? null,
    };
  }
  return null;
}

/** Longest code the server reads (shared/schemas.ts `otp`); a TOTP code is 6 digits, a recovery code 11 characters. */
const MAX_CODE_LENGTH = 64;

/** A code as typed, trimmed; refused here when it cannot be one (empty, too long, a control character). */
export function typedCode(code: string): string {
  const trimmed = typeof code === 'string' ? code.trim() : '';
  if (trimmed === '') throw new LatchkeyError('usage', 'no code was given; nothing was sent');
  if (trimmed.length > MAX_CODE_LENGTH || !/^[\x20-\x7e]+$/.test(trimmed)) {
    throw new LatchkeyError('usage', 'that is not a code from an authenticator app or a recovery code; nothing was sent');
  }
  return trimmed;
}

/**
 * Proves a second factor for the stored login of `selection` (its context, else the
 * current one) with `code`: a refresh with `otp`, under the same cross-process lock and
 * into the same secret store as every refresh. Resolves to the new access token. A wrong
 * code (`wrong_code`) leaves the stored login as it was: the server did not spend its
 * refresh token. A token from the token variable (an API key, a CI token) has no session
 * to step up: `step_up_required`, saying so.
 */
export async function stepUp(deps: ClientDeps, selection: Selection, code: string): Promise<string> {
  const product = productOf(deps);
  const otp = typedCode(code);
  if (deps.env[product.env.token]) {
    throw new LatchkeyError(
      'step_up_required',
      `the token in ${product.env.token} (an API key, a CI token or a copied access token) cannot prove a second factor; ` +
        `unset it and use a login of your own (\`${product.loginCommand}\`)`,
    );
  }
  const [{ refuseEndedSession, renewStored, storedLogin }, { openSecretStore }] = await Promise.all([
    import('./credential.ts'),
    import('./secrets/select.ts'),
  ]);
  const { name, context }: { name: string; context: Context } = await storedLogin(deps, selection);
  // A session the server said it ended has nothing to step up (and no passphrase is asked for it).
  await refuseEndedSession(deps, name);
  const store = openSecretStore(deps.secrets, context.secretStore);
  const renewed: StoredCredential = await renewStored(deps, name, context, store, { otp });
  return renewed.access_token;
}
