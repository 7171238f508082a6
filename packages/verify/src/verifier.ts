/**
 * `createVerifier(options).verify(request)`: a latchkey access token checked offline against
 * the issuer's JWKS, or an API key checked by asking the issuer (GET /v1/me with the key, or
 * RFC 7662 introspection) through a small bounded cache. Resolves to a Principal or throws a
 * VerifyError carrying its status and RFC 6750 challenge.
 */
import { errors, jwtVerify } from 'jose';
import { apiKeyDigest, apiKeyPrefixOf, DEFAULT_API_KEY_PREFIXES, isWellFormedApiKey } from './api-key.ts';
import { rememberContext } from './checks.ts';
import { type ChallengeContext, VerifyError } from './errors.ts';
import { jwksCache, LATCHKEY_ALGORITHMS } from './jwks.ts';
import { BoundedCache } from './lru.ts';
import { type Principal, principalFrom } from './principal.ts';

export type VerifierOptions = {
  /** The latchkey server's base URL: every token's `iss`. */
  issuer: string;
  /** The `aud` tokens must carry (a latchkey server puts its own base URL there). */
  audience: string;
  /** Default `{issuer}/.well-known/jwks.json`. */
  jwksUri?: string;
  /** How often an unknown `kid` may trigger a JWKS fetch (default 30 s), and how long a JWKS is kept (default 10 min). */
  jwks?: { cooldownSeconds?: number; maxAgeSeconds?: number };
  /**
   * How API keys are checked. Default: `GET {issuer}/v1/me` with the key as Bearer. With a
   * `credential`, RFC 7662 introspection instead: `POST {url ?? issuer/oauth/introspect}`
   * with `token=<key>` and the credential as Bearer (an org admin key learns about its org's
   * keys). `false`: API keys are refused.
   */
  introspection?: { url?: string; credential?: string } | false;
  /**
   * A key's answer is reused for at most `staleSeconds` (default 30): the bound on how long
   * a revoked key may still be accepted here. Refusals are reused for at most 5 s.
   */
  apiKeyCache?: { maxEntries?: number; staleSeconds?: number };
  /** A branded deployment's key prefixes (default `lk_live_`, `lk_test_`). */
  apiKeyPrefixes?: readonly string[];
  /** `realm` of every challenge (default the audience). */
  realm?: string;
  /** RFC 9728 §5.1: the URL of this API's protected-resource metadata, named in every challenge. */
  resourceMetadata?: string;
  /** Seconds of clock skew allowed on `exp`/`nbf`/`iat` (default 5, at most 60). */
  clockToleranceSeconds?: number;
  fetch?: typeof fetch;
  /** Milliseconds since the epoch (default Date.now). */
  now?: () => number;
};

export type Verifier = {
  /** A Request (its Authorization header), or the header's value itself. */
  verify(input: Request | string | null | undefined): Promise<Principal>;
  /** The realm and resource metadata this verifier's challenges carry. */
  readonly context: ChallengeContext;
};

const NEGATIVE_SECONDS = 5;
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

type CacheEntry = { principal: Principal | null; until: number };

