/**
 * Every way a client call can fail, each with a stable code from a closed union. The
 * library throws; a CLI built on it decides what each code means to its caller (latchkey's
 * main.ts alone turns them into exit codes, cli/errors.ts). A token never appears in a message.
 */
import { printable } from './printable.ts';

export const ERROR_CODES = [
  'failed',
  'usage',
  'not_logged_in',
  'session_expired',
  'access_denied',
  'invalid_credential',
  /** A stored credential asked to go to a server other than the one that issued it. */
  'server_mismatch',
  'unreachable',
  'server_error',
  'secret_store_unavailable',
  'keychain_locked',
  'wrong_passphrase',
  'secret_file_corrupt',
  'timed_out',
  'verification_failed',
  /**
   * The act needs a second factor proven recently (RFC 9470 step-up); `stepUp(code)` proves
   * one, then the act may be retried once. Also: this credential cannot step up (an API key).
   */
  'step_up_required',
  /** The code given to step up was not right (or was used already); the login is as it was. */
  'wrong_code',
  'cancelled',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class LatchkeyError extends Error {
  override readonly name = 'LatchkeyError';
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    // A message quotes what servers say (error descriptions, names): a caller prints it as
    // it is, so nothing in it may steer a terminal. Escaping again changes nothing.
    super(printable(message), { cause: options.cause });
    this.code = code;
  }
}
