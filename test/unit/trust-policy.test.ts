/**
 * Claim globs and policy checks, pure: what `*` and `**` may cross, values with `*`, `:`
 * and unicode, the policies refused at creation with their reasons (every one must pin its
 * issuer's owner id exactly; a preset's counts only on its own issuer or one declared with
 * it), and a stored policy that does not admitting nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GITHUB_ACTIONS_ISSUER, type TrustPolicy, TrustPolicyInput } from '../../shared/trust-policy.ts';
import { matchesEverything, matchesGlob } from '../../worker/policy/glob.ts';
import { DEFAULT_OWNER_CLAIMS, normalizePolicy, type OwnerClaims, policyFailures } from '../../worker/policy/trust-policy.ts';

/** As LATCHKEY_CI_ISSUERS would declare them, over the defaults for GitHub Actions and gitlab.com. */
const OWNERS: OwnerClaims = {
  ...DEFAULT_OWNER_CLAIMS,
  'https://x.example': 'org',
  'https://ghes.example.com/_services/token': 'enterprise_id',
  'https://ghe.example.com/_services/token': 'repository_owner_id',
  'https://gitlab.example.com': 'namespace_id',
};
/** Trusted, perhaps, but declaring no owner id claim: its users might set any claim they like. */
const GENERIC = 'https://ci.generic.example';
const normalize = (input: unknown) => normalizePolicy(TrustPolicyInput.parse(input), OWNERS);

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
  // Three or more stars are `**`; `*` next to a separator still stops at the next one.
  ['a***b', 'a:/b', true],
  ['*:*', 'x:y:z', false],
  ['**:*', 'x:y:z', true],
  ['refs/heads/release-*', 'refs/heads/release-1/x', false],
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
    /no condition pins an owner — give namespace_id, the immutable id of the owner of https:\/\/gitlab\.com's tokens/,
  ],
  // Exact values every owner's jobs share: any repository could ask for the org's (public) audience.
  [
    'a custom policy on one exact branch',
    { id: 'p', preset: 'custom', issuer: GITHUB_ACTIONS_ISSUER, audience: 'a', claims: { ref: 'refs/heads/main' }, grant },
    /no condition pins an owner — give repository_owner_id/,
  ],
  [
    'a custom policy on one exact event',
    { id: 'p', preset: 'custom', issuer: GITHUB_ACTIONS_ISSUER, audience: 'a', claims: { event_name: 'push' }, grant },
    /give repository_owner_id/,
  ],
  [
    'a custom policy on a repository name and id, but no owner id',
    {
      id: 'p',
      preset: 'custom',
      issuer: GITHUB_ACTIONS_ISSUER,
      audience: 'a',
      claims: { repository: 'acme/app', repository_id: '7', sub: 'repo:acme/*' },
      grant,
    },
    /give repository_owner_id/,
  ],
  [
    'an owner id as a glob',
    {
      id: 'p',
      preset: 'custom',
      issuer: GITHUB_ACTIONS_ISSUER,
      audience: 'a',
      claims: { repository_owner_id: '65*', ref: 'refs/heads/main' },
      grant,
    },
    /repository_owner_id must be one exact value, .* not the glob "65\*"/,
  ],
  [
    'a custom policy on an issuer that declares no owner id claim',
    { id: 'p', preset: 'custom', issuer: 'https://ci.example.com', audience: 'a', claims: { tenant_id: '1' }, grant },
    /https:\/\/ci\.example\.com has no declared owner id claim.*LATCHKEY_CI_ISSUERS \(https:\/\/ci\.example\.com=CLAIM\)/,
  ],
  [
    'a custom policy pinning another claim than its issuer declares',
    { id: 'p', preset: 'custom', issuer: 'https://x.example', audience: 'a', claims: { repository_owner_id: '1' }, grant },
    /give org, the immutable id of the owner of https:\/\/x\.example's tokens/,
  ],
  [
    'a preset on an issuer that declares another owner id claim',
    {
      id: 'p',
      preset: 'github-actions',
      issuer: 'https://ghes.example.com/_services/token',
      audience: 'a',
      repository: 'acme/*',
      repository_owner_id: '1',
      grant,
    },
    /give enterprise_id/,
  ],
  // A generic issuer may let its users set `repository_owner_id` or `namespace_id` freely:
  // a preset's owner id counts only on its own issuer or one declared with that claim.
  [
    'the GitHub preset on an issuer that declares no owner id claim',
    {
      id: 'p',
      preset: 'github-actions',
      issuer: GENERIC,
      audience: 'a',
      repository: 'acme/*',
      repository_owner_id: '1',
      grant,
    },
    /the github-actions preset's repository_owner_id is an owner id only on https:\/\/token\.actions\.githubusercontent\.com or an issuer the operator declares with it; https:\/\/ci\.generic\.example declares no owner id claim.*LATCHKEY_CI_ISSUERS \(https:\/\/ci\.generic\.example=repository_owner_id\)/,
  ],
  [
    'the GitHub preset on an undeclared issuer, its owner id repeated under claims',
    {
      id: 'p',
      preset: 'github-actions',
      issuer: GENERIC,
      audience: 'a',
      repository: 'acme/*',
      repository_owner_id: '1',
      claims: { repository_owner_id: '1' },
      grant,
    },
    /declares no owner id claim/,
  ],
  [
    'the GitLab preset on an issuer that declares no owner id claim',
    { id: 'p', preset: 'gitlab', issuer: GENERIC, audience: 'a', project_path: 'g/*', namespace_id: '1', grant },
    /the gitlab preset's namespace_id is an owner id only on https:\/\/gitlab\.com .*\(https:\/\/ci\.generic\.example=namespace_id\)/,
  ],
  [
    "the GitLab preset on GitHub's issuer",
    { id: 'p', preset: 'gitlab', issuer: GITHUB_ACTIONS_ISSUER, audience: 'a', project_path: 'g/*', namespace_id: '1', grant },
    /give repository_owner_id/,
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
    assert.throws(() => normalize(input), reason);
  });
}

