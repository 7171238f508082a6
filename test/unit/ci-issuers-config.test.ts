/**
 * LATCHKEY_CI_ISSUERS declares, per issuer, the claim holding the immutable id of a token's
 * owner (`ISSUER=CLAIM`; GitHub Actions and gitlab.com have theirs built in), and the
 * operator's LATCHKEY_CI_POLICIES that do not pin it exactly stop start-up.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../worker/config.ts';

const loopback = { LATCHKEY_ISSUER: 'http://127.0.0.1:8787' };
const GITHUB = 'https://token.actions.githubusercontent.com';
const grant = { project: 'web', scopes: ['read'] };
const withPolicies = (issuers: string, policies: unknown[]) =>
  parseConfig({ ...loopback, LATCHKEY_CI_ISSUERS: issuers, LATCHKEY_CI_POLICIES: JSON.stringify(policies) });

test('GitHub Actions and gitlab.com need no declaration; others declare theirs after "="', () => {
  assert.deepEqual(parseConfig(loopback).ciOwnerClaims, {
    [GITHUB]: 'repository_owner_id',
    'https://gitlab.com': 'namespace_id',
  });
  const config = parseConfig({
    ...loopback,
    LATCHKEY_CI_ISSUERS: `${GITHUB}, https://ci.example.com/=tenant_id ,https://ghes.example.com/_services/token=repository_owner_id`,
  });
  assert.deepEqual(config.ciIssuers, [GITHUB, 'https://ci.example.com', 'https://ghes.example.com/_services/token']);
  assert.equal(config.ciOwnerClaims['https://ci.example.com'], 'tenant_id');
  assert.equal(config.ciOwnerClaims['https://ghes.example.com/_services/token'], 'repository_owner_id');
  assert.equal(config.ciOwnerClaims[GITHUB], 'repository_owner_id');
});

for (const entry of ['https://ci.example.com=', 'https://ci.example.com=not a claim', 'http://ci.example.com=tenant_id']) {
  test(`refused at start-up: LATCHKEY_CI_ISSUERS=${entry}`, () => {
    assert.throws(
      () => parseConfig({ ...loopback, LATCHKEY_CI_ISSUERS: entry }),
      (error: unknown) =>
        error instanceof ConfigError && /LATCHKEY_CI_ISSUERS\[0\]: expected .*=OWNER_ID_CLAIM/.test(error.message),
    );
  });
}

const custom = (issuer: string, claims: Record<string, string>) => ({
  id: 'ops',
  preset: 'custom',
  issuer,
  audience: 'https://latchkey.test',
  claims,
  grant,
});

test("the operator's policies must pin their issuer's owner id exactly, or the server does not start", () => {
  const refused: [string, unknown, RegExp][] = [
    [GITHUB, custom(GITHUB, { ref: 'refs/heads/main' }), /policy "ops": no condition pins an owner — give repository_owner_id/],
    [GITHUB, custom(GITHUB, { event_name: 'push' }), /give repository_owner_id/],
    [GITHUB, custom(GITHUB, { repository_owner_id: '1*' }), /repository_owner_id must be one exact value/],
    ['https://ci.example.com', custom('https://ci.example.com', { tenant_id: '1' }), /has no declared owner id claim/],
    ['https://ci.example.com=tenant_id', custom('https://ci.example.com', { project: 'x' }), /give tenant_id/],
  ];
  for (const [issuers, policy, reason] of refused) {
    assert.throws(
      () => withPolicies(issuers, [policy]),
      (error: unknown) =>
        error instanceof ConfigError && error.settings.includes('LATCHKEY_CI_POLICIES') && reason.test(error.message),
      JSON.stringify(policy),
    );
  }
});

test("the operator's policies that pin it start: custom ones, and a GitHub Enterprise Server preset", () => {
  const config = withPolicies('https://ci.example.com=tenant_id,https://ghes.example.com/_services/token', [
    { ...custom('https://ci.example.com', { tenant_id: '1', project: 'x*' }), id: 'tenant' },
    {
      id: 'ghes',
      preset: 'github-actions',
      issuer: 'https://ghes.example.com/_services/token',
      audience: 'https://latchkey.test',
      repository: 'acme/*',
      repository_owner_id: '9',
      grant,
    },
  ]);
  assert.deepEqual(
    config.ciPolicies.map((policy) => policy.id),
    ['tenant', 'ghes'],
  );
});
