/**
 * `latchkey ci exchange`, the compiled binary, against the running Worker and a fake CI
 * issuer: on "GitHub Actions" (the runner's ID-token endpoint is the fake's), on "GitLab"
 * (an id_tokens variable), and from standard input. The token it prints works on /v1/me
 * as a ci token of the policy's project; nothing is written to disk.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { GITHUB, GITLAB, myProjectPolicy, octoRepoPolicy } from '../fixtures/ci-claims.ts';
import { buildCli, cleanEnv, runCli, tempConfigDir } from '../fixtures/cli-runner.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const AUDIENCE = 'https://latchkey.test';
let github: FakeCiIssuer;
let gitlab: FakeCiIssuer;
let worker: RunningWorker;
let home: string;

before(async () => {
  buildCli();
  [github, gitlab] = await Promise.all([startFakeCiIssuer({ defaultClaims: GITHUB.branchPush }), startFakeCiIssuer()]);
  const grant = { project: 'web', scopes: ['read', 'write'] };
  worker = await startWorker({
    LATCHKEY_CI_ISSUERS: `${github.issuer}=repository_owner_id,${gitlab.issuer}=namespace_id`,
    LATCHKEY_CI_POLICIES: JSON.stringify([
      octoRepoPolicy(github.issuer, AUDIENCE, { id: 'octo-main', ref: 'refs/heads/main', grant }),
      myProjectPolicy(gitlab.issuer, AUDIENCE, {
        id: 'gitlab-main',
        ref_protected: true,
        grant: { project: 'web', scopes: ['read'] },
      }),
    ]),
  });
  home = await tempConfigDir();
});
after(async () => {
  await worker?.stop();
  await Promise.all([github?.stop(), gitlab?.stop()]);
});

const me = async (token: string) => {
  const response = await fetch(`${worker.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  return (await response.json()) as Record<string, unknown>;
};
const env = (extra: Record<string, string>) =>
  cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: `${home}/config`, LATCHKEY_SERVER: worker.url, ...extra });

describe('latchkey ci exchange', () => {
  test('GitHub Actions: asks the runner for an ID token with our audience, masks both, prints the token', async () => {
    const before = github.actions.requests();
    const result = await runCli(
      ['ci', 'exchange', '--project', 'web', '--audience', AUDIENCE],
      env({
        GITHUB_ACTIONS: 'true',
        ACTIONS_ID_TOKEN_REQUEST_URL: github.actions.url,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: github.actions.token,
      }),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(github.actions.requests(), before + 1);
    const token = result.stdout.trim();
    assert.match(token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, 'stdout holds the token and nothing else');
    const masks = [...result.stderr.matchAll(/^::add-mask::(.+)$/gm)].map((match) => match[1]);
    assert.equal(masks.length, 2, 'the ID token and the access token are masked');
    assert.equal(masks[1], token);
    const who = await me(token);
    assert.deepEqual([who.kind, who.project, who.scope], ['ci', 'web', 'read write']);
    await assert.rejects(readdir(`${home}/config`), 'nothing was written to disk');
  });

  test('GitHub Actions without id-token permission: a clear message, exit 3', async () => {
    const result = await runCli(['ci', 'exchange', '--project', 'web'], env({ GITHUB_ACTIONS: 'true' }));
    assert.equal(result.code, 3);
    assert.match(result.stderr, /permissions: id-token: write/);
    assert.equal(result.stdout, '');
  });

  test('the wrong audience is refused by the server, with its reason, exit 3', async () => {
    const result = await runCli(
      ['ci', 'exchange', '--project', 'web', '--audience', 'https://elsewhere.example'],
      env({
        GITHUB_ACTIONS: 'true',
        ACTIONS_ID_TOKEN_REQUEST_URL: github.actions.url,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: github.actions.token,
      }),
    );
    assert.equal(result.code, 3);
    assert.match(result.stderr, /the exchange was refused: .*audience/);
    assert.equal(result.stdout, '');
  });

  test('GitLab: the id_tokens variable, --export lines for eval', async () => {
    const idToken = await gitlab.sign(GITLAB.protectedBranch);
    const result = await runCli(
      ['ci', 'exchange', '--project', 'web', '--export'],
      env({ GITLAB_CI: 'true', LATCHKEY_ID_TOKEN: idToken }),
    );
    assert.equal(result.code, 0, result.stderr);
    const match = /^export LATCHKEY_TOKEN=(\S+)\nexport LATCHKEY_SERVER='(.+)'\n$/.exec(result.stdout);
    assert.ok(match, result.stdout);
    assert.equal(match[2], worker.url);
    assert.deepEqual([(await me(String(match[1]))).kind, (await me(String(match[1]))).scope], ['ci', 'read']);
    assert.doesNotMatch(result.stderr, /add-mask/, 'no GitHub commands outside GitHub');
  });

  test('generic: --id-token-stdin with --json; a replay of the same ID token is refused', async () => {
    const idToken = await github.sign(GITHUB.branchPush);
    const first = await runCli(['ci', 'exchange', '--id-token-stdin', '--json'], env({}), idToken);
    assert.equal(first.code, 0, first.stderr);
    const json = JSON.parse(first.stdout);
    assert.equal(json.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(json.source, 'stdin');
    assert.equal((await me(json.access_token)).project, 'web');
    const replay = await runCli(['ci', 'exchange', '--id-token-stdin'], env({}), idToken);
    assert.equal(replay.code, 3);
    assert.match(replay.stderr, /already exchanged/);
  });

  test('usage errors say what to do', async () => {
    const nowhere = await runCli(['ci', 'exchange'], env({}));
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.stderr, /--id-token-stdin/);
    const noServer = await runCli(['ci', 'exchange', '--id-token-stdin'], cleanEnv({ HOME: home }), 'x.y.z');
    assert.equal(noServer.code, 2);
    assert.match(noServer.stderr, /LATCHKEY_SERVER/);
    const junk = await runCli(['ci', 'exchange', '--id-token-stdin'], env({}), 'not a token');
    assert.equal(junk.code, 2);
    assert.match(junk.stderr, /does not hold a JWT/);
    const both = await runCli(['ci', 'exchange', '--json', '--export', '--id-token-stdin'], env({}), 'x.y.z');
    assert.equal(both.code, 2);
  });
});