const accepted: [string, unknown][] = [
  [
    'a custom policy pinning the owner id exactly',
    {
      id: 'p',
      preset: 'custom',
      issuer: GITHUB_ACTIONS_ISSUER,
      audience: 'a',
      claims: { repository_owner_id: '65', ref: 'refs/heads/*' },
      grant,
    },
  ],
  [
    'a custom policy on an issuer that declares its owner id claim',
    { id: 'p', preset: 'custom', issuer: 'https://x.example/', audience: 'a', claims: { org: 'acme', sub: 'job:*' }, grant },
  ],
  [
    // GitHub Enterprise Server: its tokens carry GitHub's claims, and the operator says so.
    'the GitHub preset on an issuer declared with its owner id claim',
    {
      id: 'p',
      preset: 'github-actions',
      issuer: 'https://ghe.example.com/_services/token',
      audience: 'a',
      repository: 'acme/*',
      repository_owner_id: '1',
      grant,
    },
  ],
  [
    'the GitLab preset on a self-managed GitLab declared with its owner id claim',
    {
      id: 'p',
      preset: 'gitlab',
      issuer: 'https://gitlab.example.com/',
      audience: 'a',
      project_path: 'g/*',
      namespace_id: '1',
      grant,
    },
  ],
  [
    'the GitHub preset pinning a declared owner id too',
    {
      id: 'p',
      preset: 'github-actions',
      issuer: 'https://ghes.example.com/_services/token',
      audience: 'a',
      repository: 'acme/*',
      repository_owner_id: '1',
      claims: { enterprise_id: '9' },
      grant,
    },
  ],
];
for (const [name, input] of accepted) {
  test(`accepted: ${name}`, () => {
    assert.doesNotThrow(() => normalize(input));
  });
}

