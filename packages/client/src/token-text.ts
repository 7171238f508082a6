/**
 * What the CLI reads of a token as text, without verifying it: whether it is one line of
 * visible ASCII, and a claim of a JWT of our own. Neither is trust (the server verifies):
 * the first keeps a token from breaking what carries it (an HTTP header, a line-based
 * helper protocol, a cache file of lines), the second tells a person or a tool what the
 * token says of itself (its session, when to ask again).
 */

/** One line of visible ASCII, no space: every credential latchkey issues, and nothing that could add a line or a header. */
export const isVisibleAscii = (text: string): boolean => /^[\x21-\x7e]+$/.test(text);

/** The claim `name` of a JWT's payload, read without checking the signature; undefined for anything that is not a JWT. */
export function unverifiedClaim(token: string, name: string): unknown {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8'));
    const isClaims = typeof claims === 'object' && claims !== null && !Array.isArray(claims);
    // Own claims only: `constructor` is not a claim a payload lacks.
    return isClaims && Object.hasOwn(claims, name) ? (claims as Record<string, unknown>)[name] : undefined;
  } catch {
    return undefined;
  }
}
