/**
 * RFC 8693 token exchange over HTTP: CI tokens from two fake issuers (GitHub-shaped and
 * GitLab-shaped, claims from their documentation) traded under trust policies, every
 * refusal with its reason, the presets matched against recorded claim sets through the
 * operators' dry-run, and a latchkey access token narrowed to one project: only within what
 * its subject may reach, and never outliving the revocation of a token it came from.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TOKEN_TYPE } from '../../shared/schemas.ts';
import { GITHUB, GITLAB, myProjectPolicy, octoRepoPolicy } from '../fixtures/ci-claims.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { CLIENT_ID, deviceLogin, exchangeIdToken, FormBrowser, pollToken, postForm } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const AUDIENCE = 'https://latchkey.test';
let github: FakeCiIssuer;
let gitlab: FakeCiIssuer;
let untrusted: FakeCiIssuer;
let server: RunningWorker;
let operator: string;

before(async () => {
  [github, gitlab, untrusted] = await Promise.all([startFakeCiIssuer(), startFakeCiIssuer(), startFakeCiIssuer()]);
  const policies = [
    octoRepoPolicy(github.issuer, AUDIENCE, {
      id: 'octo-main',
      ref: 'refs/heads/main',
      grant: { project: 'web', scopes: ['read', 'write'], max_ttl: 300 },
    }),
    octoRepoPolicy(github.issuer, AUDIENCE, {
      id: 'octo-releases',
      ref: 'refs/tags/v*',
      grant: { project: 'releases', scopes: ['read', 'write'] },
    }),
    octoRepoPolicy(github.issuer, AUDIENCE, {
      id: 'octo-prod',
      environment: 'prod',
      grant: { project: 'deploy', scopes: ['read', 'write', 'admin'] },
    }),
    {
      id: 'octo-automation',
      preset: 'github-actions',
      issuer: github.issuer,
      audience: AUDIENCE,
      repository: 'octo-org/*',
      repository_owner_id: '65',
      job_workflow_ref: 'octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main',
      grant: { project: 'shared', scopes: ['read'] },
    },
    myProjectPolicy(gitlab.issuer, AUDIENCE, {
      id: 'gitlab-protected',
      ref_type: 'branch',
      ref_protected: true,
      grant: { project: 'web', scopes: ['read'] },
    }),
    myProjectPolicy(gitlab.issuer, AUDIENCE, {
      id: 'gitlab-production',
      environment: 'production',
      grant: { project: 'deploy', scopes: ['read', 'write'] },
    }),
  ];
  server = await startWorker({
    LATCHKEY_CI_ISSUERS: `${github.issuer}=repository_owner_id,${gitlab.issuer}=namespace_id`,
    LATCHKEY_CI_POLICIES: JSON.stringify(policies),
    LATCHKEY_OPERATORS: 'ops@example.com',
  });
  operator = (await deviceLogin(server.url, 'ops@example.com')).access_token;
});
after(async () => {
  await server?.stop();
  await Promise.all([github?.stop(), gitlab?.stop(), untrusted?.stop()]);
});

const exchange = (subjectToken: string, extra: Record<string, string> = {}) => exchangeIdToken(server.url, subjectToken, extra);
/** The same grant with a latchkey access token as the subject: down-scoping. */
const narrow = (subjectToken: string, extra: Record<string, string> = {}) =>
  exchangeIdToken(server.url, subjectToken, { subject_token_type: TOKEN_TYPE.accessToken, ...extra });
const me = async (token: string) => {
  const response = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
};
/** POSTs a JSON body to the /v1 API as `bearer`, and insists it worked. */
const v1 = async (bearer: string, path: string, body: Record<string, unknown>) => {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(response.status < 300, `${path}: ${response.status} ${await response.text()}`);
};
/** An org owned by `owner` (an access token) with these projects. */
const orgWith = async (owner: string, slug: string, projects: string[]) => {
  await v1(owner, '/v1/orgs', { slug });
  for (const project of projects) await v1(owner, `/v1/orgs/${slug}/projects`, { slug: project });
};
const projectUri = (org: string, project: string) => `${server.url}/orgs/${org}/projects/${project}`;
const dryRun = (token: string, project?: string, bearer = operator) =>
  postForm(
    `${server.url}/v1/trust-policies/dry-run`,
    { subject_token: token, ...(project ? { audience: project } : {}) },
    { authorization: `Bearer ${bearer}` },
  );

