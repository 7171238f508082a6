/**
 * Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1, 30-second
 * steps, 6 digits, the parameters every authenticator app reads from an `otpauth://` URI
 * without asking. WebCrypto only, so it runs the same on workerd, Deno and Node. Pure:
 * time comes in as milliseconds, so tests step a clock instead of waiting.
 */
import { constantTimeEqual, randomBytes } from '../tokens/opaque.ts';

export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps either side of now a code may come from: a phone's clock a little off, a code typed as it turned. */
export const TOTP_WINDOW = 1;
/** RFC 4226 §4 asks for at least 128 bits and recommends 160: SHA-1's block-sized key. */
export const TOTP_SECRET_BYTES = 20;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 §6, unpadded, as authenticator apps take it. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32.charAt((buffer >>> (bits - 5)) & 31);
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32.charAt((buffer << (5 - bits)) & 31);
  return out;
}

/** Base32 as people copy it (any case, spaces, padding); null when it is not base32. */
export function base32Decode(text: string): Uint8Array | null {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = BASE32.indexOf(char);
    if (value < 0) return null;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 255);
      bits -= 8;
      buffer &= (1 << bits) - 1;
    }
  }
  return Uint8Array.from(out);
}

/** A fresh secret of `TOTP_SECRET_BYTES` random bytes, in base32. */
export function generateTotpSecret(): string {
  return base32Encode(randomBytes(TOTP_SECRET_BYTES));
}

/** The 30-second step a time (ms since the epoch) falls in. */
export const timeStep = (nowMs: number) => Math.floor(nowMs / 1000 / TOTP_STEP_SECONDS);

async function hmacKey(secret: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', secret as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
}

async function hotp(key: CryptoKey, counter: number, digits: number): Promise<string> {
  const message = new Uint8Array(8);
  // The counter is 8 bytes big-endian; steps stay far below 2^53, so two 32-bit halves hold it.
  new DataView(message.buffer).setUint32(0, Math.floor(counter / 2 ** 32));
  new DataView(message.buffer).setUint32(4, counter >>> 0);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, message));
  // RFC 4226 §5.3: dynamic truncation.
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const binary =
    (((mac[offset] as number) & 0x7f) << 24) |
    ((mac[offset + 1] as number) << 16) |
    ((mac[offset + 2] as number) << 8) |
    (mac[offset + 3] as number);
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The code for one step; `digits` other than 6 only for RFC 6238's own test vectors (8). */
export async function totpCode(secret: Uint8Array, step: number, digits = TOTP_DIGITS): Promise<string> {
  return hotp(await hmacKey(secret), step, digits);
}

/** The code an authenticator shows at `nowMs`. */
export async function totpCodeAt(secret: Uint8Array, nowMs: number, digits = TOTP_DIGITS): Promise<string> {
  return totpCode(secret, timeStep(nowMs), digits);
}

/**
 * The step whose code `code` is, within `TOTP_WINDOW` of now and later than `afterStep`
 * (the last step accepted, so a code is taken once and an older one never after a newer);
 * null when none. Every candidate step is computed and compared in constant time, so the
 * time taken says nothing of which step, if any, matched.
 */
export async function matchTotp(
  secret: Uint8Array,
  code: string,
  nowMs: number,
  afterStep: number | null,
  digits = TOTP_DIGITS,
): Promise<number | null> {
  if (!new RegExp(`^\\d{${digits}}$`).test(code)) return null;
  const key = await hmacKey(secret);
  const now = timeStep(nowMs);
  let found: number | null = null;
  for (let step = now - TOTP_WINDOW; step <= now + TOTP_WINDOW; step++) {
    const matches = constantTimeEqual(await hotp(key, step, digits), code);
    if (matches && (afterStep === null || step > afterStep) && found === null) found = step;
  }
  return found;
}

/**
 * The `otpauth://totp/` URI an authenticator app reads from the QR code (Google's Key Uri
 * Format): the label is `issuer:account`, each part URL-encoded, and `issuer` is repeated
 * as a parameter, which newer apps prefer over the label's.
 */
export function otpauthUri(input: { issuer: string; account: string; secret: string }): string {
  const label = `${encodeURIComponent(input.issuer)}:${encodeURIComponent(input.account)}`;
  const query = new URLSearchParams({
    secret: input.secret,
    issuer: input.issuer,
    algorithm: 'SHA1',
    digits: String(TOTP_DIGITS),
    period: String(TOTP_STEP_SECONDS),
  });
  // URLSearchParams writes a space as `+`, which some apps show literally; %20 reads everywhere.
  return `otpauth://totp/${label}?${query.toString().replace(/\+/g, '%20')}`;
}
