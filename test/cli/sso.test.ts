/**
 * `latchkey sso` with the compiled binary against the running Worker (real workerd) and an
 * OpenID provider on loopback that approves at once (test/fixtures/fake-oidc.ts): `set`
 * reads the client secret from standard input and never prints it; `enable` is refused
 * (exit 1, the server's words) until `test`'s URL has been signed in through; `enforce` is
 * refused while disabled with the exact rule; `show --json` has no secret; `remove`
 * asks for --confirm without a terminal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildCli, cleanEnv, runCli, tempConfigDir } from '../fixtures/cli-runner.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const SECRET = 'cli-sso-secret-Hq3nV8tX1';
let worker: RunningWorker;
let provider: Awaited<ReturnType<typeof startFakeOidc>>;
let env: Record<string, string>;

async function ok(args: string[], input?: string) {
  const result = await runCli(args, env, input);
  assert.equal(result.code, 0, `latchkey ${args.join(' ')}: ${result.stderr}`);
  assert.equal(`${result.stdout}${result.stderr}`.includes(SECRET), false, 'the secret was printed');
  return result;
}

before(async () => {
  buildCli();
  provider = await startFakeOidc(await freePort(), 'acme-cli');
  worker = await startWorker({}, { target: 'workerd-kv' });
  const home = await tempConfigDir();
  const token = (await deviceLogin(worker.url, 'owner@acme-sso.example')).access_token;
  env = cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: home, LATCHKEY_SERVER: worker.url, LATCHKEY_TOKEN: token });
  await ok(['orgs', 'create', 'acme']);
});
after(async () => {
  await worker?.stop();
  await provider?.stop();
});

describe('sso', () => {
  test('set from stdin, enable refused until tested, test, enable, enforce, show, remove', async () => {
    const noSecret = await runCli(['sso', 'set', '--org', 'acme', '--issuer', provider.issuer, '--client-id', 'acme-cli'], env);
    assert.equal(noSecret.code, 1, noSecret.stderr);
    assert.match(noSecret.stderr, /client_secret is required/);

    const set = await ok(
      ['sso', 'set', '--org', 'acme', '--issuer', provider.issuer, '--client-id', 'acme-cli', '--client-secret-stdin'],
      `${SECRET}\n`,
    );
    assert.match(set.stderr, new RegExp(`Register ${worker.url}/sso/callback`));

    const early = await runCli(['sso', 'enable', '--org', 'acme'], env);
    assert.equal(early.code, 1, early.stderr);
    assert.match(early.stderr, /Cannot enable SSO before a test sign-in/);
    const enforce = await runCli(['sso', 'enforce', '--org', 'acme'], env);
    assert.equal(enforce.code, 1);
    assert.match(enforce.stderr, /Cannot enforce SSO when SSO is not enabled/);

    const started = await ok(['sso', 'test', '--org', 'acme']);
    const url = started.stdout.trim();
    assert.ok(url.startsWith(`${provider.issuer}/authorize?`), url);
    // The browser's part: the provider answers at once and sends it to the callback.
    const back = (await fetch(url, { redirect: 'manual' })).headers.get('location') ?? '';
    const page = await fetch(back);
    assert.equal(page.status, 200, await page.text());

    await ok(['sso', 'enable', '--org', 'acme']);
    await ok(['sso', 'enforce', '--org', 'acme']);
    const shown = await ok(['sso', 'show', '--org', 'acme', '--json']);
    const json = JSON.parse(shown.stdout) as Record<string, unknown>;
    assert.deepEqual([json.enabled, json.enforced, json.client_id], [true, true, 'acme-cli']);
    assert.match(String(json.tested_at), /^\d{4}-\d\d-\d\dT/);
    assert.equal('client_secret' in json, false);
    const table = await ok(['sso', 'show', '--org', 'acme']);
    assert.match(table.stdout, /ENFORCED +true/i);

    // Just-in-time membership, set alone (the connection as it is), shown, turned off.
    assert.equal(json.jit_role, null);
    await ok(['sso', 'set', '--org', 'acme', '--jit-role', 'member']);
    assert.match((await ok(['sso', 'show', '--org', 'acme'])).stdout, /JIT ROLE +member/i);
    const jitOn = JSON.parse((await ok(['sso', 'show', '--org', 'acme', '--json'])).stdout) as Record<string, unknown>;
    assert.deepEqual([jitOn.jit_role, jitOn.enforced], ['member', true]);
    const owner = await runCli(['sso', 'set', '--org', 'acme', '--jit-role', 'owner'], env);
    assert.equal(owner.code, 2, owner.stderr);
    await ok(['sso', 'set', '--org', 'acme', '--jit-role', 'off']);
    assert.equal(JSON.parse((await ok(['sso', 'show', '--org', 'acme', '--json'])).stdout).jit_role, null);

    await ok(['sso', 'disable', '--org', 'acme']);
    const disabled = JSON.parse((await ok(['sso', 'show', '--org', 'acme', '--json'])).stdout) as Record<string, unknown>;
    assert.deepEqual([disabled.enabled, disabled.enforced], [false, false]);

    const unconfirmed = await runCli(['sso', 'remove', '--org', 'acme'], env);
    assert.equal(unconfirmed.code === 0, false);
    assert.match(unconfirmed.stderr, /--confirm/);
    await ok(['sso', 'remove', '--org', 'acme', '--confirm']);
    const gone = await runCli(['sso', 'show', '--org', 'acme'], env);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /has no SSO connection/);
  });

  test('the secret flag belongs to set only; an unknown action is a usage error', async () => {
    const misplaced = await runCli(['sso', 'enable', '--org', 'acme', '--client-secret-stdin'], env, 'x');
    assert.equal(misplaced.code, 2, misplaced.stderr);
    const unknown = await runCli(['sso', 'frobnicate', '--org', 'acme'], env);
    assert.equal(unknown.code, 2, unknown.stderr);
  });
});
