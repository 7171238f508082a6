/**
 * Recovery codes: what a person types when their authenticator is lost. Ten at a time,
 * each 10 base32 characters (50 bits: a guess is rate limited long before that matters),
 * shown as `abcde-fghij` and read back in any case, with or without the hyphen or spaces.
 */
import { randomBytes } from '../tokens/opaque.ts';
import { base32Encode } from './totp.ts';

export const RECOVERY_CODE_COUNT = 10;
const CODE_CHARACTERS = 10;

/** A code as the page shows it. */
function newCode(): string {
  const text = base32Encode(randomBytes(7)).slice(0, CODE_CHARACTERS).toLowerCase();
  return `${text.slice(0, 5)}-${text.slice(5)}`;
}

export function generateRecoveryCodes(): string[] {
  const codes = new Set<string>();
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(newCode());
  return [...codes];
}

/** The code as typed, in the one form it is hashed in; null when it cannot be a recovery code. */
export function normalizeRecoveryCode(typed: string): string | null {
  const text = typed.replace(/[\s-]/g, '').toLowerCase();
  return /^[a-z2-7]{10}$/.test(text) ? text : null;
}
