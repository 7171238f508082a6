/**
 * `latchkey orgs mfa` with the compiled binary against the running Worker (real workerd):
 * reading the policy, its owner requiring it (asked first, or --confirm) from a sign-in
 * that proved a second factor and not from one that did not, a one-step member then
 * refused on the org (exit 3, in the server's words: where to add an authenticator) while
 * `orgs list` still answers, an admin refused, and `--allow` as JSON. Usage errors (both
 * switches, a switch on another action) exit 2 before anything is sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildCli, cleanEnv, runCli, tempConfigDir } from '../fixtures/cli-runner.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { addMember, deviceSignInFrom, oneStepSignIn } from '../fixtures/oauth-client.ts';
import { enrollAuthenticator } from '../fixtures/two-step.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let home: string;
const env: Record<string, Record<string, string>> = {};
const as = (token: string) =>
  cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: home, LATCHKEY_SERVER: worker.url, LATCHKEY_TOKEN: token });

async function ok(args: string[], who: string) {
  const result = await runCli(args, env[who] as Record<string, string>);
  assert.equal(result.code, 0, `latchkey ${args.join(' ')}: ${result.stderr}`);
  return result;
}
const run = (args: string[], who: string) => runCli(args, env[who] as Record<string, string>);

before(async () => {
  buildCli();
  worker = await startWorker({}, { target: 'workerd-kv' });
  home = await tempConfigDir();
  // The owner's sign-in from before adding a factor, then one that proved it.
  const oneStep = await oneStepSignIn(worker.url, 'owner@mfa-cli.example');
  env.ownerOneStep = as(oneStep.access_token);
  await ok(['orgs', 'create', 'acme'], 'ownerOneStep');
  const member = await oneStepSignIn(worker.url, 'member@mfa-cli.example');
  await addMember(worker.url, oneStep.access_token, 'acme', 'member@mfa-cli.example', 'member', member.access_token);
  env.member = as(member.access_token);
  const admin = await oneStepSignIn(worker.url, 'admin@mfa-cli.example');
  await addMember(worker.url, oneStep.access_token, 'acme', 'admin@mfa-cli.example', 'admin', admin.access_token);
  env.admin = as(admin.access_token);
  const owner = await consolePerson(worker.url, 'owner@mfa-cli.example');
  await enrollAuthenticator(owner, Date.now());
  env.owner = as((await deviceSignInFrom(worker.url, owner.browser, 'owner@mfa-cli.example')).access_token);
});
after(async () => {
  await worker?.stop();
});

describe('orgs mfa', () => {
  test('usage errors exit 2 before anything is sent', async () => {
    const both = await run(['orgs', 'mfa', 'acme', '--require', '--allow'], 'owner');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /choose one of --require and --allow/);
    const elsewhere = await run(['orgs', 'list', '--require'], 'owner');
    assert.equal(elsewhere.code, 2);
    assert.match(elsewhere.stderr, /--require goes with `orgs mfa` only/);
    // Without a terminal, requiring it wants --confirm.
    const unasked = await run(['orgs', 'mfa', 'acme', '--require'], 'owner');
    assert.equal(unasked.code, 2);
    assert.match(unasked.stderr, /Pass --confirm/);
    assert.deepEqual(JSON.parse((await ok(['orgs', 'mfa', 'acme', '--json'], 'member')).stdout), {
      org: 'acme',
      required: false,
    });
  });

  test('the owner requires it from a sign-in with a second factor; a one-step member is then refused, saying how to get through', async () => {
    const fromOneStep = await run(['orgs', 'mfa', 'acme', '--require', '--confirm'], 'ownerOneStep');
    assert.equal(fromOneStep.code, 3, fromOneStep.stderr);
    assert.match(fromOneStep.stderr, /sign in with it yourself first: add an authenticator at \/console\/two-step/);
    const byAdmin = await run(['orgs', 'mfa', 'acme', '--require', '--confirm'], 'admin');
    assert.equal(byAdmin.code, 3, byAdmin.stderr);
    assert.match(byAdmin.stderr, /lacks mfa:write/);

    const turned = await ok(['orgs', 'mfa', 'acme', '--require', '--confirm'], 'owner');
    assert.equal(turned.stdout, '');
    assert.match(turned.stderr, /^acme now requires two-step sign-in; 0 sessions without it ended\.\n$/);
    assert.equal((await ok(['orgs', 'mfa', 'acme'], 'owner')).stdout, 'acme: two-step sign-in required of every member\n');
    assert.match((await ok(['orgs', 'show', 'acme'], 'owner')).stdout, /^two-step sign-in: required of every member$/m);
    assert.equal(JSON.parse((await ok(['orgs', 'show', 'acme', '--json'], 'owner')).stdout).require_mfa, true);

    const refused = await run(['orgs', 'show', 'acme'], 'member');
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(
      refused.stderr,
      /org "acme" requires two-step sign-in: add an authenticator at \/console\/two-step on this server's console, then sign in again/,
    );
    assert.match((await ok(['orgs', 'list'], 'member')).stdout, /^acme\s/m, 'they can still see which orgs they are in');

    const off = JSON.parse((await ok(['orgs', 'mfa', 'acme', '--allow', '--json'], 'owner')).stdout);
    assert.deepEqual(off, { org: 'acme', required: false, sessions_ended: 0 });
    assert.match((await ok(['orgs', 'show', 'acme'], 'member')).stdout, /^two-step sign-in: not required$/m);
  });
});