describe('CI token exchange (RFC 8693)', () => {
  test('a push to main becomes a ci token for the policy’s project and scopes; /v1/me says so', async () => {
    const { status, json } = await exchange(await github.sign(GITHUB.branchPush), { audience: 'web' });
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.issued_token_type, TOKEN_TYPE.accessToken);
    assert.equal(json.token_type, 'Bearer');
    assert.equal(json.expires_in, 300, 'max_ttl of the policy');
    assert.equal(json.scope, 'read write');
    assert.equal(json.refresh_token, undefined);
    const who = await me(String(json.access_token));
    assert.equal(who.status, 200);
    assert.equal(who.json.kind, 'ci');
    assert.equal(who.json.project, 'web');
    assert.equal(who.json.scope, 'read write');
    assert.equal(who.json.sub, 'repo:octo-org/octo-repo:ref:refs/heads/main');
    assert.equal(who.json.session_id, null);
  });

  test('the project may be left out when only one matches; `resource` names it too', async () => {
    const left = await exchange(await github.sign(GITHUB.branchPush));
    assert.equal(left.status, 200, JSON.stringify(left.json));
    const resource = await exchange(await github.sign(GITHUB.branchPush), { resource: 'web', scope: 'read' });
    assert.equal(resource.status, 200, JSON.stringify(resource.json));
    assert.equal(resource.json.scope, 'read');
  });

  test('GitLab: a protected branch pipeline gets read on web', async () => {
    const { status, json } = await exchange(await gitlab.sign(GITLAB.protectedBranch), { audience: 'web' });
    assert.equal(status, 200, JSON.stringify(json));
    const who = await me(String(json.access_token));
    assert.deepEqual([who.json.kind, who.json.project, who.json.scope], ['ci', 'web', 'read']);
  });

  test('the same token twice: the second is a replay (jti), even across projects', async () => {
    const token = await github.sign(GITHUB.environment);
    assert.equal((await exchange(token, { audience: 'deploy' })).status, 200);
    const again = await exchange(token, { audience: 'deploy' });
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_grant');
    assert.match(String(again.json.error_description), /already exchanged.*jti/);
  });

  test('20 simultaneous exchanges of one token: exactly one succeeds', async () => {
    const token = await github.sign(GITHUB.branchPush);
    const results = await Promise.all(Array.from({ length: 20 }, () => exchange(token, { audience: 'web' })));
    assert.equal(results.filter((result) => result.status === 200).length, 1);
    for (const result of results) assert.ok(result.status === 200 || result.json.error === 'invalid_grant');
  });

  const refusals: [string, () => Promise<string>, Record<string, string>, string, RegExp][] = [
    [
      'no matching policy (a feature branch)',
      () => github.sign(GITHUB.featurePush),
      { audience: 'web' },
      'invalid_grant',
      /no trust policy for project "web" matches/,
    ],
    [
      'a re-created repository (new repository_id)',
      () => github.sign(GITHUB.recreatedRepository),
      { audience: 'web' },
      'invalid_grant',
      /no trust policy/,
    ],
    [
      'a look-alike repository name',
      () => github.sign(GITHUB.lookalike),
      { audience: 'web' },
      'invalid_grant',
      /no trust policy/,
    ],
    [
      'wrong audience',
      () => github.sign(GITHUB.branchPush, { audience: 'https://github.com/octo-org' }),
      { audience: 'web' },
      'invalid_grant',
      /audience \(aud\) is not one this server accepts/,
    ],
    ['expired', () => github.sign(GITHUB.branchPush, { expiresIn: -120 }), { audience: 'web' }, 'invalid_grant', /expired/],
    [
      'not valid yet',
      () => github.sign(GITHUB.branchPush, { notBefore: Math.floor(Date.now() / 1000) + 600 }),
      { audience: 'web' },
      'invalid_grant',
      /not valid yet/,
    ],
    [
      'signed by another key under a published kid',
      () => github.sign(GITHUB.branchPush, { key: 'foreign' }),
      { audience: 'web' },
      'invalid_grant',
      /signature does not verify/,
    ],
    [
      'signed by a key the issuer does not publish',
      () => github.sign(GITHUB.branchPush, { key: 'foreign', kid: 'not-published' }),
      { audience: 'web' },
      'invalid_grant',
      /key its issuer does not publish/,
    ],
    [
      'issuer not trusted',
      () => untrusted.sign(GITHUB.branchPush),
      { audience: 'web' },
      'invalid_grant',
      /issuer http:\/\/127\.0\.0\.1:\d+ is not trusted/,
    ],
    [
      'scope wider than the policy',
      () => github.sign(GITHUB.branchPush),
      { audience: 'web', scope: 'read admin' },
      'invalid_scope',
      /wider than the trust policy/,
    ],
    ['alg none', async () => github.signNone(GITHUB.branchPush), { audience: 'web' }, 'invalid_grant', /alg "none"/],
    [
      'HS256 keyed with the public key',
      () => github.signHs256WithPublicKey(GITHUB.branchPush),
      { audience: 'web' },
      'invalid_grant',
      /HS256, a shared-secret algorithm/,
    ],
    ['no jti', () => github.sign(GITHUB.branchPush, { jti: null }), { audience: 'web' }, 'invalid_grant', /no jti/],
    ['not a JWT', async () => 'not-a-jwt', { audience: 'web' }, 'invalid_grant', /not a JWT/],
    [
      'a project no policy grants',
      () => github.sign(GITHUB.branchPush),
      { audience: 'payroll' },
      'invalid_grant',
      /no trust policy for project "payroll"/,
    ],
    [
      'audience and resource disagree',
      () => github.sign(GITHUB.branchPush),
      { audience: 'web', resource: 'deploy' },
      'invalid_target',
      /different projects/,
    ],
  ];
  for (const [name, token, extra, error, description] of refusals) {
    test(`refused: ${name}`, async () => {
      const { status, json } = await exchange(await token(), extra);
      assert.equal(status, 400, JSON.stringify(json));
      assert.equal(json.error, error);
      assert.match(String(json.error_description), description);
    });
  }

  test('a refused exchange does not spend the token: fixed request, same token, succeeds', async () => {
    const token = await github.sign(GITHUB.branchPush);
    assert.equal((await exchange(token, { audience: 'web', scope: 'admin' })).json.error, 'invalid_scope');
    assert.equal((await exchange(token, { audience: 'web' })).status, 200);
  });

  test('the JWKS is fetched once while warm, and again when a token names a new kid', async () => {
    const before = github.jwksFetches();
    for (let i = 0; i < 3; i++)
      assert.equal((await exchange(await github.sign(GITHUB.branchPush), { audience: 'web' })).status, 200);
    assert.equal(github.jwksFetches(), before, 'warm cache: no fetch');
    await github.rotateKey();
    // The unknown-kid refetch waits out a 5 s cooldown since the last fetch.
    await new Promise((resolve) => setTimeout(resolve, 5200));
    const rotated = await exchange(await github.sign(GITHUB.branchPush), { audience: 'web' });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
    assert.equal(github.jwksFetches(), before + 1);
  });
});

