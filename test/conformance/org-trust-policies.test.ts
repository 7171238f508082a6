/**
 * Trust policies held by an org, over HTTP: an admin creates one, a CI token from a fake
 * GitHub-shaped issuer, requested for the org's audience, is exchanged under it for a
 * token of the org's project, the org's dry-run explains a refusal, and once deleted the
 * policy admits nothing. Another org trusting the same repository gets only the tokens
 * requested for its own audience. Policies that would trust too much (pinning no owner id
 * exactly, or a preset on an issuer not declared with the preset's owner id claim), name
 * another org or audience, an untrusted issuer or an unknown project are
 * refused with a reason; the operator's LATCHKEY_CI_POLICIES show in the org's list but
 * cannot be deleted through it; each change is in the audit trail. Policies full of
 * wildcards against a long claim answer at once, and the server stays responsive.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GITHUB, octoRepoPolicy } from '../fixtures/ci-claims.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { addMember, deviceLogin, exchangeIdToken, postForm } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let github: FakeCiIssuer;
let untrusted: FakeCiIssuer;
/** Trusted, but with no owner id claim declared: custom policies cannot use it. */
let undeclared: FakeCiIssuer;
let server: RunningWorker;
let owner: string;
let member: string;

type Answer = { status: number; json: Record<string, unknown> };
async function call(method: string, path: string, bearer: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}
const exchange = (subjectToken: string, extra: Record<string, string> = {}) => exchangeIdToken(server.url, subjectToken, extra);
/** The audience an org's jobs request their ID tokens for: `<server>/orgs/<org>`. */
const audienceOf = (org: string) => `${server.url}/orgs/${org}`;
const signFor = (org: string, claims: Record<string, unknown>) => github.sign(claims, { audience: audienceOf(org) });
/** A custom policy for acme's project `web` on the GitHub-shaped issuer. */
const custom = (claims: Record<string, string>) => ({
  preset: 'custom',
  issuer: github.issuer,
  claims,
  grant: { project: 'web', scopes: ['read'] },
});
const mainOnly = (org = 'acme') =>
  octoRepoPolicy(github.issuer, audienceOf(org), {
    id: 'octo-main',
    description: 'deploys from main',
    ref: 'refs/heads/main',
    grant: { project: 'web', scopes: ['read', 'write'], max_ttl: 300 },
  });

before(async () => {
  [github, untrusted, undeclared] = await Promise.all([startFakeCiIssuer(), startFakeCiIssuer(), startFakeCiIssuer()]);
  server = await startWorker({
    // A GitHub Enterprise Server stand-in: its tokens' owner id is repository_owner_id.
    LATCHKEY_CI_ISSUERS: `${github.issuer}=repository_owner_id,${undeclared.issuer}`,
    // The operator's own policy for acme: listed to acme's admins, not deletable by them.
    LATCHKEY_CI_POLICIES: JSON.stringify([
      octoRepoPolicy(github.issuer, 'https://operator.test', {
        id: 'ops-set',
        org: 'acme',
        grant: { project: 'web', scopes: ['read'] },
      }),
    ]),
  });
  owner = (await deviceLogin(server.url, 'owner@example.com')).access_token;
  member = (await deviceLogin(server.url, 'member@example.com')).access_token;
  for (const [method, path, body] of [
    ['POST', '/v1/orgs', { slug: 'acme' }],
    ['POST', '/v1/orgs/acme/projects', { slug: 'web' }],
  ] as const) {
    const answer = await call(method, path, owner, body);
    assert.ok(answer.status < 300, JSON.stringify(answer));
  }
  await addMember(server.url, owner, 'acme', 'member@example.com', 'member', member);
});
after(async () => {
  await server?.stop();
  await Promise.all([github?.stop(), untrusted?.stop(), undeclared?.stop()]);
});