test('a stored policy that pins no owner id (made before that was required) admits nothing, and says why', () => {
  // As the org API kept it: a custom policy on one branch, which every repository's jobs share.
  const stored: TrustPolicy = {
    id: 'old',
    org: 'acme',
    preset: 'custom',
    description: null,
    issuer: GITHUB_ACTIONS_ISSUER,
    audience: 'https://latchkey.example/orgs/acme',
    claims: { ref: 'refs/heads/main' },
    grant: { project: 'web', scopes: ['read'] },
  };
  const claims = { aud: stored.audience, ref: 'refs/heads/main', repository_owner_id: '666' };
  assert.deepEqual(policyFailures(stored, claims, OWNERS), [
    {
      claim: 'repository_owner_id',
      expected: 'one exact repository_owner_id pinned by the policy, which has none: it admits no token until re-created',
      actual: '666',
    },
  ]);
  // An owner id as a glob, and an issuer whose owner claim is no longer declared, likewise.
  assert.match(
    policyFailures({ ...stored, claims: { repository_owner_id: '6*' } }, claims, OWNERS)[0]?.expected ?? '',
    /has the glob "6\*": it admits no token until re-created/,
  );
  const custom = { ...stored, issuer: 'https://ci.example.com', claims: { tenant: 'acme' } };
  assert.deepEqual(policyFailures(custom, { aud: stored.audience, tenant: 'acme', iss: custom.issuer }, OWNERS), [
    { claim: 'iss', expected: 'an issuer whose owner id claim LATCHKEY_CI_ISSUERS declares', actual: custom.issuer },
  ]);
  assert.deepEqual(policyFailures(custom, { aud: stored.audience, tenant: 'acme' }, { [custom.issuer]: 'tenant' }), []);
});

test('a stored preset on an issuer that declares no owner id claim admits nothing, and says why; declared, it matches', () => {
  // As the org API kept it before a preset's owner id counted only on its own issuer.
  const stored: TrustPolicy = {
    id: 'generic',
    org: 'acme',
    preset: 'github-actions',
    description: null,
    issuer: GENERIC,
    audience: 'https://latchkey.example/orgs/acme',
    claims: { repository: 'acme/*', repository_owner_id: '65' },
    grant: { project: 'web', scopes: ['read'] },
  };
  const claims = { iss: GENERIC, aud: stored.audience, repository: 'acme/app', repository_owner_id: '65' };
  assert.deepEqual(policyFailures(stored, claims, OWNERS), [
    {
      claim: 'iss',
      expected:
        'https://token.actions.githubusercontent.com, or an issuer LATCHKEY_CI_ISSUERS declares with =repository_owner_id',
      actual: GENERIC,
    },
  ]);
  assert.deepEqual(policyFailures(stored, claims, { ...OWNERS, [GENERIC]: 'repository_owner_id' }), []);
  // Declared with another claim, that claim is the owner id, and the preset's is not it.
  assert.deepEqual(
    policyFailures(stored, { ...claims, tenant: '1' }, { ...OWNERS, [GENERIC]: 'tenant' }).map((failure) => failure.claim),
    ['tenant'],
  );
});

test('the GitHub preset pins the immutable ids and ignores the shape-shifting sub', () => {
  const policy = normalize({
    id: 'p',
    preset: 'github-actions',
    audience: 'a',
    repository: 'acme/app',
    repository_id: '7',
    repository_owner_id: '3',
    grant,
  });
  assert.deepEqual(policy.claims, { repository: 'acme/app', repository_owner_id: '3', repository_id: '7' });
  assert.equal(policy.issuer, 'https://token.actions.githubusercontent.com');
});

test('claims that are not strings: numbers and booleans as text, objects never match', () => {
  const policy = normalize({
    id: 'p',
    preset: 'custom',
    issuer: 'https://x.example',
    audience: 'a',
    claims: { runner_id: '1', org: 'acme' },
    grant,
  });
  assert.deepEqual(policyFailures(policy, { aud: ['b', 'a'], runner_id: 1, org: 'acme' }, OWNERS), []);
  assert.deepEqual(policyFailures(policy, { aud: 'a', runner_id: { id: 1 }, org: 'acme' }, OWNERS), [
    { claim: 'runner_id', expected: '1', actual: null },
  ]);
  assert.deepEqual(policyFailures(policy, { aud: 'z', runner_id: '1', org: 'acme' }, OWNERS)[0]?.claim, 'aud');
  // A claim named like an Object.prototype member is absent unless the token has it.
  const proto = normalize({
    id: 'q',
    preset: 'custom',
    issuer: 'https://x.example',
    audience: 'a',
    claims: { org: 'acme', constructor: '**x' },
    grant,
  });
  assert.equal(policyFailures(proto, { aud: 'a', org: 'acme' }, OWNERS).length, 1);
});
