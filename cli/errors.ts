/**
 * Every way a CLI invocation can fail, each with a stable code and one exit status.
 * Only main.ts turns these into exit codes; commands throw.
 */
export const EXIT_CODES = {
  failed: 1,
  usage: 2,
  not_logged_in: 3,
  session_expired: 3,
  access_denied: 3,
  invalid_credential: 3,
  /** A stored credential asked to go to a server other than the one that issued it. */
  server_mismatch: 3,
  unreachable: 4,
  server_error: 4,
  secret_store_unavailable: 5,
  keychain_locked: 5,
  wrong_passphrase: 5,
  secret_file_corrupt: 5,
  timed_out: 6,
  verification_failed: 7,
  cancelled: 130,
} as const;

export type CliErrorCode = keyof typeof EXIT_CODES;

export class CliError extends Error {
  override readonly name = 'CliError';
  readonly code: CliErrorCode;
  constructor(code: CliErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
  }
  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

/** The exit-status table printed by `latchkey --help`. */
export const EXIT_HELP = `Exit status:
  0    success
  1    failed (anything not listed below)
  2    usage: unknown command, flag or argument
  3    not logged in, session expired or revoked, access denied, credential refused,
       stored credential bound to another server than --server / LATCHKEY_SERVER
  4    server unreachable or answering with an error
  5    secret store: none usable, keychain locked, wrong passphrase, corrupt secret file
  6    timed out waiting (login not approved in time)
  7    audit verify found a broken link in the trail
  130  cancelled (Ctrl-C)`;
