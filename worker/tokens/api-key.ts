/**
 * API key format: `lk_live_` (or `lk_test_` on a loopback issuer) + 30 random base62
 * characters + a 6-character base62 CRC32 of everything before it. The checksum lets a
 * mistyped, truncated or invented key be refused before any store read, and lets secret
 * scanners tell a real key shape from noise (GitHub's token format idea). The checksum is
 * not a secret and proves nothing about the key's validity; the store decides that.
 */

export const API_KEY_PREFIX = { live: 'lk_live_', test: 'lk_test_' } as const;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 30; // 30 × log2(62) ≈ 178.6 bits
const CHECKSUM_LENGTH = 6; // 62^6 > 2^32
const SHAPE = /^lk_(live|test)_[0-9A-Za-z]{36}$/;

const encoder = new TextEncoder();
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib's) of the string's UTF-8 bytes. */
export function crc32(text: string): number {
  // Every API-key check runs this on ASCII, whose char codes are its UTF-8 bytes: reading
  // them in place spares a buffer per request (measured: encoding one cost more than the
  // CRC under load). Anything else is encoded first.
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return crcOfBytes(encoder.encode(text));
    crc = (CRC_TABLE[(crc ^ code) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function crcOfBytes(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = (CRC_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function checksum(body: string): string {
  let value = crc32(body);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** Unbiased base62: bytes of 248 or more are thrown away (248 = 4 × 62). */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

export function generateApiKey(mode: keyof typeof API_KEY_PREFIX): string {
  const body = API_KEY_PREFIX[mode] + randomBase62(RANDOM_LENGTH);
  return body + checksum(body);
}

/** The shape and the checksum only: no I/O, so a malformed key costs no store read. */
export function isWellFormedApiKey(key: string): boolean {
  if (!SHAPE.test(key)) return false;
  const body = key.slice(0, -CHECKSUM_LENGTH);
  return checksum(body) === key.slice(-CHECKSUM_LENGTH);
}

/** Looks like one of ours (right prefix), whether or not the checksum holds. */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX.live) || token.startsWith(API_KEY_PREFIX.test);
}