describe('presets against recorded claim sets (dry-run)', () => {
  const cases: [string, () => Promise<string>, string[]][] = [
    ['GitHub push to main', () => github.sign(GITHUB.branchPush), ['octo-main']],
    ['GitHub push to a feature branch', () => github.sign(GITHUB.featurePush), []],
    ['GitHub tag', () => github.sign(GITHUB.tag), ['octo-releases']],
    ['GitHub pull request', () => github.sign(GITHUB.pullRequest), []],
    [
      'GitHub environment deployment (sub names the environment)',
      () => github.sign(GITHUB.environment),
      ['octo-main', 'octo-prod'],
    ],
    ['GitHub reusable workflow', () => github.sign(GITHUB.reusableWorkflow), ['octo-main', 'octo-automation']],
    ['GitHub re-created repository', () => github.sign(GITHUB.recreatedRepository), []],
    ['GitHub look-alike repository', () => github.sign(GITHUB.lookalike), []],
    ['GitLab protected branch', () => gitlab.sign(GITLAB.protectedBranch), ['gitlab-protected']],
    ['GitLab unprotected branch', () => gitlab.sign(GITLAB.unprotectedBranch), []],
    ['GitLab tag', () => gitlab.sign(GITLAB.tag), []],
    ['GitLab production environment', () => gitlab.sign(GITLAB.environment), ['gitlab-protected', 'gitlab-production']],
  ];
  for (const [name, token, expected] of cases) {
    test(`${name} -> ${expected.join(', ') || 'no policy'}`, async () => {
      const { status, json } = await dryRun(await token());
      assert.equal(status, 200, JSON.stringify(json));
      const results = json.policies as { id: string; matched: boolean; failed: { claim: string }[] }[];
      assert.deepEqual(
        results.filter((result) => result.matched).map((result) => result.id),
        expected,
      );
    });
  }

  test('the dry-run names the failing condition, and spends nothing', async () => {
    const token = await github.sign(GITHUB.featurePush);
    const { json } = await dryRun(token, 'web');
    assert.deepEqual(json.policies, [
      {
        id: 'octo-main',
        org: null,
        matched: false,
        failed: [{ claim: 'ref', expected: 'refs/heads/main', actual: 'refs/heads/feature-1' }],
      },
    ]);
    assert.equal(json.would_issue, null);
    assert.match(String(json.would_refuse), /^invalid_grant: no trust policy for project "web"/);
    const good = await github.sign(GITHUB.branchPush);
    assert.deepEqual((await dryRun(good, 'web')).json.would_issue, {
      policy: 'octo-main',
      org: null,
      project: 'web',
      scope: 'read write',
      expires_in: 300,
    });
    assert.equal((await exchange(good, { audience: 'web' })).status, 200, 'the dry-run did not spend the jti');
  });

  test('the dry-run reports the refusal the exchange would give when policies for several projects match', async () => {
    const token = await github.sign(GITHUB.reusableWorkflow);
    const { json } = await dryRun(token);
    const matched = (json.policies as { id: string; matched: boolean }[]).filter((policy) => policy.matched);
    assert.deepEqual(
      matched.map((policy) => policy.id),
      ['octo-main', 'octo-automation'],
    );
    assert.equal(json.would_issue, null, 'the exchange would not pick one');
    assert.match(String(json.would_refuse), /^invalid_target: .*several projects/);
    const real = await exchange(token);
    assert.equal(real.json.error, 'invalid_target');
  });

  test('the dry-run explains an unverifiable token', async () => {
    const { json } = await dryRun(await untrusted.sign(GITHUB.branchPush));
    assert.equal((json.token as { trusted_issuer: boolean }).trusted_issuer, false);
    assert.match(String((json.token as { error: string }).error), /not trusted/);
  });

  test('only operators may dry-run', async () => {
    const someone = (await deviceLogin(server.url, 'dev@example.com')).access_token;
    const { status, json } = await dryRun(await github.sign(GITHUB.branchPush), undefined, someone);
    assert.equal(status, 403);
    assert.equal(json.error, 'forbidden');
    assert.match(String(json.error_description), /LATCHKEY_OPERATORS/);
    assert.equal((await dryRun('x', undefined, 'not-a-token')).status, 401);
  });
});

