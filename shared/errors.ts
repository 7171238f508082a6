/**
 * The closed set of error codes latchkey speaks. OAuth endpoints use the RFC 6749 §5.2,
 * RFC 8628 §3.5 and RFC 7009 codes; the /v1 API adds its own. A client can switch on
 * `code` without parsing prose.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_token: 401,
  /** RFC 9470: the act needs a second factor proven more recently than the token's sign-in (`acr_values`, `max_age` in the challenge). */
  insufficient_user_authentication: 401,
  unsupported_token_type: 400,
  invalid_target: 400,
  authorization_pending: 400,
  slow_down: 400,
  access_denied: 400,
  expired_token: 400,
  forbidden: 403,
  /** The org requires two-step sign-in and the credential's sign-in did not prove a second factor. */
  mfa_required: 403,
  not_found: 404,
  conflict: 409,
  method_not_allowed: 405,
  rate_limited: 429,
  server_error: 500,
  temporarily_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers, e.g. `WWW-Authenticate` or `Retry-After`. */
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    description: string,
    options: { cause?: unknown; headers?: Record<string, string>; status?: number } = {},
  ) {
    super(description, { cause: options.cause });
    this.code = code;
    // A status override keeps the RFC code while telling HTTP the truth (413, 415).
    this.status = options.status ?? ERROR_STATUS[code];
    this.headers = options.headers ?? {};
  }

  toJSON(): { error: ErrorCode; error_description: string } {
    return { error: this.code, error_description: this.message };
  }
}
