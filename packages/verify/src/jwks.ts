/**
 * The issuer's public keys, fetched once, kept for `maxAgeMs`, and fetched again when a token
 * names a `kid` we do not hold — but no more than once per `cooldownMs`, so a flood of
 * invented `kid`s costs one fetch per cooldown, not one per request. Concurrent misses share
 * one fetch. Only the key types latchkey signs with are imported (Ed25519/EdDSA, P-256/ES256).
 */
import { importJWK, type JWK } from 'jose';
import { VerifyError } from './errors.ts';

export const LATCHKEY_ALGORITHMS = ['EdDSA', 'ES256'] as const;
type Algorithm = (typeof LATCHKEY_ALGORITHMS)[number];
type Key = { alg: Algorithm; key: CryptoKey };

export type JwksCache = {
  /** The key for a JWS header, refetching on an unknown kid when the cooldown allows. */
  keyFor(header: { kid?: string; alg?: string }): CryptoKey | Promise<CryptoKey>;
  /** How many times the JWKS was fetched (for tests and metrics). */
  readonly fetches: number;
};

export function jwksCache(options: {
  uri: string;
  fetch: typeof fetch;
  now: () => number;
  cooldownMs: number;
  maxAgeMs: number;
}): JwksCache {
  let keys = new Map<string, Key>();
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | null = null;
  let fetches = 0;
  /** Why the last fetch failed (null: it did not). The keys from before it are kept. */
  let failure: unknown = null;

  async function load(): Promise<void> {
    fetches++;
    // Counted from the start, so a failing JWKS is asked again only after the cooldown too.
    fetchedAt = options.now();
    let body: unknown;
    try {
      const response = await options.fetch(options.uri, { headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`JWKS answered ${response.status}`);
      body = await response.json();
      failure = null;
    } catch (cause) {
      failure = cause;
      return;
    }
    const next = new Map<string, Key>();
    const list = (body as { keys?: unknown })?.keys;
    for (const jwk of Array.isArray(list) ? (list as JWK[]) : []) {
      const alg: Algorithm | null =
        jwk?.kty === 'OKP' && jwk.crv === 'Ed25519' ? 'EdDSA' : jwk?.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : null;
      if (!alg || typeof jwk.kid !== 'string' || (jwk.alg !== undefined && jwk.alg !== alg) || 'd' in jwk) continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      try {
        next.set(jwk.kid, { alg, key: (await importJWK({ ...jwk, ext: false }, alg)) as CryptoKey });
      } catch {}
    }
    keys = next;
  }

  function refresh(): Promise<void> {
    inflight ??= load().finally(() => {
      inflight = null;
    });
    return inflight;
  }

  async function slowPath(header: { kid?: string; alg?: string }): Promise<CryptoKey> {
    if (options.now() - fetchedAt >= options.maxAgeMs) await refresh();
    else if (inflight) await inflight;
    let found = header.kid === undefined ? undefined : keys.get(header.kid);
    if (!found && options.now() - fetchedAt >= options.cooldownMs) {
      await refresh();
      found = header.kid === undefined ? undefined : keys.get(header.kid);
    }
    if (!found && failure !== null)
      throw new VerifyError('server_unavailable', 'the issuer JWKS could not be fetched', { cause: failure });
    return checked(found, header);
  }

  return {
    get fetches() {
      return fetches;
    },
    keyFor(header) {
      // The hot path answers synchronously: a known kid from a fresh set costs no await.
      const found = header.kid === undefined || inflight ? undefined : keys.get(header.kid);
      if (found && options.now() - fetchedAt < options.maxAgeMs) return checked(found, header);
      return slowPath(header);
    },
  };
}

function checked(found: Key | undefined, header: { alg?: string }): CryptoKey {
  if (!found) throw new VerifyError('invalid_token', 'the token is signed by a key the issuer does not publish');
  if (found.alg !== header.alg) throw new VerifyError('invalid_token', 'the token algorithm does not match its key');
  return found.key;
}
