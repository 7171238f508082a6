/**
 * One JSON style for every command's --json, checked on the compiled binary against the
 * running Worker: each command is run as a script runs it, its stdout parsed and walked,
 * and nowhere may a key be camelCase, a time-like field (`*_at`, exp, iat, expires) be
 * anything but RFC 3339 UTC without milliseconds (or null), or a number be an epoch time.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GITHUB, octoRepoPolicy } from '../fixtures/ci-claims.ts';
import { buildCli, cleanEnv, cliDeviceLogin, runCli, tempConfigDir } from '../fixtures/cli-runner.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let github: FakeCiIssuer;
let dir: string;
let env: Record<string, string>;

before(async () => {
  buildCli();
  github = await startFakeCiIssuer({ defaultClaims: GITHUB.branchPush });
  worker = await startWorker({
    LATCHKEY_DEVICE_POLL_INTERVAL: '1s',
    LATCHKEY_CI_ISSUERS: `${github.issuer}=repository_owner_id`,
  });
  dir = await tempConfigDir();
  env = cleanEnv({
    HOME: dir,
    LATCHKEY_CONFIG_DIR: dir,
    LATCHKEY_SECRET_PASSPHRASE: 'correct horse battery staple',
    LATCHKEY_SERVER: worker.url,
  });
});
after(async () => {
  await worker?.stop();
  await github?.stop();
});

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const TIME_LIKE = (key: string) => key.endsWith('_at') || ['exp', 'iat', 'expires', 'time'].includes(key);
/** 2001-09-09 in seconds: no count, size or sequence number this CLI prints comes near it. */
const EPOCH_LIKE = 1e9;

/** Every violation of the style in `value`, each as `path: what`. */
function styleViolations(value: unknown, path: string, found: { times: number }): string[] {
  if (Array.isArray(value)) return value.flatMap((item, index) => styleViolations(item, `${path}[${index}]`, found));
  if (typeof value === 'number') return value >= EPOCH_LIKE ? [`${path}: ${value} looks like an epoch time`] : [];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, field]) => {
    const at = `${path}.${key}`;
    const problems = /^[a-z][a-z0-9_]*$/.test(key) ? [] : [`${at}: key is not snake_case`];
    if (TIME_LIKE(key) && field !== null) {
      found.times++;
      if (typeof field !== 'string' || !RFC3339.test(field)) problems.push(`${at}: ${JSON.stringify(field)} is not RFC 3339`);
    }
    return [...problems, ...styleViolations(field, at, found)];
  });
}

describe('--json output, every command', () => {
  test('snake_case keys, RFC 3339 times, no epoch numbers', async () => {
    const login = await cliDeviceLogin(['login', '--device', '--secret-store', 'encrypted-file'], env, {
      server: worker.url,
      email: 'owner@json.example',
    });
    assert.equal(login.code, 0, login.stderr);
    const dev = cleanEnv({
      HOME: dir,
      LATCHKEY_SERVER: worker.url,
      LATCHKEY_TOKEN: (await deviceLogin(worker.url, 'dev@json.example')).access_token,
    });
    const ciJob = cleanEnv({ HOME: dir, LATCHKEY_SERVER: worker.url });
    const policyFile = join(dir, 'policy.json');
    const { audience: _audience, ...policy } = octoRepoPolicy(github.issuer, '', {
      id: 'octo-main',
      grant: { project: 'web', scopes: ['read'] },
    });
    await writeFile(policyFile, JSON.stringify(policy));
    const idTokenFile = join(dir, 'id-token');
    await writeFile(idTokenFile, await github.sign(GITHUB.branchPush, { audience: `${worker.url}/orgs/acme` }));

    const found = { times: 0 };
    /** Runs `args --json`, checks its exit status, returns the parsed stdout after checking its style. */
    const run = async (args: string[], runEnv = env, expected = 0, stdin = '') => {
      const result = await runCli([...args, '--json'], runEnv, stdin);
      assert.equal(result.code, expected, `latchkey ${args.join(' ')}: ${result.stderr}`);
      const parsed = JSON.parse(result.stdout);
      assert.deepEqual(styleViolations(parsed, args.join(' '), found), [], result.stdout);
      return parsed;
    };

    await run(['status']);
    await run(['status', '--all']);
    await run(['contexts', 'list']);
    const shown = await run(['contexts', 'show']);
    assert.equal(shown.secret_store, 'encrypted-file', 'contexts show is snake_case (was secretStore)');
    await run(['orgs', 'create', 'acme']);
    await run(['orgs', 'list']);
    const org = await run(['orgs', 'show', 'acme']);
    assert.match(org.created_at, RFC3339);
    await run(['projects', 'create', 'web']);
    await run(['projects', 'list']);
    await run(['members', 'list']);
    const invited = await run(['members', 'invite', 'dev@json.example', '--expires', '2d']);
    assert.equal(Date.parse(invited.expires_at) - Date.parse(invited.created_at), 2 * 86400 * 1000);
    await run(['members', 'invitations']);
    await run(['invitations', 'list'], dev);
    const key = await run(['keys', 'create', '--name', 'deploy', '--expires', '30d']);
    await run(['keys', 'list']);
    const rotated = await run(['keys', 'rotate', key.id, '--grace', '1h', '--confirm']);
    await run(['keys', 'revoke', rotated.id, '--confirm']);
    await run(['sessions', 'list']);
    await run(['policies', 'create', '--file', policyFile]);
    await run(['policies', 'list']);
    await run(['policies', 'test', '--file', idTokenFile, '--project', 'web']);
    await run(
      ['ci', 'exchange', '--id-token-stdin', '--project', 'web'],
      ciJob,
      0,
      await github.sign(GITHUB.branchPush, {
        audience: `${worker.url}/orgs/acme`,
      }),
    );
    const trail = await run(['audit', 'list']);
    assert.match(trail.entries[0].time, RFC3339);
    await run(['audit', 'verify']);
    // An error under --json is JSON too, in the same style.
    const refused = await run(['orgs', 'show', 'nope'], env, 1);
    assert.equal(refused.error.code, 'failed');
    await run(['logout']);

    assert.ok(found.times >= 25, `time-like fields checked: ${found.times}`);
  });
});
