/**
 * The CLI's side of the client library's errors (packages/client/src/errors.ts): one exit
 * status per code. Only main.ts turns errors into exit codes; commands throw.
 */
import type { ErrorCode } from '../packages/client/src/errors.ts';

export { type ErrorCode as CliErrorCode, LatchkeyError as CliError } from '../packages/client/src/errors.ts';

export const EXIT_CODES = {
  failed: 1,
  usage: 2,
  not_logged_in: 3,
  session_expired: 3,
  access_denied: 3,
  invalid_credential: 3,
  server_mismatch: 3,
  unreachable: 4,
  server_error: 4,
  secret_store_unavailable: 5,
  keychain_locked: 5,
  wrong_passphrase: 5,
  secret_file_corrupt: 5,
  timed_out: 6,
  verification_failed: 7,
  step_up_required: 3,
  wrong_code: 3,
  cancelled: 130,
} as const satisfies Record<ErrorCode, number>;

/** The exit status of an error's code. */
export const exitCodeOf = (code: ErrorCode): number => EXIT_CODES[code];
/** The exit-status table printed by `latchkey --help`. */
export const EXIT_HELP = `Exit status:
  0    success
  1    failed (anything not listed below)
  2    usage: unknown command, flag or argument
  3    not logged in, session expired or revoked, access denied, credential refused,
       stored credential bound to another server than --server / LATCHKEY_SERVER,
       a second factor needed and not proven (no terminal to ask on, wrong code)
  4    server unreachable or answering with an error
  5    secret store: none usable, keychain locked, wrong passphrase, corrupt secret file
  6    timed out waiting (login not approved in time)
  7    audit verify found a broken link in the trail
  130  cancelled (Ctrl-C)`;