export function createVerifier(options: VerifierOptions): Verifier {
  if (!options.issuer || !options.audience) throw new TypeError('createVerifier: issuer and audience are required');
  const issuer = options.issuer.replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const now = options.now ?? Date.now;
  const context: ChallengeContext = {
    realm: options.realm ?? options.audience,
    ...(options.resourceMetadata ? { resourceMetadata: options.resourceMetadata } : {}),
  };
  const clockTolerance = Math.min(Math.max(options.clockToleranceSeconds ?? 5, 0), 60);
  const prefixes = options.apiKeyPrefixes ?? DEFAULT_API_KEY_PREFIXES;
  const staleMs = Math.max(0, options.apiKeyCache?.staleSeconds ?? 30) * 1000;
  const negativeMs = Math.min(staleMs, NEGATIVE_SECONDS * 1000);
  const cache = new BoundedCache<CacheEntry>(options.apiKeyCache?.maxEntries ?? 1000);
  const pending = new Map<string, Promise<Principal | null>>();
  const jwks = jwksCache({
    uri: options.jwksUri ?? `${issuer}/.well-known/jwks.json`,
    fetch: doFetch,
    now,
    cooldownMs: (options.jwks?.cooldownSeconds ?? 30) * 1000,
    maxAgeMs: (options.jwks?.maxAgeSeconds ?? 600) * 1000,
  });
  const refuse = (code: ConstructorParameters<typeof VerifyError>[0], description: string, cause?: unknown) =>
    new VerifyError(code, description, { context, cause });
  const getKey = (header: { kid?: string; alg?: string }) => jwks.keyFor(header);

  async function verifyJwt(token: string): Promise<Principal> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        issuer,
        audience: options.audience,
        algorithms: [...LATCHKEY_ALGORITHMS],
        typ: 'at+jwt',
        currentDate: new Date(now()),
        clockTolerance,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      // The key cache's refusals, with this verifier's realm in their challenge.
      if (error instanceof VerifyError) throw refuse(error.code, error.message, error.cause);
      if (error instanceof errors.JWTExpired) throw refuse('expired_token', 'the token has expired');
      if (error instanceof errors.JWTClaimValidationFailed)
        throw refuse('invalid_token', `the token's ${error.claim} claim check failed`);
      throw refuse('invalid_token', 'the token signature, algorithm or format is invalid', error);
    }
    const principal = principalFrom(payload);
    if (!principal) throw refuse('invalid_token', 'the token claims are not those of a latchkey access token');
    return rememberContext(principal, context);
  }

  /** The issuer's answer for a key: its principal, or null when refused. Throws only when unreachable. */
  async function askIssuer(token: string): Promise<Principal | null> {
    const introspection = options.introspection || {};
    let response: Response;
    try {
      response = introspection.credential
        ? await doFetch(introspection.url ?? `${issuer}/oauth/introspect`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${introspection.credential}`,
              'content-type': 'application/x-www-form-urlencoded',
              accept: 'application/json',
            },
            body: new URLSearchParams({ token }).toString(),
          })
        : await doFetch(introspection.url ?? `${issuer}/v1/me`, {
            headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
          });
    } catch (cause) {
      throw refuse('server_unavailable', 'the issuer could not be asked about the API key', cause);
    }
    if (response.status >= 500 || response.status === 429 || (introspection.credential && response.status !== 200)) {
      await response.body?.cancel();
      throw refuse('server_unavailable', `the issuer answered ${response.status} about the API key`);
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      return null;
    }
    let body: Record<string, unknown>;
    try {
      body = (await response.json()) as Record<string, unknown>;
    } catch (cause) {
      throw refuse('server_unavailable', 'the issuer answered something that is not JSON about the API key', cause);
    }
    if (introspection.credential && body?.active !== true) return null;
    const principal = principalFrom(introspection.credential ? { kind: 'api_key', ...body } : body);
    if (!principal) throw refuse('server_unavailable', 'the issuer answer about the API key is not one latchkey gives');
    return Object.freeze(rememberContext(principal, context)) as Principal;
  }

  async function verifyApiKey(token: string): Promise<Principal> {
    if (!isWellFormedApiKey(token, prefixes)) throw refuse('malformed_token', 'the API key is malformed (its checksum fails)');
    if (options.introspection === false) throw refuse('invalid_token', 'API keys are not accepted here');
    const digest = await apiKeyDigest(token);
    const hit = cache.get(digest);
    let principal: Principal | null;
    if (hit && hit.until > now()) {
      principal = hit.principal;
    } else {
      let asking = pending.get(digest);
      if (!asking) {
        asking = askIssuer(token).then(
          (answer) => {
            pending.delete(digest);
            const expiresAt = answer ? answer.exp * 1000 : Number.POSITIVE_INFINITY;
            cache.set(digest, { principal: answer, until: Math.min(now() + (answer ? staleMs : negativeMs), expiresAt) });
            return answer;
          },
          (error: unknown) => {
            pending.delete(digest);
            throw error;
          },
        );
        pending.set(digest, asking);
      }
      principal = await asking;
    }
    if (!principal) throw refuse('revoked_token', 'the API key is revoked, expired or unknown');
    if (principal.exp * 1000 <= now()) throw refuse('expired_token', 'the API key has expired');
    return principal;
  }

  return {
    context,
    async verify(input) {
      const header = typeof input === 'string' || input == null ? input : input.headers.get('authorization');
      if (!header || !/^bearer(?: |$)/i.test(header)) throw refuse('missing_token', 'no Bearer credential was presented');
      const token = BEARER.exec(header)?.[1];
      if (!token) throw refuse('invalid_request', 'the Authorization header does not hold one Bearer credential');
      if (JWT.test(token)) return verifyJwt(token);
      if (apiKeyPrefixOf(token, prefixes) !== undefined) return verifyApiKey(token);
      throw refuse('malformed_token', 'the credential is neither a latchkey access token nor an API key');
    },
  };
}
