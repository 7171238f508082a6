/**
 * Claim globs and policy checks, pure: what `*` and `**` may cross, values with `*`, `:`
 * and unicode, and the policies refused at creation with their reasons.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrustPolicyInput } from '../../shared/trust-policy.ts';
import { matchesEverything, matchesGlob } from '../../worker/policy/glob.ts';
import { normalizePolicy, policyFailures } from '../../worker/policy/trust-policy.ts';

const table: [pattern: string, value: string, matches: boolean][] = [
  // `*` stops at `/` and `:`, so a prefix glob cannot reach into another repository's subject.
  ['repo:acme/app*', 'repo:acme/app-evil:ref:refs/heads/main', false],
  ['repo:acme/app*', 'repo:acme/app:ref:refs/heads/main', false],
  ['repo:acme/app:*', 'repo:acme/app-evil:ref:refs/heads/main', false],
  ['repo:acme/app:**', 'repo:acme/app-evil:ref:refs/heads/main', false],
  ['repo:acme/app:**', 'repo:acme/app:ref:refs/heads/main', true],
  ['repo:acme/app:ref:refs/heads/*', 'repo:acme/app:ref:refs/heads/main', true],
  ['repo:acme/app:ref:refs/heads/*', 'repo:acme/app:ref:refs/heads/feature/x', false],
  ['repo:acme/app:ref:*', 'repo:acme/app:ref:refs/heads/main', false],
  // Written so: a prefix glob on a bare name matches what it says it matches.
  ['acme/app*', 'acme/app-evil', true],
  ['acme/app', 'acme/app-evil', false],
  ['acme/app', 'ACME/app', false],
  ['repo:acme/*', 'repo:acme/app', true],
  ['repo:acme/*', 'repo:acme-evil/app', false],
  ['repo:acme/*', 'repo:acme/', true],
  // A `*` in a value is just a character; in a pattern it is a wildcard.
  ['refs/heads/*', 'refs/heads/*', true],
  ['refs/heads/main', 'refs/heads/*', false],
  ['v*', 'v1.2.0', true],
  ['v1.2.0', 'v1x2x0', false],
  // Regular-expression characters are literal.
  ['a.b', 'axb', false],
  ['a+b', 'aab', false],
  ['(x|y)', 'x', false],
  ['[abc]', 'a', false],
  ['^x$', '^x$', true],
  // Unicode: one character each, compared exactly (no case or normalization folding).
  ['env:prod-ü', 'env:prod-ü', true],
  ['env:prod-*', 'env:prod-ü🚀', true],
  ['env:prod-ü', 'env:prod-u\u0308', false],
  ['team-*', 'team-é/x', false],
  ['**', 'anything:at/all', true],
  ['a**b', 'a:/b', true],
  ['line*', 'line\nbreak', true],
];

for (const [pattern, value, expected] of table) {
  test(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(value)}`, () => {
    assert.equal(matchesGlob(pattern, value), expected);
  });
}

test('patterns made only of wildcards and separators say nothing', () => {
  for (const pattern of ['*', '**', '*/*', '**:**', '*:*/*']) assert.equal(matchesEverything(pattern), true, pattern);
  for (const pattern of ['a*', 'repo:*', 'x']) assert.equal(matchesEverything(pattern), false, pattern);
});

const grant = { project: 'web', scopes: ['read'] };
const refused: [string, unknown, RegExp][] = [
  ['no audience', { id: 'p', preset: 'custom', issuer: 'https://gitlab.com', claims: { sub: 'x' }, grant }, /needs an audience/],
  [
    'empty audience',
    { id: 'p', preset: 'custom', issuer: 'https://gitlab.com', audience: '', claims: { sub: 'x' }, grant },
    /needs an audience/,
  ],
  ['no preset', { id: 'p', issuer: 'https://gitlab.com', audience: 'a', claims: { sub: 'x' }, grant }, /preset/],
  [
    'no scopes',
    {
      id: 'p',
      preset: 'custom',
      issuer: 'https://gitlab.com',
      audience: 'a',
      claims: { sub: 'x' },
      grant: { project: 'web', scopes: [] },
    },
    /at least one scope/,
  ],
  [
    'a GitHub preset without repository_owner_id',
    { id: 'p', preset: 'github-actions', audience: 'a', repository: 'acme/*', grant },
    /repository_owner_id/,
  ],
];
for (const [name, input, reason] of refused) {
  test(`refused by the schema: ${name}`, () => {
    const parsed = TrustPolicyInput.safeParse(input);
    assert.equal(parsed.success, false);
    assert.match(parsed.error?.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; ') ?? '', reason);
  });
}

const rejected: [string, unknown, RegExp][] = [
  [
    'no claims',
    { id: 'p', preset: 'custom', issuer: 'https://gitlab.com', audience: 'a', claims: {}, grant },
    /no claim conditions/,
  ],
  [
    'a match-everything pattern',
    { id: 'p', preset: 'custom', issuer: 'https://gitlab.com', audience: 'a', claims: { sub: '**', project_id: '1' }, grant },
    /"\*\*" for sub matches everything/,
  ],
  [
    'nothing pins an owner',
    { id: 'p', preset: 'custom', issuer: 'https://gitlab.com', audience: 'a', claims: { sub: 'repo:*', ref: 'main*' }, grant },
    /pins an owner/,
  ],
  [
    'an exact repository without its id',
    { id: 'p', preset: 'github-actions', audience: 'a', repository: 'acme/app', repository_owner_id: '1', grant },
    /repository_id for acme\/app/,
  ],
  [
    'an exact GitLab project without its id',
    { id: 'p', preset: 'gitlab', audience: 'a', project_path: 'g/p', namespace_id: '1', grant },
    /project_id for g\/p/,
  ],
];
for (const [name, input, reason] of rejected) {
  test(`refused at creation: ${name}`, () => {
    assert.throws(() => normalizePolicy(TrustPolicyInput.parse(input)), reason);
  });
}

test('the GitHub preset pins the immutable ids and ignores the shape-shifting sub', () => {
  const policy = normalizePolicy(
    TrustPolicyInput.parse({
      id: 'p',
      preset: 'github-actions',
      audience: 'a',
      repository: 'acme/app',
      repository_id: '7',
      repository_owner_id: '3',
      grant,
    }),
  );
  assert.deepEqual(policy.claims, { repository: 'acme/app', repository_owner_id: '3', repository_id: '7' });
  assert.equal(policy.issuer, 'https://token.actions.githubusercontent.com');
});

test('claims that are not strings: numbers and booleans as text, objects never match', () => {
  const policy = normalizePolicy(
    TrustPolicyInput.parse({
      id: 'p',
      preset: 'custom',
      issuer: 'https://x.example',
      audience: 'a',
      claims: { runner_id: '1', org: 'acme' },
      grant,
    }),
  );
  assert.deepEqual(policyFailures(policy, { aud: ['b', 'a'], runner_id: 1, org: 'acme' }), []);
  assert.deepEqual(policyFailures(policy, { aud: 'a', runner_id: { id: 1 }, org: 'acme' }), [
    { claim: 'runner_id', expected: '1', actual: null },
  ]);
  assert.deepEqual(policyFailures(policy, { aud: 'z', runner_id: '1', org: 'acme' })[0]?.claim, 'aud');
  // A claim named like an Object.prototype member is absent unless the token has it.
  const proto = normalizePolicy(
    TrustPolicyInput.parse({
      id: 'q',
      preset: 'custom',
      issuer: 'https://x.example',
      audience: 'a',
      claims: { org: 'acme', constructor: '**x' },
      grant,
    }),
  );
  assert.equal(policyFailures(proto, { aud: 'a', org: 'acme' }).length, 1);
});