describe('org trust policies', () => {
  test('created by an admin, a policy admits matching CI tokens to the org’s project; deleted, it admits none', async () => {
    const before = await exchange(await signFor('acme', GITHUB.branchPush), { audience: 'web' });
    assert.equal(before.status, 400);
    assert.equal(before.json.error, 'invalid_grant');

    const { audience, ...withoutAudience } = mainOnly();
    assert.equal(audience, audienceOf('acme'));
    const created = await call('POST', '/v1/orgs/acme/trust-policies', owner, withoutAudience);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json.org, 'acme');
    assert.equal(created.json.source, 'api');
    assert.equal(created.json.created_by, 'owner@example.com');
    assert.equal(created.json.description, 'deploys from main');
    assert.equal(created.json.audience, audienceOf('acme'), "left out, the audience is the org's own");
    assert.deepEqual(created.json.claims, {
      repository: 'octo-org/octo-repo',
      repository_owner_id: '65',
      repository_id: '74',
      ref: 'refs/heads/main',
    });

    const listed = await call('GET', '/v1/orgs/acme/trust-policies', member);
    assert.equal(listed.status, 200);
    const policies = listed.json.policies as { id: string; source: string }[];
    assert.deepEqual(
      policies.map((policy) => [policy.id, policy.source]),
      [
        ['ops-set', 'config'],
        ['octo-main', 'api'],
      ],
    );

    const issued = await exchange(await signFor('acme', GITHUB.branchPush), { audience: 'web' });
    assert.equal(issued.status, 200, JSON.stringify(issued.json));
    assert.equal(issued.json.expires_in, 300);
    const me = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${issued.json.access_token}` } });
    const who = (await me.json()) as Record<string, unknown>;
    assert.equal(who.kind, 'ci');
    assert.equal(who.org, 'acme');
    assert.equal(who.project, 'web');

    const feature = await exchange(await signFor('acme', GITHUB.featurePush), { audience: 'web' });
    assert.equal(feature.status, 400, 'another branch does not match');

    const deleted = await call('DELETE', '/v1/orgs/acme/trust-policies/octo-main', owner);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.json));
    assert.equal(deleted.json.id, 'octo-main');
    const after = await exchange(await signFor('acme', GITHUB.branchPush), { audience: 'web' });
    assert.equal(after.status, 400, 'refused from the next exchange');
    assert.equal((await call('DELETE', '/v1/orgs/acme/trust-policies/octo-main', owner)).status, 404);

    const trail = await call('GET', '/v1/orgs/acme/audit', owner);
    const entries = trail.json.entries as { action: string; subject: string; actor: string; request_id: string }[];
    const changes = entries.filter((entry) => entry.action.startsWith('policy.'));
    assert.deepEqual(
      changes.map((entry) => [entry.action, entry.subject, entry.actor]),
      [
        ['policy.created', 'octo-main', 'owner@example.com'],
        ['policy.deleted', 'octo-main', 'owner@example.com'],
      ],
    );
  });

  test('a member may list but not create or delete; the operator’s policy cannot be deleted here', async () => {
    const refused = await call('POST', '/v1/orgs/acme/trust-policies', member, { ...mainOnly(), id: 'by-member' });
    assert.equal(refused.status, 403);
    assert.match(String(refused.json.error_description), /lacks policies:write/);
    const config = await call('DELETE', '/v1/orgs/acme/trust-policies/ops-set', owner);
    assert.equal(config.status, 409);
    assert.match(String(config.json.error_description), /LATCHKEY_CI_POLICIES/);
    const outsider = (await deviceLogin(server.url, 'outsider@example.com')).access_token;
    assert.equal((await call('GET', '/v1/orgs/acme/trust-policies', outsider)).status, 404);
  });

  const refusals: [string, () => unknown, number, RegExp][] = [
    [
      'a single repository without its id',
      () => {
        const { repository_id: _id, ...rest } = mainOnly();
        return { ...rest, id: 'no-id' };
      },
      400,
      /give repository_id/,
    ],
    ['another org named inside', () => ({ ...mainOnly(), id: 'elsewhere', org: 'globex' }), 400, /names org "globex"/],
    [
      "another org's audience",
      () => ({ ...mainOnly('globex'), id: 'theirs' }),
      400,
      /use the org's own audience: "http:\/\/127\.0\.0\.1:\d+\/orgs\/acme"/,
    ],
    [
      'an audience of its own choosing',
      () => ({ ...mainOnly(), id: 'mine', audience: 'https://latchkey.test' }),
      400,
      /the org's own audience/,
    ],
    [
      // GitHub Actions' own issuer, whose owner id claim is known, is not among this server's.
      'an issuer the server does not trust',
      () => ({ ...mainOnly(), id: 'untrusted', issuer: 'https://token.actions.githubusercontent.com' }),
      400,
      /does not trust tokens from https:\/\/token\.actions\.githubusercontent\.com; .*LATCHKEY_CI_ISSUERS/,
    ],
    [
      'an issuer the server does not trust, nor declare an owner id claim for',
      () => ({ ...mainOnly(), id: 'untrusted', issuer: untrusted.issuer }),
      400,
      /LATCHKEY_CI_ISSUERS/,
    ],
    // The same preset as mainOnly(), on a trusted issuer that does not declare
    // =repository_owner_id: its users might set that claim to anything.
    [
      'the GitHub preset on a trusted issuer that declares no owner id claim',
      () => ({ ...mainOnly(), id: 'generic', issuer: undeclared.issuer }),
      400,
      /the github-actions preset's repository_owner_id is an owner id only on https:\/\/token\.actions\.githubusercontent\.com or an issuer the operator declares with it; http:\/\/127\.0\.0\.1:\d+ declares no owner id claim.*LATCHKEY_CI_ISSUERS \(http:\/\/127\.0\.0\.1:\d+=repository_owner_id\)/,
    ],
    [
      'a project the org does not have',
      () => ({ ...mainOnly(), id: 'nowhere', grant: { project: 'api', scopes: ['read'] } }),
      404,
      /no project "api"/,
    ],
    [
      'a custom policy matching every subject',
      () => ({
        id: 'wide',
        preset: 'custom',
        issuer: github.issuer,
        claims: { sub: '**' },
        grant: { project: 'web', scopes: ['read'] },
      }),
      400,
      /matches everything/,
    ],
    // Exact values every owner's jobs share: any repository may ask for acme's audience.
    [
      'a custom policy on one exact branch',
      () => ({ ...custom({ ref: 'refs/heads/main' }), id: 'branch' }),
      400,
      /no condition pins an owner — give repository_owner_id, the immutable id of the owner/,
    ],
    [
      'a custom policy on one exact event',
      () => ({ ...custom({ event_name: 'push' }), id: 'event' }),
      400,
      /give repository_owner_id/,
    ],
    [
      'a custom policy on a repository name and id, no owner id',
      () => ({ ...custom({ repository: 'octo-org/octo-repo', repository_id: '74' }), id: 'named' }),
      400,
      /give repository_owner_id/,
    ],
    [
      'a custom policy with a glob for the owner id',
      () => ({ ...custom({ repository_owner_id: '6*', ref: 'refs/heads/main' }), id: 'globbed' }),
      400,
      /repository_owner_id must be one exact value/,
    ],
    [
      'a custom policy on an issuer that declares no owner id claim',
      () => ({ ...custom({ repository_owner_id: '65' }), id: 'undeclared', issuer: undeclared.issuer }),
      400,
      /has no declared owner id claim.*LATCHKEY_CI_ISSUERS/,
    ],
    ['an unknown field', () => ({ ...mainOnly(), id: 'extra', reviewer: 'me' }), 400, /reviewer|unrecognized/i],
    ['the id of an existing policy', () => ({ ...mainOnly(), id: 'ops-set' }), 409, /already has a trust policy "ops-set"/],
  ];
  for (const [name, body, status, message] of refusals) {
    test(`refused: ${name} (${status})`, async () => {
      const answer = await call('POST', '/v1/orgs/acme/trust-policies', owner, body());
      assert.equal(answer.status, status, JSON.stringify(answer.json));
      assert.match(String(answer.json.error_description), message);
    });
  }

  test('a policy must be sent as JSON', async () => {
    const response = await postForm(
      `${server.url}/v1/orgs/acme/trust-policies`,
      { id: 'x' },
      { authorization: `Bearer ${owner}` },
    );
    assert.equal(response.status, 415);
  });

  test('the same id twice at once: exactly one is created', async () => {
    const policy = { ...mainOnly(), id: 'raced' };
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => call('POST', '/v1/orgs/acme/trust-policies', owner, policy)),
    );
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [201, 409, 409, 409]);
    assert.equal((await call('DELETE', '/v1/orgs/acme/trust-policies/raced', owner)).status, 200);
  });

  test('the org’s dry-run shows each of its policies’ failing conditions and the decision, spending nothing', async () => {
    assert.equal((await call('POST', '/v1/orgs/acme/trust-policies', owner, { ...mainOnly(), id: 'dry' })).status, 201);
    const feature = await signFor('acme', GITHUB.featurePush);
    const missed = await call('POST', '/v1/orgs/acme/trust-policies/dry-run', member, {
      subject_token: feature,
      audience: 'web',
    });
    assert.equal(missed.status, 200, JSON.stringify(missed.json));
    const policies = missed.json.policies as { id: string; org: string; matched: boolean; failed: { claim: string }[] }[];
    const dry = policies.find((policy) => policy.id === 'dry');
    assert.deepEqual(
      dry?.failed.map((failure) => failure.claim),
      ['ref'],
    );
    assert.equal(dry?.org, 'acme');
    assert.equal(missed.json.would_issue, null);
    assert.match(String(missed.json.would_refuse), /^invalid_grant: no trust policy for project "web"/);

    const main = await signFor('acme', GITHUB.branchPush);
    const hit = await call('POST', '/v1/orgs/acme/trust-policies/dry-run', member, { subject_token: main });
    assert.deepEqual(hit.json.would_issue, { policy: 'dry', org: 'acme', project: 'web', scope: 'read write', expires_in: 300 });
    assert.equal(hit.json.would_refuse, null);
    assert.equal((await exchange(main, { audience: 'web' })).status, 200, 'the dry-run did not spend the jti');
    assert.equal((await call('DELETE', '/v1/orgs/acme/trust-policies/dry', owner)).status, 200);
  });

  test('another org trusting the same repository gets only the tokens requested for its audience, never acme’s', async () => {
    const other = (await deviceLogin(server.url, 'globex@example.com')).access_token;
    assert.equal((await call('POST', '/v1/orgs', other, { slug: 'globex' })).status, 201);
    assert.equal((await call('POST', '/v1/orgs/globex/projects', other, { slug: 'web' })).status, 201);
    // globex names acme's repository, even a wider set of its refs than acme does.
    const anyRef = { ...mainOnly('globex'), ref: undefined };
    assert.equal((await call('POST', '/v1/orgs/globex/trust-policies', other, anyRef)).status, 201);
    assert.equal((await call('POST', '/v1/orgs/acme/trust-policies', owner, mainOnly())).status, 201);

    const project = async (answer: Awaited<ReturnType<typeof exchange>>) => {
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      const me = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${answer.json.access_token}` } });
      const who = (await me.json()) as { org: string; project: string };
      return `${who.org}/${who.project}`;
    };
    assert.equal(await project(await exchange(await signFor('acme', GITHUB.branchPush), { audience: 'web' })), 'acme/web');
    const feature = await exchange(await signFor('acme', GITHUB.featurePush), { audience: 'web' });
    assert.equal(feature.status, 400, "acme's job on another branch is not handed globex's project");
    assert.equal(await project(await exchange(await signFor('globex', GITHUB.featurePush))), 'globex/web');

    // The same job's tokens under each org share the runner's subject, but are not each
    // other's: neither learns about the other by introspection.
    const tokenFor = async (org: string, extra: Record<string, string>) => {
      const answer = await exchange(await signFor(org, GITHUB.branchPush), extra);
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      return String(answer.json.access_token);
    };
    const [acmeJob, globexJob] = [await tokenFor('acme', { audience: 'web' }), await tokenFor('globex', {})];
    const introspect = async (bearer: string, token: string) =>
      (await postForm(`${server.url}/oauth/introspect`, { token }, { authorization: `Bearer ${bearer}` })).json;
    assert.deepEqual(await introspect(acmeJob, globexJob), { active: false });
    assert.deepEqual(await introspect(globexJob, acmeJob), { active: false });
    assert.equal((await introspect(acmeJob, acmeJob)).active, true);

    const globex = (await call('GET', '/v1/orgs/globex/trust-policies', other)).json.policies as { org: string }[];
    assert.deepEqual(
      globex.map((policy) => policy.org),
      ['globex'],
    );
    const acmeDryRun = await call('POST', '/v1/orgs/acme/trust-policies/dry-run', owner, {
      subject_token: await signFor('globex', GITHUB.branchPush),
    });
    const shown = acmeDryRun.json.policies as { id: string; org: string }[];
    assert.deepEqual(
      shown.map((policy) => `${policy.org}/${policy.id}`),
      ['acme/ops-set'],
      "acme's dry-run shows only acme's policies",
    );
    assert.equal(acmeDryRun.json.would_issue, null);
    assert.equal((await call('DELETE', '/v1/orgs/acme/trust-policies/octo-main', owner)).status, 200);
  });

  test('the GitHub preset on an issuer declared =repository_owner_id is accepted and admits its owner’s jobs; undeclared, refused', async () => {
    const refused = await call('POST', '/v1/orgs/acme/trust-policies', owner, {
      ...mainOnly(),
      id: 'ghes',
      issuer: undeclared.issuer,
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.json));
    assert.match(String(refused.json.error_description), /preset's repository_owner_id is an owner id only on/);
    const minted = await exchange(await undeclared.sign(GITHUB.branchPush, { audience: audienceOf('acme') }), {
      audience: 'web',
    });
    assert.equal(minted.status, 400, 'nothing was stored for the undeclared issuer');

    // github.issuer stands in for GitHub Enterprise Server, declared with =repository_owner_id.
    const created = await call('POST', '/v1/orgs/acme/trust-policies', owner, { ...mainOnly(), id: 'ghes' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json.issuer, github.issuer);
    const ours = await exchange(await signFor('acme', GITHUB.branchPush), { audience: 'web' });
    assert.equal(ours.status, 200, JSON.stringify(ours.json));
    const theirs = await exchange(await signFor('acme', { ...GITHUB.branchPush, repository_owner_id: '66' }), {
      audience: 'web',
    });
    assert.equal(theirs.status, 400, 'another owner id does not match');
    assert.equal((await call('DELETE', '/v1/orgs/acme/trust-policies/ghes', owner)).status, 200);
  });

  test('a custom policy pinning the owner id admits that owner’s jobs, and another owner’s on the same branch never', async () => {
    const pinned = { ...custom({ repository_owner_id: '65', ref: 'refs/heads/main' }), id: 'pinned' };
    assert.equal((await call('POST', '/v1/orgs/acme/trust-policies', owner, pinned)).status, 201);
    const ours = await exchange(await signFor('acme', GITHUB.branchPush), { audience: 'web' });
    assert.equal(ours.status, 200, JSON.stringify(ours.json));
    const theirs = await exchange(await signFor('acme', GITHUB.otherOwner), { audience: 'web' });
    assert.equal(theirs.status, 400, JSON.stringify(theirs.json));
    assert.equal(theirs.json.error, 'invalid_grant');
    assert.equal((await call('DELETE', '/v1/orgs/acme/trust-policies/pinned', owner)).status, 200);
  });

  test('policies full of wildcards against a 4,000-character claim: refused at once, replayed, while /healthz answers', async () => {
    // 12 wildcards each; as regular expressions, each would backtrack for hours on this claim.
    const patterns = [
      `repo:a${'*a'.repeat(10)}*b*a`,
      `repo:${'a'.repeat(38)}${`*${'a'.repeat(38)}`.repeat(10)}*b*a`,
      `repo:**a${'*a'.repeat(9)}*b**a`,
    ];
    const ids = patterns.map((_, index) => `wild-${index}`);
    for (const [index, sub] of patterns.entries()) {
      const policy = { ...custom({ repository_owner_id: '65', sub }), id: ids[index] };
      const created = await call('POST', '/v1/orgs/acme/trust-policies', owner, policy);
      assert.equal(created.status, 201, JSON.stringify(created.json));
    }
    // Another owner's job: refused, so its jti is never spent and it may be sent again and again.
    const token = await signFor('acme', { repository_owner_id: '667', sub: `repo:${'a'.repeat(4000)}` });
    let pending = true;
    let slowestHealth = 0;
    const health = (async () => {
      while (pending) {
        const started = performance.now();
        const response = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(15_000) });
        await response.body?.cancel();
        slowestHealth = Math.max(slowestHealth, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const response = await fetch(`${server.url}/oauth/token`, {
          method: 'POST',
          body: new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            subject_token: token,
            subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
            audience: 'web',
          }),
          signal: AbortSignal.timeout(15_000),
        });
        return { status: response.status, json: (await response.json()) as Record<string, unknown> };
      }),
    ).finally(() => {
      pending = false;
    });
    const elapsed = performance.now() - started;
    await health;
    for (const answer of answers) {
      assert.equal(answer.status, 400, JSON.stringify(answer.json));
      assert.equal(answer.json.error, 'invalid_grant');
    }
    // Generous bounds for a busy machine: as regular expressions, the first exchange never ended.
    assert.ok(elapsed < 5000, `six exchanges took ${elapsed.toFixed(0)} ms`);
    assert.ok(slowestHealth < 2000, `/healthz took ${slowestHealth.toFixed(0)} ms meanwhile`);
    for (const id of ids) assert.equal((await call('DELETE', `/v1/orgs/acme/trust-policies/${id}`, owner)).status, 200);
  });
});
