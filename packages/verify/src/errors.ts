/**
 * Why a credential was refused: one class, a stable `code` from a closed union, the HTTP
 * status it answers with and the RFC 6750 §3 `WWW-Authenticate` challenge to send.
 * A token never appears in a message.
 */

/** Every reason a verifier or a check refuses, each with a fixed status. */
export const VERIFY_ERROR_STATUS = {
  /** No `Authorization: Bearer` credential at all (RFC 6750 §3.1: the challenge names no error). */
  missing_token: 401,
  /** An `Authorization` header that is not one Bearer credential. */
  invalid_request: 400,
  /** Not a latchkey JWT or API key shape, or an API key whose checksum fails (no network call made). */
  malformed_token: 401,
  /** Signature, algorithm, `typ`, issuer, audience or claims wrong, or signed by a key the JWKS does not hold. */
  invalid_token: 401,
  expired_token: 401,
  /** The server no longer accepts it (revoked, expired or unknown API key). */
  revoked_token: 401,
  insufficient_scope: 403,
  wrong_org: 403,
  wrong_project: 403,
  insufficient_role: 403,
  /** The JWKS or the key check could not be fetched; nothing was decided about the credential. */
  server_unavailable: 503,
} as const;

export type VerifyErrorCode = keyof typeof VERIFY_ERROR_STATUS;

/** What goes into a challenge beyond the error itself. */
export type ChallengeContext = { realm?: string; resourceMetadata?: string };

const RFC6750_ERROR: Record<VerifyErrorCode, 'invalid_request' | 'invalid_token' | 'insufficient_scope' | null> = {
  missing_token: null,
  invalid_request: 'invalid_request',
  malformed_token: 'invalid_token',
  invalid_token: 'invalid_token',
  expired_token: 'invalid_token',
  revoked_token: 'invalid_token',
  insufficient_scope: 'insufficient_scope',
  wrong_org: 'insufficient_scope',
  wrong_project: 'insufficient_scope',
  insufficient_role: 'insufficient_scope',
  server_unavailable: null,
};

export class VerifyError extends Error {
  override name = 'VerifyError';
  readonly code: VerifyErrorCode;
  readonly status: (typeof VERIFY_ERROR_STATUS)[VerifyErrorCode];
  /** RFC 6750 error code (`invalid_token`, `insufficient_scope`, `invalid_request`), or null. */
  readonly error: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | null;
  /** The scopes the request needed (insufficient_scope only). */
  readonly scope: string[] | undefined;
  /** The `WWW-Authenticate` header value to answer with. */
  readonly challenge: string;

  constructor(
    code: VerifyErrorCode,
    description: string,
    options: { scope?: string[]; context?: ChallengeContext; cause?: unknown } = {},
  ) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = VERIFY_ERROR_STATUS[code];
    this.error = RFC6750_ERROR[code];
    this.scope = options.scope;
    this.challenge = bearerChallenge({
      ...options.context,
      ...(this.error ? { error: this.error, description } : {}),
      ...(options.scope ? { scope: options.scope } : {}),
    });
  }

  /** The JSON body a resource server answers with (RFC 6749 §5.2 shape, as latchkey's own). */
  toJSON(): { error: string; error_description: string } {
    return { error: this.error ?? this.code, error_description: this.message };
  }
}

/**
 * RFC 6750 §3: `Bearer realm="…", error="…", error_description="…", scope="…"`, plus RFC 9728
 * §5.1's `resource_metadata` and RFC 9470 §3's step-up `acr_values` and `max_age` (a whole
 * number of seconds, written as a token). Quoted values may hold only %x20-21 / %x23-5B /
 * %x5D-7E, so anything else (quotes, backslashes, control and non-ASCII characters) is dropped.
 */
export function bearerChallenge(parts: {
  realm?: string;
  error?: string;
  description?: string;
  scope?: string[];
  resourceMetadata?: string;
  acrValues?: string[];
  maxAge?: number;
}): string {
  const params: string[] = [];
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined) params.push(`${name}="${value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '')}"`);
  };
  add('realm', parts.realm);
  add('error', parts.error);
  add('error_description', parts.description);
  add('scope', parts.scope?.join(' '));
  add('resource_metadata', parts.resourceMetadata);
  add('acr_values', parts.acrValues?.join(' '));
  if (parts.maxAge !== undefined && Number.isSafeInteger(parts.maxAge) && parts.maxAge >= 0)
    params.push(`max_age=${parts.maxAge}`);
  return params.length ? `Bearer ${params.join(', ')}` : 'Bearer';
}