describe('narrowing a latchkey access token', () => {
  test('a person’s token becomes one bound to a project, with fewer scopes, no longer-lived', async () => {
    const login = await deviceLogin(server.url, 'narrow@example.com');
    await orgWith(login.access_token, 'narrow-co', ['web']);
    const { status, json } = await narrow(login.access_token, {
      audience: 'web',
      scope: 'read',
    });
    assert.equal(status, 200, JSON.stringify(json));
    const who = await me(String(json.access_token));
    assert.deepEqual(
      [who.json.kind, who.json.org, who.json.project, who.json.scope, who.json.email],
      ['user', 'narrow-co', 'web', 'read', 'narrow@example.com'],
    );
    assert.ok(Number(json.expires_in) <= login.expires_in);

    const wider = await narrow(String(json.access_token), {
      scope: 'read write',
    });
    assert.equal(wider.json.error, 'invalid_scope');
    const elsewhere = await narrow(String(json.access_token), {
      audience: 'deploy',
    });
    assert.equal(elsewhere.json.error, 'invalid_target');

    // Ending the session ends the narrowed token too (its sid carried over).
    await postForm(`${server.url}/oauth/revoke`, { token: login.refresh_token });
    assert.equal((await me(String(json.access_token))).status, 401);
  });

  test('a CI token is not accepted as a latchkey access token, nor a junk one', async () => {
    const { json } = await narrow(await github.sign(GITHUB.branchPush), {
      audience: 'web',
    });
    assert.equal(json.error, 'invalid_grant');
  });
});

