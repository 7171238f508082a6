/**
 * The key set that signs access tokens: the current private key first, previous ones
 * after it, so tokens signed before a rotation keep verifying until they expire.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import * as z from 'zod';

export const SIGNING_ALGORITHMS = ['EdDSA', 'ES256'] as const;
type Algorithm = (typeof SIGNING_ALGORITHMS)[number];

/** 32 bytes, base64url without padding: every coordinate and private part of both curves. */
const coordinate = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
const kid = z.string().min(1).max(256).optional();
const PrivateJwk = z.union([
  z
    .object({
      kty: z.literal('OKP'),
      crv: z.literal('Ed25519'),
      d: coordinate,
      x: coordinate,
      kid,
      alg: z.literal('EdDSA').optional(),
    })
    .loose(),
  z
    .object({
      kty: z.literal('EC'),
      crv: z.literal('P-256'),
      d: coordinate,
      x: coordinate,
      y: coordinate,
      kid,
      alg: z.literal('ES256').optional(),
    })
    .loose(),
]);
const KeyList = z.union([
  z.array(PrivateJwk).min(1),
  z.object({ keys: z.array(PrivateJwk).min(1) }).transform((set) => set.keys),
]);

/** Which entry is wrong (never its value), or undefined when the list itself is. */
function wrongEntry(error: z.ZodError): number | undefined {
  const paths = error.issues.flatMap((issue) =>
    issue.code === 'invalid_union' ? issue.errors.flat().map((inner) => inner.path) : [issue.path],
  );
  return paths.map((path) => path.find((part) => typeof part === 'number')).find((part) => part !== undefined);
}

export type PublicJwk = JWK & { kid: string; alg: Algorithm; use: 'sig' };
type VerifyKey = { alg: Algorithm; key: CryptoKey };

export type KeySet = {
  current: { kid: string; alg: Algorithm; key: CryptoKey };
  verifyKeys: Map<string, VerifyKey>;
  jwks: { keys: PublicJwk[] };
};

/** Parses LATCHKEY_SIGNING_KEYS (a JSON array of private JWKs, or a JWK Set). */
export function parseSigningKeys(text: string): JWK[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('LATCHKEY_SIGNING_KEYS: not JSON (expected private JWKs, current first)');
  }
  const parsed = KeyList.safeParse(json);
  if (!parsed.success) {
    const entry = wrongEntry(parsed.error);
    throw new Error(
      entry === undefined
        ? 'LATCHKEY_SIGNING_KEYS: expected Ed25519 or P-256 private JWKs, current first (npm run keys:generate makes one)'
        : `LATCHKEY_SIGNING_KEYS: entry ${entry} is not an Ed25519 or P-256 private JWK (kty, crv, d, x, and y for P-256)`,
    );
  }
  return parsed.data as JWK[];
}

/**
 * Start-up's full check of LATCHKEY_SIGNING_KEYS, beyond its shape: every key imports and
 * signs something its own public half verifies (a `d` from one key and an `x` from another
 * would otherwise sign tokens nobody can check). Throws an Error naming the setting.
 */
export async function checkSigningKeys(text: string): Promise<void> {
  const jwks = parseSigningKeys(text);
  const probe = new TextEncoder().encode('latchkey signing-key check');
  for (const [index, jwk] of jwks.entries()) {
    const alg: Algorithm = jwk.crv === 'P-256' ? 'ES256' : 'EdDSA';
    const params = alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'Ed25519' };
    let matches = false;
    try {
      // The public half as buildKeySet publishes it: no `d`, no `key_ops` limiting it to signing.
      const publicPart = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, ...(jwk.y ? { y: jwk.y } : {}) };
      const privateKey = (await importJWK(jwk, alg)) as CryptoKey;
      const publicKey = (await importJWK(publicPart, alg)) as CryptoKey;
      const signature = await crypto.subtle.sign(params, privateKey, probe);
      matches = await crypto.subtle.verify(params, publicKey, signature, probe);
    } catch {}
    if (!matches)
      throw new Error(
        `LATCHKEY_SIGNING_KEYS: entry ${index} is not a usable key pair (it does not import, or its d does not match its public part)`,
      );
  }
}

export async function generateSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg: 'EdDSA', kid: await calculateJwkThumbprint(jwk) };
}

export async function buildKeySet(privateJwks: JWK[]): Promise<KeySet> {
  const verifyKeys = new Map<string, VerifyKey>();
  const published: PublicJwk[] = [];
  let current: KeySet['current'] | undefined;
  for (const jwk of privateJwks) {
    const alg: Algorithm = jwk.crv === 'P-256' ? 'ES256' : 'EdDSA';
    const { d: _private, ...publicPart } = jwk;
    const kid = jwk.kid ?? (await calculateJwkThumbprint(publicPart));
    const publicJwk: PublicJwk = {
      kty: publicPart.kty,
      crv: publicPart.crv,
      x: publicPart.x,
      ...(publicPart.y ? { y: publicPart.y } : {}),
      kid,
      alg,
      use: 'sig',
    };
    verifyKeys.set(kid, { alg, key: (await importJWK(publicJwk, alg)) as CryptoKey });
    published.push(publicJwk);
    current ??= { kid, alg, key: (await importJWK({ ...jwk, kid }, alg)) as CryptoKey };
  }
  if (!current) throw new Error('no signing key');
  return { current, verifyKeys, jwks: { keys: published } };
}
