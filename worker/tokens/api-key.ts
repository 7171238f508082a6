/**
 * API key format: a prefix (`lk_live_`, `lk_test_` on a loopback issuer, or a branded
 * deployment's per kind, worker/branding.ts) + 30 random base62 characters + a
 * 6-character base62 CRC32 of everything before it. The checksum lets a mistyped,
 * truncated or invented key be refused before any store read, and lets secret scanners
 * tell a real key shape from noise (GitHub's token format idea). The checksum is not a
 * secret and proves nothing about the key's validity; the store decides that.
 *
 * The shape and checksum are @latchkey/verify's (packages/verify/src/api-key.ts), so the
 * server and the APIs that check its keys read them with the same code.
 */
import { apiKeyChecksum, apiKeyPrefixOf, isWellFormedApiKey } from '../../packages/verify/src/api-key.ts';

export { isWellFormedApiKey };

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 30; // 30 × log2(62) ≈ 178.6 bits

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

/** A new key under `prefix` (one of the deployment's, see Branding.prefixes). */
export function generateApiKey(prefix: string): string {
  const body = prefix + randomBase62(RANDOM_LENGTH);
  return body + apiKeyChecksum(body);
}

/** Looks like one of ours (an accepted prefix), whether or not the checksum holds. */
export function looksLikeApiKey(token: string, prefixes: readonly string[]): boolean {
  return apiKeyPrefixOf(token, prefixes) !== undefined;
}