describe('narrowing stays within what its subject may reach', () => {
  const token = (answer: { status: number; json: Record<string, unknown> }) => {
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    return String(answer.json.access_token);
  };
  let owner: string;
  let both: string;
  before(async () => {
    owner = (await deviceLogin(server.url, 'reach-owner@example.com')).access_token;
    both = (await deviceLogin(server.url, 'two-orgs@example.com')).access_token;
    await orgWith(owner, 'reach-a', ['prod-db', 'app']);
    await orgWith(both, 'reach-b', ['app']);
    await orgWith(both, 'reach-c', ['app', 'docs']);
  });

  test('a person outside the project’s org cannot narrow to it, by slug or by its URI', async () => {
    const outsider = (await deviceLogin(server.url, 'reach-outsider@example.com')).access_token;
    for (const audience of ['prod-db', projectUri('reach-a', 'prod-db'), 'no-such-project', projectUri('nope', 'x')]) {
      const { status, json } = await narrow(outsider, { audience });
      assert.equal(status, 400, `${audience}: ${JSON.stringify(json)}`);
      assert.equal(json.error, 'invalid_target', audience);
    }
    const resource = await narrow(outsider, { resource: projectUri('reach-a', 'prod-db') });
    assert.equal(resource.json.error, 'invalid_target');
    // The owner's own token reaches it, and the org is in the narrowed token.
    const mine = await me(token(await narrow(owner, { audience: 'prod-db', scope: 'read' })));
    assert.deepEqual([mine.json.org, mine.json.project, mine.json.scope], ['reach-a', 'prod-db', 'read']);
  });

  test('a slug several of your orgs use must be named with its org; then the org is the named one', async () => {
    const ambiguous = await narrow(both, { audience: 'app' });
    assert.equal(ambiguous.json.error, 'invalid_target');
    assert.match(String(ambiguous.json.error_description), /several of your orgs.*\/orgs\/<org>\/projects\/app/);
    const named = await me(token(await narrow(both, { audience: projectUri('reach-c', 'app') })));
    assert.deepEqual([named.json.org, named.json.project], ['reach-c', 'app']);
    const unique = await me(token(await narrow(both, { audience: 'docs' })));
    assert.deepEqual([unique.json.org, unique.json.project], ['reach-c', 'docs']);
    // A URI of another server names nothing here; one that names no project is malformed.
    const elsewhere = await narrow(both, { audience: 'https://elsewhere.example/orgs/reach-c/projects/app' });
    assert.equal(elsewhere.json.error, 'invalid_target');
    assert.equal((await narrow(both, { audience: `${server.url}/orgs/reach-c/keys/app` })).json.error, 'invalid_request');
  });

  test('a narrowed token cannot leave its org, nor its project', async () => {
    const inC = token(await narrow(both, { audience: projectUri('reach-c', 'app') }));
    const otherOrg = await narrow(inC, { audience: projectUri('reach-b', 'app') });
    assert.equal(otherOrg.json.error, 'invalid_target');
    assert.match(String(otherOrg.json.error_description), /bound to org "reach-c"/);
    assert.equal((await narrow(inC, { audience: 'docs' })).json.error, 'invalid_target');
    const again = await me(token(await narrow(inC, { audience: projectUri('reach-c', 'app'), scope: 'read' })));
    assert.deepEqual([again.json.org, again.json.project, again.json.scope], ['reach-c', 'app', 'read']);
  });

  test('a sign-in established for one org narrows only within that org', async () => {
    const started = (await postForm(`${server.url}/oauth/device_authorization`, { client_id: CLIENT_ID, org: 'reach-b' })).json;
    await new FormBrowser(server.url).decide(String(started.user_code), 'approve', 'two-orgs@example.com');
    const forB = String((await pollToken(server.url, String(started.device_code))).json.access_token);
    assert.equal((await me(forB)).json.org, 'reach-b');
    const app = await me(token(await narrow(forB, { audience: 'app' })));
    assert.deepEqual([app.json.org, app.json.project], ['reach-b', 'app'], 'not ambiguous: the session names its org');
    for (const audience of ['docs', projectUri('reach-c', 'app')]) {
      assert.equal((await narrow(forB, { audience })).json.error, 'invalid_target', audience);
    }
  });

  test('a CI token narrows only within its own project, and names no org it is not in', async () => {
    const ci = token(await exchange(await github.sign(GITHUB.branchPush), { audience: 'web' }));
    const child = await me(token(await narrow(ci, { scope: 'read' })));
    assert.deepEqual([child.json.kind, child.json.org, child.json.project, child.json.scope], ['ci', null, 'web', 'read']);
    assert.equal((await narrow(ci, { audience: 'prod-db' })).json.error, 'invalid_target');
    assert.equal((await narrow(ci, { audience: projectUri('reach-a', 'web') })).json.error, 'invalid_target');
  });

  test('a CI exchange naming an org considers only that org’s policies', async () => {
    // The operator's policy for "web" belongs to no org, so naming one matches nothing.
    const named = await exchange(await github.sign(GITHUB.branchPush), { audience: projectUri('reach-a', 'web') });
    assert.equal(named.json.error, 'invalid_grant');
    assert.match(String(named.json.error_description), /no trust policy for project "web"/);
    const foreign = await exchange(await github.sign(GITHUB.branchPush), {
      resource: 'https://elsewhere.example/orgs/a/projects/web',
    });
    assert.equal(foreign.json.error, 'invalid_target');
  });
});

