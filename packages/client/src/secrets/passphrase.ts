/**
 * The passphrase of an encrypted credential file: the rule a new one must meet, and how it
 * is asked for at a terminal — a new one chosen and typed twice, an existing one retried.
 * The rule applies where a file is made; a file sealed before it keeps opening with what
 * it was sealed with.
 */
import { LatchkeyError } from '../errors.ts';

export const MIN_PASSPHRASE_LENGTH = 12;
/** Tries at a terminal, for choosing a new passphrase and for opening a file alike. */
export const TERMINAL_TRIES = 3;

/** The rule, in the words help, README and errors use. */
export const PASSPHRASE_RULE =
  `at least ${MIN_PASSPHRASE_LENGTH} characters, and not one character or a group of up to 3 repeated ` +
  '(aaaaaaaaaaaa, abcabcabcabc) nor a run of consecutive letters or digits (abcdefghijkl, 123456789012)';

/** A step of one between two characters: +1 or -1, digits wrapping (…8, 9, 0, 1…); else 0. */
function step(a: string, b: string): number {
  const digits = /^\d$/.test(a) && /^\d$/.test(b);
  const delta = digits ? (Number(b) - Number(a) + 10) % 10 : (b.codePointAt(0) ?? 0) - (a.codePointAt(0) ?? 0);
  if (delta === 1) return 1;
  if (delta === (digits ? 9 : -1)) return -1;
  return 0;
}

/** Why `passphrase` falls short of the rule; null when it meets it. */
export function passphraseWeakness(passphrase: string): string | null {
  // Characters, not UTF-16 units: "ééé" is three.
  const chars = [...passphrase.toLowerCase()];
  if (chars.length < MIN_PASSPHRASE_LENGTH) {
    return `it has ${chars.length} character${chars.length === 1 ? '' : 's'}, fewer than ${MIN_PASSPHRASE_LENGTH}`;
  }
  for (let period = 1; period <= 3; period++) {
    if (chars.every((char, index) => char === chars[index % period])) {
      return period === 1 ? 'it is one character repeated' : `it is a group of ${period} characters repeated`;
    }
  }
  const first = step(chars[0] as string, chars[1] as string);
  if (first !== 0 && chars.slice(1).every((char, index) => step(chars[index] as string, char) === first)) {
    return 'it is a run of consecutive characters';
  }
  return null;
}

/**
 * A passphrase for a file being made, from LATCHKEY_SECRET_PASSPHRASE: held to the rule,
 * so a one-letter variable never seals a token.
 */
export function strongFromEnv(passphrase: string, path: string, variable = 'LATCHKEY_SECRET_PASSPHRASE'): string {
  const weakness = passphraseWeakness(passphrase);
  if (weakness === null) return passphrase;
  throw new LatchkeyError(
    'wrong_passphrase',
    `${variable} is too weak to seal a new file ${path} (${weakness}); ` +
      `a new passphrase needs ${PASSPHRASE_RULE}. Nothing was stored`,
  );
}

type Ask = (question: string) => Promise<string>;

/**
 * A new passphrase at the terminal, worded as new: checked against the rule, then typed
 * again; three tries between them.
 */
export async function chooseAtTerminal(ask: Ask, path: string): Promise<string> {
  let said = '';
  let last = '';
  for (let attempt = 1; attempt <= TERMINAL_TRIES; attempt++) {
    const tries = attempt > 1 ? ` (try ${attempt} of ${TERMINAL_TRIES})` : '';
    const chosen = await ask(`${said}Choose a passphrase for the encrypted file ${path}${tries}\n(${PASSPHRASE_RULE}): `);
    const weakness = passphraseWeakness(chosen);
    if (weakness !== null) {
      last = `too weak: ${weakness}`;
      said = `That passphrase is ${last}.\n`;
      continue;
    }
    if ((await ask('Type it again to confirm: ')) === chosen) return chosen;
    last = 'the two entries differed';
    said = 'The two entries differ.\n';
  }
  throw new LatchkeyError(
    'wrong_passphrase',
    `no passphrase chosen for ${path} in ${TERMINAL_TRIES} tries (${last}); nothing was stored`,
  );
}

/** The question for opening a file; after a wrong answer it says so and counts the tries. */
export const openQuestion = (path: string, attempt: number): string =>
  attempt > 1
    ? `Wrong passphrase (try ${attempt} of ${TERMINAL_TRIES}). Passphrase for the encrypted file ${path}: `
    : `Passphrase for the encrypted file ${path}: `;
