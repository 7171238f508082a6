/**
 * TOTP secrets at rest. Unlike every other secret latchkey keeps, a TOTP secret must be
 * read back (each code is computed from it), so it cannot be stored as a hash: it is
 * encrypted with AES-256-GCM under a key derived by HKDF from the deployment's hash secret,
 * and the ciphertext is bound (as additional data) to its owner and factor id, so a sealed
 * secret copied into another person's record, or under another factor, does not open.
 *
 * The hash secret itself never leaves the hasher: HKDF's input keying material is the
 * hasher's HMAC of a label of its own, which is as secret as the hash secret and says
 * nothing of it.
 */
import { base64url, fromBase64url, randomBytes, type SecretHasher } from '../tokens/opaque.ts';

const encoder = new TextEncoder();
const VERSION = 'v1';
const keys = new WeakMap<SecretHasher, Promise<CryptoKey>>();

function sealingKey(hasher: SecretHasher): Promise<CryptoKey> {
  let key = keys.get(hasher);
  if (!key) {
    key = (async () => {
      const ikm = fromBase64url(await hasher.hash('mfa-seal', 'ikm')) as Uint8Array<ArrayBuffer>;
      const base = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveKey']);
      return crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode('latchkey mfa'), info: encoder.encode(`totp secret ${VERSION}`) },
        base,
        { name: 'AES-GCM', length: 256 },
        false,
        ['encrypt', 'decrypt'],
      );
    })();
    keys.set(hasher, key);
  }
  return key;
}

const boundTo = (owner: string, factorId: string) => encoder.encode(`${owner}\0${factorId}`);

/** `v1.<iv>.<ciphertext and tag>`, base64url. */
export async function sealTotpSecret(hasher: SecretHasher, owner: string, factorId: string, secret: string): Promise<string> {
  const iv = randomBytes(12) as Uint8Array<ArrayBuffer>;
  const body = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: boundTo(owner, factorId) },
    await sealingKey(hasher),
    encoder.encode(secret),
  );
  return `${VERSION}.${base64url(iv)}.${base64url(new Uint8Array(body))}`;
}

/** The base32 secret; null when `sealed` does not open for this owner and factor (or under this hash secret). */
export async function openTotpSecret(
  hasher: SecretHasher,
  owner: string,
  factorId: string,
  sealed: string,
): Promise<string | null> {
  const [version, iv, body] = sealed.split('.');
  if (version !== VERSION || !iv || !body) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromBase64url(iv) as Uint8Array<ArrayBuffer>, additionalData: boundTo(owner, factorId) },
      await sealingKey(hasher),
      fromBase64url(body) as Uint8Array<ArrayBuffer>,
    );
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}