describe('revoking a token reaches every token narrowed from it', () => {
  const revoke = (token: string) => postForm(`${server.url}/oauth/revoke`, { token });
  const introspect = async (token: string, bearer: string) =>
    (await postForm(`${server.url}/oauth/introspect`, { token }, { authorization: `Bearer ${bearer}` })).json.active;
  const narrowed = async (subject: string, extra: Record<string, string> = {}) => {
    const { status, json } = await narrow(subject, extra);
    assert.equal(status, 200, JSON.stringify(json));
    return String(json.access_token);
  };
  let person: string;
  before(async () => {
    person = (await deviceLogin(server.url, 'chain@example.com')).access_token;
    await orgWith(person, 'chain-co', ['web']);
  });

  test('a person’s token revoked (RFC 7009): its child and grandchild are refused on /v1/me and by introspection', async () => {
    const parent = (await deviceLogin(server.url, 'chain@example.com')).access_token;
    const child = await narrowed(parent, { audience: 'web' });
    const grandchild = await narrowed(child, { scope: 'read' });
    assert.equal(await introspect(grandchild, person), true);
    assert.equal((await revoke(parent)).status, 200);
    for (const token of [parent, child, grandchild]) {
      const who = await me(token);
      assert.equal(who.status, 401, JSON.stringify(who.json));
      assert.equal(await introspect(token, person), false);
    }
    assert.match(String((await me(grandchild)).json.error_description), /narrowed from was revoked/);
    assert.equal((await narrow(child, { scope: 'read' })).json.error, 'invalid_grant', 'nor can it be narrowed again');
    assert.equal((await me(person)).status, 200, 'the session and its other tokens live on');
  });

  test('revoking the middle of a chain refuses what was narrowed from it, not what it came from', async () => {
    const parent = (await deviceLogin(server.url, 'chain@example.com')).access_token;
    const child = await narrowed(parent, { audience: 'web' });
    const grandchild = await narrowed(child);
    await revoke(child);
    assert.equal((await me(grandchild)).status, 401);
    assert.equal((await me(parent)).status, 200);
  });

  test('revoking many tokens narrowed from a session refuses each, and never ends the session', async () => {
    // A session's own revoked tokens are kept in its record, and past 50 the session ends:
    // counted there, anyone holding one narrowed token could end its subject's session.
    const parent = (await deviceLogin(server.url, 'chain@example.com')).access_token;
    const child = await narrowed(parent, { audience: 'web' });
    const children = await Promise.all(Array.from({ length: 55 }, () => narrowed(child)));
    for (const token of children) assert.equal((await revoke(token)).status, 200);
    assert.equal((await me(parent)).status, 200, 'the session lives on');
    assert.equal((await me(child)).status, 200);
    for (const token of [children[0] as string, children[54] as string]) assert.equal((await me(token)).status, 401);
    await revoke(child);
    assert.equal((await me(child)).status, 401);
    assert.equal((await me(parent)).status, 200);
  });

  test('a CI token revoked: the token narrowed from it is refused too', async () => {
    const ci = String((await exchange(await github.sign(GITHUB.branchPush), { audience: 'web' })).json.access_token);
    const child = await narrowed(ci, { scope: 'read' });
    const grandchild = await narrowed(child);
    const sibling = String((await exchange(await github.sign(GITHUB.branchPush), { audience: 'web' })).json.access_token);
    assert.equal(await introspect(child, sibling), true);
    assert.equal((await revoke(ci)).status, 200);
    for (const token of [ci, child, grandchild]) {
      assert.equal((await me(token)).status, 401);
      assert.equal(await introspect(token, sibling), false);
    }
    assert.equal((await me(sibling)).status, 200);
  });

  test('a token may be narrowed three times over, not four', async () => {
    let token = await narrowed(person, { audience: 'web' });
    for (let depth = 2; depth <= 3; depth++) token = await narrowed(token);
    const fourth = await narrow(token);
    assert.equal(fourth.status, 400);
    assert.equal(fourth.json.error, 'invalid_grant');
    assert.match(String(fourth.json.error_description), /narrowed 3 times already/);
  });
});
