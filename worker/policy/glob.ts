/**
 * Claim globs. Anchored at both ends; `*` matches any run of characters within one
 * segment — never `/` or `:`, the separators of `repo:acme/app:ref:refs/heads/main` — and
 * `**` (or any longer run of `*`) matches anything, separators included. Every other
 * character is literal, so a pattern that says `repo:acme/app*` matches
 * `repo:acme/app-evil` only because it says so. Characters are code points, compared
 * exactly.
 *
 * Matching never backtracks. These globs used to become regular expressions, and `*` as
 * `[^/:]*` backtracks polynomially in the number of wildcards: eight of them against 60
 * characters took 19 s, and a refused exchange spends nothing, so it could be sent again
 * and again. Instead every state of the pattern's automaton is followed at once, one bit
 * each (Shift-And): one pass over the value, a few word operations per character per 32
 * pattern characters — linear in the value whatever the pattern.
 */

const SLASH = 0x2f;
const COLON = 0x3a;
const STAR = 0x2a;

/**
 * A pattern as an automaton: state i means "the first i tokens are matched" (a token is a
 * character, `*` or `**`), one bit each; `literal` has, per character, the states entered
 * by reading it.
 */
type Glob = {
  words: number;
  final: number;
  literal: Map<number, Uint32Array>;
  /** States after a `*` or `**`: they stay on any character but a separator. */
  stars: Uint32Array;
  /** States after a `**`: they stay on a separator too. */
  anyStars: Uint32Array;
  /** The fixed text before the first and after the last wildcard, to refuse most values at once. */
  prefix: string;
  suffix: string;
};

/** Compiled patterns, bounded: policies are few, but nothing should grow without limit. */
const cache = new Map<string, Glob>();
const CACHE_LIMIT = 1024;

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*');
}

/** The string's code points, lone surrogates included as one each (as a `u` regex reads them). */
function codePoints(text: string): number[] {
  const points: number[] = [];
  for (let index = 0; index < text.length; ) {
    const point = text.codePointAt(index) as number;
    points.push(point);
    index += point > 0xffff ? 2 : 1;
  }
  return points;
}

const setBit = (bits: Uint32Array, state: number) => {
  bits[state >>> 5] = ((bits[state >>> 5] as number) | (1 << (state & 31))) >>> 0;
};

function compileGlob(pattern: string): Glob {
  const points = codePoints(pattern);
  // Tokens: a code point, or -1 for `*`, -2 for `**`; a run of three or more stars is `**`.
  const tokens: number[] = [];
  for (let index = 0; index < points.length; ) {
    if (points[index] !== STAR) {
      tokens.push(points[index++] as number);
      continue;
    }
    let run = 0;
    while (points[index] === STAR) {
      run++;
      index++;
    }
    tokens.push(run === 1 ? -1 : -2);
  }
  const words = (tokens.length >>> 5) + 1;
  const glob: Glob = {
    words,
    final: tokens.length,
    literal: new Map(),
    stars: new Uint32Array(words),
    anyStars: new Uint32Array(words),
    prefix: pattern.slice(0, pattern.indexOf('*')),
    suffix: pattern.slice(pattern.lastIndexOf('*') + 1),
  };
  tokens.forEach((token, index) => {
    const state = index + 1;
    if (token < 0) {
      setBit(glob.stars, state);
      if (token === -2) setBit(glob.anyStars, state);
      return;
    }
    let bits = glob.literal.get(token);
    if (!bits) {
      bits = new Uint32Array(words);
      glob.literal.set(token, bits);
    }
    setBit(bits, state);
  });
  return glob;
}

function globFor(pattern: string): Glob {
  let glob = cache.get(pattern);
  if (!glob) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    glob = compileGlob(pattern);
    cache.set(pattern, glob);
  }
  return glob;
}

/**
 * Adds the states a star lets through without reading anything: after state i-1, state i
 * when token i is a wildcard. Stars never follow each other, so one step is enough.
 */
function closeOverStars(bits: Uint32Array, stars: Uint32Array): void {
  let carry = 0;
  for (let word = 0; word < bits.length; word++) {
    const value = bits[word] as number;
    bits[word] = (value | (((value << 1) | carry) & (stars[word] as number))) >>> 0;
    carry = value >>> 31;
  }
}

function runGlob(glob: Glob, value: string): boolean {
  const { words, stars, anyStars, literal } = glob;
  const none = new Uint32Array(words);
  let current = new Uint32Array(words);
  let next = new Uint32Array(words);
  current[0] = 1;
  closeOverStars(current, stars);
  for (let index = 0; index < value.length; ) {
    const point = value.codePointAt(index) as number;
    index += point > 0xffff ? 2 : 1;
    const entered = literal.get(point) ?? none;
    const staying = point === SLASH || point === COLON ? anyStars : stars;
    // One pass: read a character (advance on it, or stay in a star that takes it), then
    // close over the stars just reached, carrying each word's top bit into the next.
    let carry = 0;
    let closing = 0;
    let alive = 0;
    for (let word = 0; word < words; word++) {
      const bits = current[word] as number;
      const after = (((bits << 1) | carry) & (entered[word] as number)) | (bits & (staying[word] as number));
      carry = bits >>> 31;
      const closed = after | (((after << 1) | closing) & (stars[word] as number));
      closing = after >>> 31;
      next[word] = closed;
      alive |= closed;
    }
    if (alive === 0) return false;
    const spent = current;
    current = next;
    next = spent;
  }
  return (((current[glob.final >>> 5] as number) >>> (glob.final & 31)) & 1) === 1;
}

export function matchesGlob(pattern: string, value: string): boolean {
  if (!hasWildcard(pattern)) return pattern === value;
  const glob = globFor(pattern);
  // A code-point match implies these code-unit ones, so failing them is a sound "no".
  if (!value.startsWith(glob.prefix) || !value.endsWith(glob.suffix)) return false;
  return runGlob(glob, value);
}

// Made of wildcards and separators only (such as "*", "**", "**:**"): says nothing.
export function matchesEverything(pattern: string): boolean {
  return hasWildcard(pattern) && /^[*/:]+$/u.test(pattern);
}
