/**
 * Secrets latchkey must read back, at rest (unlike every other secret it keeps, which is
 * stored as a hash): a person's TOTP secrets (each code is computed from one) and an org's
 * SSO client secret. Encrypted with AES-256-GCM under a key derived by HKDF from the
 * deployment's hash secret, one key per purpose, and bound (additional data) to what owns
 * them, so a sealed value copied under another owner or purpose does not open.
 *
 * The hash secret never leaves the hasher: HKDF's input keying material is the hasher's
 * HMAC of a label of the purpose's own, as secret as the hash secret and saying nothing of it.
 */
import { base64url, fromBase64url, randomBytes, type SecretHasher } from './opaque.ts';

const encoder = new TextEncoder();
const VERSION = 'v1';

/**
 * What a sealed value is for, and its key's labels (the hasher's label for the input keying
 * material, HKDF's salt and info), so purposes never share a key. TOTP secrets keep the
 * labels they were first sealed under, so those still open.
 */
const PURPOSES = {
  'totp-secret': { label: 'mfa-seal', salt: 'latchkey mfa', info: `totp secret ${VERSION}` },
  'sso-client-secret': { label: 'seal:sso-client-secret', salt: 'latchkey seal', info: `sso-client-secret ${VERSION}` },
} as const;
export type SealPurpose = keyof typeof PURPOSES;

const keys = new WeakMap<SecretHasher, Map<SealPurpose, Promise<CryptoKey>>>();

function sealingKey(hasher: SecretHasher, purpose: SealPurpose): Promise<CryptoKey> {
  let perPurpose = keys.get(hasher);
  if (!perPurpose) keys.set(hasher, (perPurpose = new Map()));
  let key = perPurpose.get(purpose);
  if (!key) {
    key = (async () => {
      const { label, salt, info } = PURPOSES[purpose];
      const ikm = fromBase64url(await hasher.hash(label, 'ikm')) as Uint8Array<ArrayBuffer>;
      const base = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveKey']);
      return crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode(salt), info: encoder.encode(info) },
        base,
        { name: 'AES-GCM', length: 256 },
        false,
        ['encrypt', 'decrypt'],
      );
    })();
    perPurpose.set(purpose, key);
  }
  return key;
}

/** Owner parts joined by NUL, which none of them holds (slugs, ids), so two owners never read alike. */
const boundTo = (owner: readonly string[]) => encoder.encode(owner.join('\0'));

/** `v1.<iv>.<ciphertext and tag>`, base64url. */
export async function sealSecret(
  hasher: SecretHasher,
  purpose: SealPurpose,
  owner: readonly string[],
  secret: string,
): Promise<string> {
  const iv = randomBytes(12) as Uint8Array<ArrayBuffer>;
  const body = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: boundTo(owner) },
    await sealingKey(hasher, purpose),
    encoder.encode(secret),
  );
  return `${VERSION}.${base64url(iv)}.${base64url(new Uint8Array(body))}`;
}

/** The secret; null when `sealed` does not open for this purpose and owner (or under this hash secret). */
export async function openSecret(
  hasher: SecretHasher,
  purpose: SealPurpose,
  owner: readonly string[],
  sealed: string,
): Promise<string | null> {
  const [version, iv, body] = sealed.split('.');
  if (version !== VERSION || !iv || !body) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromBase64url(iv) as Uint8Array<ArrayBuffer>, additionalData: boundTo(owner) },
      await sealingKey(hasher, purpose),
      fromBase64url(body) as Uint8Array<ArrayBuffer>,
    );
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}
