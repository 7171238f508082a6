/**
 * latchkey API keys are `<prefix><30 random base62><6 base62 CRC-32 of everything before>`
 * (`lk_live_…`, `lk_test_…` on a loopback issuer, or a deployment's own prefixes). The
 * checksum is public: it proves nothing about a key but lets a typo, a truncation or an
 * invented key be refused here with no network call. Only the server says a key is valid.
 *
 * The latchkey server generates and checks its keys with this module too (one checksum,
 * written once), so it imports nothing but web standards: the package is published alone.
 */

export const DEFAULT_API_KEY_PREFIXES = ['lk_live_', 'lk_test_'] as const;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY = /^[0-9A-Za-z]{36}$/;
const CHECKSUM_LENGTH = 6;
const encoder = new TextEncoder();

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE, as zlib's) of an ASCII string (a key is ASCII once its prefix and body are checked). */
export function crc32(ascii: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < ascii.length; i++) crc = (CRC_TABLE[(crc ^ ascii.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The 6 base62 characters that end a key whose first 44 are `body` (prefix included). */
export function apiKeyChecksum(body: string): string {
  let value = crc32(body);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** The prefix `token` starts with, if any of `prefixes`. */
export function apiKeyPrefixOf(token: string, prefixes: readonly string[]): string | undefined {
  return prefixes.find((prefix) => token.startsWith(prefix));
}

/**
 * Right prefix, length, alphabet and checksum: no I/O. Every prefix the token starts with
 * is tried, so a list in which one starts another (`rsk_`, `rsk_live_`) still reads each.
 */
export function isWellFormedApiKey(token: string, prefixes: readonly string[] = DEFAULT_API_KEY_PREFIXES): boolean {
  if (!prefixes.some((prefix) => token.startsWith(prefix) && BODY.test(token.slice(prefix.length)))) return false;
  return apiKeyChecksum(token.slice(0, -CHECKSUM_LENGTH)) === token.slice(-CHECKSUM_LENGTH);
}

/**
 * The cache key for an API key: hex SHA-256, so the cache never holds a usable secret.
 * WebCrypto's, on every runtime: a digest written here would be one more thing to trust,
 * for some 40 µs a check.
 */
export async function apiKeyDigest(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
