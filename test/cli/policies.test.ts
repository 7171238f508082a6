/**
 * `latchkey policies` with the compiled binary against the running Worker (real workerd):
 * a policy written as a JSON file is created, listed, tried with `policies test` (exit 0
 * when the exchange would issue, 1 when it would refuse, each failing condition named),
 * used by `latchkey ci exchange`, and deleted; then the same job is refused.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GITHUB, octoRepoPolicy } from '../fixtures/ci-claims.ts';
import { buildCli, cleanEnv, runCli, tempConfigDir } from '../fixtures/cli-runner.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let github: FakeCiIssuer;
let home: string;
let owner: Record<string, string>;

before(async () => {
  buildCli();
  github = await startFakeCiIssuer({ defaultClaims: GITHUB.branchPush });
  worker = await startWorker({ LATCHKEY_CI_ISSUERS: `${github.issuer}=repository_owner_id` }, { target: 'workerd-kv' });
  home = await tempConfigDir();
  const token = (await deviceLogin(worker.url, 'owner@policies.example')).access_token;
  owner = cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: home, LATCHKEY_SERVER: worker.url, LATCHKEY_TOKEN: token });
  for (const args of [
    ['orgs', 'create', 'acme'],
    ['projects', 'create', 'web'],
  ]) {
    const result = await runCli(args, owner);
    assert.equal(result.code, 0, result.stderr);
  }
});
after(async () => {
  await worker?.stop();
  await github?.stop();
});

async function ok(args: string[], env = owner, stdin?: string) {
  const result = await runCli(args, env, stdin);
  assert.equal(result.code, 0, `latchkey ${args.join(' ')}: ${result.stderr}`);
  return result;
}
/** An ID token as a job of acme requests it: for acme's audience. */
const signForAcme = (claims: Record<string, unknown>) => github.sign(claims, { audience: `${worker.url}/orgs/acme` });
const exchange = (idToken: string) =>
  runCli(
    ['ci', 'exchange', '--id-token-stdin', '--project', 'web'],
    cleanEnv({ HOME: home, LATCHKEY_SERVER: worker.url }),
    idToken,
  );

describe('policies', () => {
  test('create from a file, list, test, exchange, delete', async () => {
    const file = join(home, 'policy.json');
    // Written without an audience: an org's policies take the org's own.
    const { audience: _audience, ...policy } = octoRepoPolicy(github.issuer, '', {
      id: 'octo-main',
      ref: 'refs/heads/main',
      grant: { project: 'web', scopes: ['read'] },
    });
    await writeFile(file, JSON.stringify(policy, null, 2));
    const created = await ok(['policies', 'create', '--file', file]);
    assert.match(created.stderr, /Created trust policy octo-main in acme: .*ref=refs\/heads\/main.* project web/);

    const table = (await ok(['policies', 'list'])).stdout;
    assert.match(table, /^ID\s+PROJECT\s+SCOPES\s+ISSUER\s+CONDITIONS\s+SET BY\n/);
    assert.match(
      table,
      /octo-main\s+web\s+read\s+http:\/\/127\.0\.0\.1:\d+\s+aud=http:\/\/127\.0\.0\.1:\d+\/orgs\/acme .*owner@policies\.example/,
    );
    const listed = JSON.parse((await ok(['policies', 'list', '--json'])).stdout) as { id: string; source: string }[];
    assert.deepEqual(
      listed.map((entry) => [entry.id, entry.source]),
      [['octo-main', 'api']],
    );

    const feature = await signForAcme(GITHUB.featurePush);
    const refused = await runCli(['policies', 'test', '--id-token-stdin', '--project', 'web'], owner, feature);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /octo-main: no — ref is "refs\/heads\/feature-1", wants "refs\/heads\/main"/);
    assert.match(refused.stderr, /Would refuse: invalid_grant/);

    const main = await signForAcme(GITHUB.branchPush);
    const tokenFile = join(home, 'id-token');
    await writeFile(tokenFile, `${main}\n`);
    const passed = await ok(['policies', 'test', '--file', tokenFile, '--json']);
    assert.deepEqual(JSON.parse(passed.stdout).would_issue, {
      policy: 'octo-main',
      org: 'acme',
      project: 'web',
      scope: 'read',
      expires_in: 600,
    });
    const exchanged = await exchange(main);
    assert.equal(exchanged.code, 0, `the test spent nothing: ${exchanged.stderr}`);
    assert.match(exchanged.stdout, /^eyJ/);

    // On a GitHub runner, --org makes the CLI ask for the org's audience, as its policies need.
    const runner = cleanEnv({
      HOME: home,
      LATCHKEY_SERVER: worker.url,
      GITHUB_ACTIONS: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: github.actions.url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: github.actions.token,
    });
    const withoutOrg = await runCli(['ci', 'exchange', '--project', 'web'], runner);
    assert.equal(withoutOrg.code, 3, 'the server URL as audience matches no org policy');
    const withOrg = await runCli(['ci', 'exchange', '--project', 'web', '--org', 'acme', '--json'], runner);
    assert.equal(withOrg.code, 0, withOrg.stderr);
    assert.equal(JSON.parse(withOrg.stdout).source, 'github-actions');

    const unconfirmed = await runCli(['policies', 'delete', 'octo-main'], owner);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /--confirm/);
    await ok(['policies', 'delete', 'octo-main', '--confirm']);
    const after = await exchange(await signForAcme(GITHUB.branchPush));
    assert.equal(after.code, 3, after.stderr);
    assert.match(after.stderr, /the exchange was refused/);
    assert.match((await ok(['policies', 'list'])).stderr, /No trust policies in acme/);
  });

  test('a bad policy file is refused in plain words; nothing is created', async () => {
    const missing = await runCli(['policies', 'create', '--file', join(home, 'nope.json')], owner);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no file .*nope\.json/);
    const notJson = await runCli(['policies', 'create', '--file', '-'], owner, '{ preset: github');
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /stdin is not JSON/);
    const tooBroad = await runCli(
      ['policies', 'create', '--file', '-'],
      owner,
      JSON.stringify({
        id: 'broad',
        preset: 'github-actions',
        issuer: github.issuer,
        repository: 'octo-org/octo-repo',
        repository_owner_id: '65',
        grant: { project: 'web', scopes: ['read'] },
      }),
    );
    assert.equal(tooBroad.code, 1, tooBroad.stderr);
    assert.match(tooBroad.stderr, /give repository_id for octo-org\/octo-repo/);
    const usage = await runCli(['policies', 'test'], owner);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--id-token-stdin \| --file/);
  });
});
