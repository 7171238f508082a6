/**
 * Opaque secrets: generated with a scanner-findable prefix, stored only as a keyed hash
 * (HMAC-SHA-256 under LATCHKEY_HASH_SECRET), so a dump of the store yields no usable token.
 */
const encoder = new TextEncoder();

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** RFC 4648 §5, unpadded. A table walk: it runs on every API-key check (the key's hash). */
export function base64url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out +=
      BASE64URL.charAt(n >>> 18) +
      BASE64URL.charAt((n >>> 12) & 63) +
      BASE64URL.charAt((n >>> 6) & 63) +
      BASE64URL.charAt(n & 63);
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = ((bytes[i] as number) << 16) | (rest === 2 ? (bytes[i + 1] as number) << 8 : 0);
    out += BASE64URL.charAt(n >>> 18) + BASE64URL.charAt((n >>> 12) & 63) + (rest === 2 ? BASE64URL.charAt((n >>> 6) & 63) : '');
  }
  return out;
}

export function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** 256 bits of randomness behind a prefix such as `lk_rt_`. */
export function generateSecret(prefix: string): string {
  return prefix + base64url(randomBytes(32));
}

/** A short random id for records that are not secrets (families, users, jti). */
export function generateId(prefix = ''): string {
  return prefix + base64url(randomBytes(15));
}

export type SecretHasher = {
  /** A stable, non-reversible id for a secret, labelled so one secret never hashes alike in two roles. */
  hash(label: string, secret: string): Promise<string>;
  /**
   * Seals 32 bytes so only a holder of `secret` can open them: a one-time pad, the bytes
   * XOR an HMAC of `secret` under the hash secret, so a secret must seal one value only (a
   * refresh token seals its one successor). One HMAC, where AES-GCM cost three WebCrypto
   * calls on every refresh. Opened with another secret it gives other bytes, not an
   * error: callers check what they open by looking it up.
   */
  seal(secret: string, bytes: Uint8Array): Promise<string>;
  /** The sealed bytes; null when `sealed` is not 32 of them. */
  open(secret: string, sealed: string): Promise<Uint8Array | null>;
  /**
   * Opens what the per-key layout (before 0.2) sealed: AES-256-GCM under the same HMAC,
   * `<iv>.<ciphertext>`; null when it does not open. Only an upgrade's grace window needs it.
   */
  openLegacy(secret: string, sealed: string): Promise<string | null>;
};

/** What `seal` takes: one HMAC-SHA-256 of pad. */
const SEALED_BYTES = 32;

export async function createHasher(hashSecret: string): Promise<SecretHasher> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(hashSecret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = async (label: string, value: string) =>
    new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`${label}\0${value}`)));
  // The pad depends on the secret itself, which the store never holds.
  const xorPad = async (secret: string, bytes: Uint8Array): Promise<Uint8Array> => {
    const pad = await mac('seal', secret);
    return bytes.map((byte, i) => byte ^ (pad[i] as number));
  };

  return {
    async hash(label, secret) {
      return base64url(await mac(label, secret));
    },
    async seal(secret, bytes) {
      if (bytes.length !== SEALED_BYTES) throw new RangeError(`seal takes ${SEALED_BYTES} bytes`);
      return base64url(await xorPad(secret, bytes));
    },
    async open(secret, sealed) {
      const bytes = sealed.length === 43 ? fromBase64url(sealed) : null;
      return bytes?.length === SEALED_BYTES ? xorPad(secret, bytes) : null;
    },
    async openLegacy(secret, sealed) {
      const [iv, body] = sealed.split('.');
      if (!iv || !body) return null;
      try {
        const key = await crypto.subtle.importKey('raw', await mac('seal', secret), { name: 'AES-GCM' }, false, ['decrypt']);
        const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64url(iv) }, key, fromBase64url(body));
        return new TextDecoder().decode(plain);
      } catch {
        return null;
      }
    },
  };
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  let difference = left.length ^ right.length;
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i++) difference |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return difference === 0;
}
