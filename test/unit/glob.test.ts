/**
 * The claim-glob matcher against the regular expressions it replaced: the same answer on
 * random patterns and values (seeded, so a failure names a case that can be replayed),
 * and linear time on the patterns that made those expressions backtrack for seconds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesGlob } from '../../worker/policy/glob.ts';

/** The semantics being kept: what worker/policy/glob.ts compiled every pattern to before. */
function regexGlob(pattern: string): RegExp {
  const source = pattern
    .split(/(\*\*|\*)/u)
    .map((part) => {
      if (part === '**') return '.*';
      if (part === '*') return '[^/:]*';
      return part.replace(/[\\^$.|?+()[\]{}]/gu, '\\$&');
    })
    .join('');
  return new RegExp(`^${source}$`, 'su');
}

/** mulberry32: small, seeded, good enough to spread cases. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Few characters, so patterns and values share them often; separators, a regular
// expression character, a line break, an astral character and both halves of one alone.
const TEXT = ['a', 'b', 'a', 'b', '/', ':', '.', '\n', '*', '🚀', '\uD83D', '\uDE80', 'ü'];
const SEGMENT = ['a', 'b', '.', '\n', '🚀', 'ü', '\uDE80'];
const PATTERN = ['a', 'b', 'a', '/', ':', '.', '*', '*', '**', '***', '🚀', '\uD83D', '\uDE80', '\n', '+'];

test('the same answers as the regular expressions on random patterns and values', () => {
  const SEED = 20261204;
  const next = random(SEED);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T;
  const text = (from: readonly string[], max: number) =>
    Array.from({ length: Math.floor(next() * (max + 1)) }, () => pick(from)).join('');
  let matched = 0;
  const CASES = 40_000;
  for (let round = 0; round < CASES; round++) {
    const pattern = text(PATTERN, 10);
    let value: string;
    if (next() < 0.5) {
      value = text(TEXT, 12);
    } else {
      // Fill the pattern's wildcards in, mostly as allowed, sometimes not: near misses.
      value = pattern
        .split(/(\*\*+|\*)/u)
        .map((part) => {
          if (part.startsWith('**')) return text(TEXT, 5);
          if (part === '*') return next() < 0.85 ? text(SEGMENT, 4) : text(TEXT, 3);
          return part;
        })
        .join('');
      if (next() < 0.3 && value.length > 0) {
        const at = Math.floor(next() * value.length);
        value = value.slice(0, at) + pick(TEXT) + value.slice(at + (next() < 0.5 ? 1 : 0));
      }
    }
    const expected = regexGlob(pattern).test(value);
    if (expected) matched++;
    assert.equal(
      matchesGlob(pattern, value),
      expected,
      `seed ${SEED}, case ${round}: ${JSON.stringify(pattern)} against ${JSON.stringify(value)}`,
    );
  }
  // Both answers are well represented, or the comparison proves little.
  assert.ok(matched > CASES / 5 && matched < (CASES * 4) / 5, `${matched} of ${CASES} matched`);
});

/**
 * Patterns of at most 512 characters with 12 wildcards, and 4,000-character claims they
 * almost match: the fixed text at either end agrees, so the whole automaton runs.
 */
const CLAIM = 4000;
const worst: [name: string, pattern: string, value: string][] = [
  ['twelve `*` with a run of one letter', `a${'*a'.repeat(10)}*b*a`, 'a'.repeat(CLAIM)],
  ['twelve `**` with a run of one letter', `a${'**a'.repeat(10)}**b**a`, 'a'.repeat(CLAIM)],
  ['mixed wildcards around separators', `repo:${'*a:**/'.repeat(5)}*x*/`, `repo:${'a:a/'.repeat((CLAIM - 5) / 4)}`],
  [
    '512 characters: long literals between twelve wildcards',
    `${`${'a'.repeat(40)}*`.repeat(11)}${'a'.repeat(40)}b*${'a'.repeat(512 - 41 * 12 - 2)}`,
    'a'.repeat(CLAIM),
  ],
  ['a separator run', `:${'*:'.repeat(10)}*x*/`, `${':'.repeat(CLAIM / 2)}${'/'.repeat(CLAIM / 2)}`],
];

for (const [name, pattern, value] of worst) {
  test(`linear time: ${name} against a ${value.length}-character claim`, () => {
    assert.ok(pattern.length <= 512, `${pattern.length} characters`);
    assert.equal(pattern.split(/\*+/u).length - 1, 12, 'twelve wildcards');
    // The best of three, so a busy machine's pauses do not count; the expressions this
    // replaced never finished one.
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      assert.equal(matchesGlob(pattern, value), false);
      best = Math.min(best, performance.now() - started);
    }
    assert.ok(best < 50, `${best.toFixed(1)} ms`);
  });
}

test('linear time whatever the number of wildcards: 252 of them in 505 characters, 4,000-character claim', () => {
  const pattern = `a${'*a'.repeat(250)}*c*a`;
  assert.ok(pattern.length <= 512);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    assert.equal(matchesGlob(pattern, 'a'.repeat(CLAIM)), false);
    assert.equal(matchesGlob(pattern, `${'a'.repeat(CLAIM / 2)}c${'a'.repeat(CLAIM / 2)}`), true);
    best = Math.min(best, performance.now() - started);
  }
  assert.ok(best < 50, `${best.toFixed(1)} ms`);
});
