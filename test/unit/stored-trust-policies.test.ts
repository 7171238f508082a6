/**
 * Org trust policies stored before every policy had to pin its issuer's owner id: the
 * exchange, run in process on a memory store seeded with such a record, refuses the tokens
 * they used to admit (another owner's job on the same branch), and the dry-run says which
 * condition is missing and that the policy must be re-created. A stored policy that pins
 * the owner id keeps working.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OAuthError } from '../../shared/errors.ts';
import type { TrustPolicy } from '../../shared/trust-policy.ts';
import { parseConfig } from '../../worker/config.ts';
import { dryRunCiToken, exchangeCiToken } from '../../worker/grants/token-exchange.ts';
import { servicesLoader } from '../../worker/services.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import { storeKey } from '../../worker/store/store.ts';
import { GITHUB } from '../fixtures/ci-claims.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';

const SERVER = 'http://127.0.0.1:8787';
const AUDIENCE = `${SERVER}/orgs/acme`;
let issuer: FakeCiIssuer;
before(async () => {
  issuer = await startFakeCiIssuer();
});
after(async () => {
  await issuer?.stop();
});

/** A policy as the org API kept it (worker/accounts/trust-policies.ts, one record per org). */
const stored = (id: string, claims: Record<string, string>): TrustPolicy => ({
  id,
  org: 'acme',
  preset: 'custom',
  description: null,
  issuer: issuer.issuer,
  audience: AUDIENCE,
  claims,
  grant: { project: 'web', scopes: ['read'] },
});

async function servicesWith(policies: TrustPolicy[]) {
  const config = parseConfig({
    LATCHKEY_ISSUER: SERVER,
    LATCHKEY_CI_ISSUERS: `${issuer.issuer}=repository_owner_id`,
  });
  const store = memoryStore();
  const record = policies.map((policy) => ({ policy, createdAt: 0, createdBy: 'owner@example.com' }));
  await store.put(storeKey('trustPolicies', 'acme'), JSON.stringify(record), 3600);
  return servicesLoader(config, { store })();
}

const exchange = async (services: Awaited<ReturnType<typeof servicesWith>>, claims: Record<string, unknown>) =>
  exchangeCiToken(services, {
    subjectToken: await issuer.sign(claims, { audience: AUDIENCE }),
    project: 'web',
    scope: undefined,
    clientId: 'latchkey-cli',
  });

test('a stored policy pinning no owner id admits no token, and the dry-run says why', async () => {
  const services = await servicesWith([stored('main-branch', { ref: 'refs/heads/main' })]);
  for (const claims of [GITHUB.otherOwner, GITHUB.branchPush]) {
    await assert.rejects(
      exchange(services, claims),
      (error: unknown) =>
        error instanceof OAuthError &&
        error.code === 'invalid_grant' &&
        /no trust policy for project "web" matches/.test(error.message),
    );
  }
  const report = await dryRunCiToken(services, await issuer.sign(GITHUB.otherOwner, { audience: AUDIENCE }), 'web', 'acme');
  assert.deepEqual(report.policies, [
    {
      id: 'main-branch',
      org: 'acme',
      matched: false,
      failed: [
        {
          claim: 'repository_owner_id',
          expected: 'one exact repository_owner_id pinned by the policy, which has none: it admits no token until re-created',
          actual: '667',
        },
      ],
    },
  ]);
  assert.equal(report.would_issue, null);
});

test('a stored policy whose owner id is a glob admits no token either', async () => {
  const services = await servicesWith([stored('globbed', { repository_owner_id: '6*', ref: 'refs/heads/main' })]);
  await assert.rejects(exchange(services, GITHUB.otherOwner), OAuthError);
  const report = await dryRunCiToken(services, await issuer.sign(GITHUB.branchPush, { audience: AUDIENCE }), 'web', 'acme');
  assert.match(report.policies[0]?.failed[0]?.expected ?? '', /has the glob "6\*": it admits no token until re-created/);
});

test('a stored policy pinning the owner id exactly keeps admitting its owner’s jobs, and only theirs', async () => {
  const services = await servicesWith([stored('pinned', { repository_owner_id: '65', ref: 'refs/heads/main' })]);
  await assert.rejects(exchange(services, GITHUB.otherOwner), OAuthError);
  const issued = await exchange(services, GITHUB.branchPush);
  assert.equal(issued.scope, 'read');
});
