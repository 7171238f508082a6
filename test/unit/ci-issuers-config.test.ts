/**
 * LATCHKEY_CI_ISSUERS declares, per issuer, the claim holding the immutable id of a token's
 * owner (`ISSUER=CLAIM`; GitHub Actions and gitlab.com have theirs built in), and the
 * operator's LATCHKEY_CI_POLICIES that do not pin it exactly stop start-up — a preset on
 * an issuer that does not declare the preset's own claim among them.
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

/** Each [LATCHKEY_CI_ISSUERS, policy, reason]: start-up refuses, naming LATCHKEY_CI_POLICIES and the reason. */
function refusesToStart(refused: [string, unknown, RegExp][]): void {
  for (const [issuers, policy, reason] of refused) {
    assert.throws(
      () => withPolicies(issuers, [policy]),
      (error: unknown) =>
        error instanceof ConfigError && error.settings.includes('LATCHKEY_CI_POLICIES') && reason.test(error.message),
      JSON.stringify(policy),
    );
  }
}

test("the operator's policies must pin their issuer's owner id exactly, or the server does not start", () => {
  const refused: [string, unknown, RegExp][] = [
    [GITHUB, custom(GITHUB, { ref: 'refs/heads/main' }), /policy "ops": no condition pins an owner — give repository_owner_id/],
    [GITHUB, custom(GITHUB, { event_name: 'push' }), /give repository_owner_id/],
    [GITHUB, custom(GITHUB, { repository_owner_id: '1*' }), /repository_owner_id must be one exact value/],
    ['https://ci.example.com', custom('https://ci.example.com', { tenant_id: '1' }), /has no declared owner id claim/],
    ['https://ci.example.com=tenant_id', custom('https://ci.example.com', { project: 'x' }), /give tenant_id/],
  ];
  refusesToStart(refused);
});

const GHES = 'https://ghes.example.com/_services/token';
const ghesPreset = (issuer: string) => ({
  id: 'ghes',
  preset: 'github-actions',
  issuer,
  audience: 'https://latchkey.test',
  repository: 'acme/*',
  repository_owner_id: '9',
  grant,
});

test("a preset on an issuer that does not declare the preset's owner id claim stops start-up", () => {
  // A generic issuer may let its users set repository_owner_id freely.
  const refused: [string, unknown, RegExp][] = [
    [
      GHES,
      ghesPreset(GHES),
      /policy "ghes": the github-actions preset's repository_owner_id is an owner id only on https:\/\/token\.actions\.githubusercontent\.com or an issuer the operator declares with it; .*LATCHKEY_CI_ISSUERS \(https:\/\/ghes\.example\.com\/_services\/token=repository_owner_id\)/,
    ],
    ['https://ci.generic.example', ghesPreset('https://ci.generic.example'), /declares no owner id claim/],
    [
      'https://gitlab.example.com',
      {
        id: 'gl',
        preset: 'gitlab',
        issuer: 'https://gitlab.example.com',
        audience: 'https://latchkey.test',
        project_path: 'g/*',
        namespace_id: '1',
        grant,
      },
      /the gitlab preset's namespace_id is an owner id only on https:\/\/gitlab\.com/,
    ],
    // Declared with another claim: that one is the owner id, and the preset does not pin it.
    [`${GHES}=enterprise_id`, ghesPreset(GHES), /give enterprise_id/],
  ];
  refusesToStart(refused);
});

test("the operator's policies that pin it start: custom ones, and a GitHub Enterprise Server preset declared so", () => {
  const config = withPolicies(`https://ci.example.com=tenant_id,${GHES}=repository_owner_id`, [
    { ...custom('https://ci.example.com', { tenant_id: '1', project: 'x*' }), id: 'tenant' },
    ghesPreset(GHES),
  ]);
  assert.deepEqual(
    config.ciPolicies.map((policy) => policy.id),
    ['tenant', 'ghes'],
  );
});
