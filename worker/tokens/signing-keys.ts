/**
 * The key set that signs access tokens: the current private key first, previous ones
 * after it, so tokens signed before a rotation keep verifying until they expire.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import * as z from 'zod';

export const SIGNING_ALGORITHMS = ['EdDSA', 'ES256'] as const;
type Algorithm = (typeof SIGNING_ALGORITHMS)[number];

const PrivateJwk = z
  .object({
    kty: z.enum(['OKP', 'EC']),
    crv: z.enum(['Ed25519', 'P-256']),
    d: z.string().min(1),
    x: z.string().min(1),
    y: z.string().optional(),
    kid: z.string().optional(),
    alg: z.enum(SIGNING_ALGORITHMS).optional(),
  })
  .loose();
const KeyList = z.union([
  z.array(PrivateJwk).min(1),
  z.object({ keys: z.array(PrivateJwk).min(1) }).transform((set) => set.keys),
]);

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
  if (!parsed.success) throw new Error('LATCHKEY_SIGNING_KEYS: expected Ed25519 or P-256 private JWKs, current first');
  return parsed.data as JWK[];
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
