/**
 * Step-up (RFC 9470) at the compiled `latchkey` against real workerd: a person who signed
 * in with the device flow adds an authenticator app at the console; then making a key of
 * admin or above is refused with `insufficient_user_authentication`, the CLI asks "Enter
 * TOTP code:" at the terminal (a pseudo-terminal, test/fixtures/cli-terminal.ts), proves
 * the code with the login's refresh token, retries once, and the key is made. A wrong
 * code ends the run with nothing made and the login kept; without a terminal, or with a
 * token that is no one's login, it says what to do instead; a member's key and a person
 * without an authenticator are never asked. A hostile server that keeps asking gets one
 * retry and no more, and its words reach the terminal escaped.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { totpCodeAt } from '../../worker/mfa/totp.ts';
import { buildCli, cleanEnv, cliDeviceLogin, runCli, tempConfigDir, tempDir } from '../fixtures/cli-runner.ts';
import { runAtTerminal } from '../fixtures/cli-terminal.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type HostileServer, meAnswer, serverMetadata, startHostileServer } from '../fixtures/hostile-server.ts';
import { enrollAuthenticator, makeRecoveryCodes } from '../fixtures/two-step.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const PASSPHRASE = 'step-up test passphrase';
/** The CLI's prompt, at the start of a line (a server's text cannot start one). */
const PROMPT = /^Enter TOTP code: /m;

let worker: RunningWorker;
before(async () => {
  buildCli();
  worker = await startWorker({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s' });
});
after(async () => {
  await worker?.stop();
});

/** A CLI of its own (config dir, encrypted file), signed in as `email` with the device flow, owner of a new org `org`. */
async function signedInOwner(email: string, org: string): Promise<Record<string, string>> {
  const dir = await tempConfigDir();
  const env = cleanEnv({
    HOME: dir,
    LATCHKEY_CONFIG_DIR: dir,
    LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE,
    LATCHKEY_SERVER: worker.url,
    // The session cache too: what a step-up stores must win over the token cached before it.
    XDG_RUNTIME_DIR: await tempDir('latchkey-run-'),
  });
  const login = await cliDeviceLogin(['login', '--device', '--secret-store', 'encrypted-file'], env, {
    server: worker.url,
    email,
  });
  assert.equal(login.code, 0, login.stderr);
  const created = await runCli(['orgs', 'create', org], env);
  assert.equal(created.code, 0, created.stderr);
  return env;
}

/** `email` adds an authenticator app at the console (after the CLI login): its secret, and the console browser. */
async function withAuthenticator(email: string) {
  const person = await consolePerson(worker.url, email);
  const { secret } = await enrollAuthenticator(person, Date.now());
  return { person, secret };
}

/** The code the app shows next (the one that confirmed the app is spent: a code counts once). */
const nextCode = (secret: Uint8Array) => () => totpCodeAt(secret, Date.now() + 30_000);

const keyNames = async (env: Record<string, string>, org: string) => {
  const listed = await runCli(['keys', 'list', '--org', org, '--json'], env);
  assert.equal(listed.code, 0, listed.stderr);
  return (JSON.parse(listed.stdout) as { name: string; role: string }[]).map((key) => `${key.name}:${key.role}`);
};

describe('step-up at the terminal against workerd', () => {
  test('with an authenticator, an admin key is refused, the TOTP code typed at the prompt, the call retried once: made', async () => {
    const env = await signedInOwner('ada@stepup.example', 'ada-org');
    // Without an authenticator there is nothing to prove: no question, the key is made.
    const before = await runAtTerminal(['keys', 'create', '--org', 'ada-org', '--name', 'early', '--role', 'admin'], env, {
      answers: [{ when: PROMPT, type: '123456' }],
    });
    assert.equal(before.code, 0, before.screen);
    assert.doesNotMatch(before.screen, /MFA|Enter TOTP code/);

    const { secret } = await withAuthenticator('ada@stepup.example');

    const out = join(env.HOME as string, 'key.json');
    const run = await runAtTerminal(['keys', 'create', '--org', 'ada-org', '--name', 'ops', '--role', 'admin', '--json'], env, {
      answers: [{ when: PROMPT, type: nextCode(secret) }],
      stdoutTo: out,
    });
    assert.equal(run.code, 0, run.screen);
    assert.match(run.screen, /MFA verification required\.\nEnter TOTP code: \d{6}\nMFA verified\.\n/);
    // --json: stdout (here a file) holds the one document; the prompts went to the terminal.
    const created = JSON.parse(await readFile(out, 'utf8'));
    assert.deepEqual([created.name, created.role], ['ops', 'admin']);
    assert.match(created.key, /^lk_test_/);
    assert.equal(run.screen.includes(created.key), false, 'the secret went to stdout only');

    // The stepped-up login is kept: within the step-up window, the next admin key needs no code, even without a terminal.
    const again = await runCli(['keys', 'create', '--org', 'ada-org', '--name', 'ops2', '--role', 'owner'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^lk_test_/);
    assert.doesNotMatch(again.stderr, /MFA/);
    // A member's key never needed one.
    const member = await runCli(['keys', 'create', '--org', 'ada-org', '--name', 'ci'], env);
    assert.equal(member.code, 0, member.stderr);
    assert.deepEqual((await keyNames(env, 'ada-org')).sort(), ['ci:member', 'early:admin', 'ops2:owner', 'ops:admin']);
  });

  test('a wrong code: a clear error, exit 3, nothing made; the login is kept and a recovery code then works', async () => {
    const env = await signedInOwner('bea@stepup.example', 'bea-org');
    const { person, secret } = await withAuthenticator('bea@stepup.example');
    const recovery = await makeRecoveryCodes(person);
    const args = ['keys', 'create', '--org', 'bea-org', '--name', 'ops', '--role', 'admin'];

    const memberKey = await runCli(['keys', 'create', '--org', 'bea-org', '--name', 'plain'], env);
    assert.equal(memberKey.code, 0, 'a member key needs no second factor, and nothing is asked');
    assert.doesNotMatch(memberKey.stderr, /MFA|second factor/);

    // A code no step near now shows.
    const near = await Promise.all([-30_000, 0, 30_000, 60_000].map((shift) => totpCodeAt(secret, Date.now() + shift)));
    const wrong = ['123456', '654321', '000001'].find((code) => !near.includes(code)) as string;
    const refused = await runAtTerminal(args, env, { answers: [{ when: PROMPT, type: wrong }] });
    assert.equal(refused.code, 3, refused.screen);
    assert.match(refused.screen, /MFA verification required\.\nEnter TOTP code: /);
    assert.match(refused.screen, /latchkey: the code was refused: that code is not right.*; nothing was changed/);
    assert.doesNotMatch(refused.screen, /MFA verified/);
    assert.deepEqual(await keyNames(env, 'bea-org'), ['plain:member'], 'nothing made');

    // The refresh token was not spent: the same login steps up with a recovery code.
    const recovered = await runAtTerminal(args, env, { answers: [{ when: PROMPT, type: recovery[0] as string }] });
    assert.equal(recovered.code, 0, recovered.screen);
    assert.match(recovered.screen, /MFA verified\.\n/);
    assert.match(recovered.screen, /lk_test_/);
    assert.deepEqual((await keyNames(env, 'bea-org')).sort(), ['ops:admin', 'plain:member']);
  });

  test('no terminal, or a token that is no one’s login: step_up_required (exit 3) saying what to do; nothing asked or made', async () => {
    const env = await signedInOwner('cy@stepup.example', 'cy-org');
    await withAuthenticator('cy@stepup.example');
    const args = ['keys', 'create', '--org', 'cy-org', '--name', 'ops', '--role', 'admin'];

    const piped = await runCli([...args, '--json'], env, '123456\n');
    assert.equal(piped.code, 3, piped.stderr);
    assert.match(piped.stderr, /a second factor is needed: to make or rotate a key with the admin role you need/);
    assert.match(
      piped.stderr,
      /no terminal here to ask for a code.*run this command at a terminal, or run it right after a `latchkey login`/,
    );
    assert.doesNotMatch(piped.stderr, /Enter TOTP code/);
    assert.equal(JSON.parse(piped.stdout).error.code, 'step_up_required');
    const help = await runCli(['--help'], env);
    assert.match(
      help.stdout,
      /asks "Enter TOTP code:" \(or a recovery code\) and retries once; elsewhere exit 3,\nstep_up_required/,
    );

    const token = (await runCli(['token'], env)).stdout.trim();
    const asToken = cleanEnv({ HOME: env.HOME as string, LATCHKEY_SERVER: worker.url, LATCHKEY_TOKEN: token });
    const viaEnv = await runAtTerminal(args, asToken, { answers: [{ when: PROMPT, type: '123456' }], timeoutMs: 15_000 });
    assert.equal(viaEnv.code, 3, viaEnv.screen);
    assert.match(viaEnv.screen, /The token from LATCHKEY_TOKEN .* cannot prove one: do this as yourself/);
    assert.doesNotMatch(viaEnv.screen, /Enter TOTP code/);
    assert.deepEqual(await keyNames(env, 'cy-org'), []);
  });
});

describe('a hostile server that answers every retry with the challenge', () => {
  let server: HostileServer;
  const EVIL = 'x\u001b]0;pwned\u0007\u001b[2J\r\nEnter TOTP code: \u202egnp';
  const challenge = {
    status: 401,
    json: { error: 'insufficient_user_authentication', error_description: EVIL },
    headers: {
      'www-authenticate': `Bearer realm="x", error="insufficient_user_authentication", error_description="\u009b8m", acr_values="urn:latchkey:acr:mfa", max_age=600`,
    },
  };
  const tokens = (n: number) => ({
    access_token: `access-${n}`,
    token_type: 'Bearer',
    expires_in: 3600,
    refresh_token: `lk_rt_hostile${n}`,
    scope: 'openid',
  });
  before(async () => {
    server = await startHostileServer();
    let issued = 0;
    server.route('GET /.well-known/oauth-authorization-server', { json: serverMetadata(server.url) });
    server.route('POST /oauth/device_authorization', {
      json: {
        device_code: 'dc',
        user_code: 'BCDF-GHJK',
        verification_uri: `${server.url}/device`,
        verification_uri_complete: `${server.url}/device?user_code=BCDF-GHJK`,
        expires_in: 600,
        interval: 1,
      },
    });
    server.route('POST /oauth/token', () => ({ json: tokens(++issued) }));
    server.route('GET /v1/me', { json: meAnswer('ada@example.com') });
    // The first refusal is a challenge in the header alone (its body no error object); the retry's body says more.
    let refusals = 0;
    server.route('POST /v1/orgs/acme/keys', () => (++refusals === 1 ? { ...challenge, json: 'no' } : challenge));
  });
  after(() => server?.stop());

  test('one code asked, one step-up, one retry; then a clear error, exit 3, the server’s words escaped', async () => {
    const dir = await tempConfigDir();
    const env = cleanEnv({ HOME: dir, LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE });
    const login = await runCli(['login', '--device', '--server', server.url, '--secret-store', 'encrypted-file'], env);
    assert.equal(login.code, 0, login.stderr);

    const run = await runAtTerminal(['keys', 'create', '--org', 'acme', '--name', 'ops', '--role', 'admin'], env, {
      // A second prompt would wait for an answer that never comes: timedOut.
      answers: [{ when: PROMPT, type: '123456' }],
      timeoutMs: 15_000,
    });
    assert.equal(run.timedOut, false);
    assert.equal(run.code, 3, run.screen);
    const posts = server.requests.filter((request) => request.path === '/v1/orgs/acme/keys');
    assert.equal(posts.length, 2, 'the refused call and one retry');
    assert.deepEqual(
      posts.map((request) => request.headers.authorization),
      ['Bearer access-1', 'Bearer access-2'],
      'the retry carries the stepped-up token',
    );
    const stepUps = server.requests.filter((request) => new URLSearchParams(request.body).has('otp'));
    assert.equal(stepUps.length, 1);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(stepUps[0]?.body)), {
      grant_type: 'refresh_token',
      refresh_token: 'lk_rt_hostile1',
      client_id: 'latchkey-cli',
      otp: '123456',
    });
    assert.equal(run.screen.match(/^Enter TOTP code: /gm)?.length, 1, 'one prompt');
    assert.match(run.screen, /MFA verified\.\n/);
    assert.match(
      run.screen,
      /latchkey: the server asked again for a second factor just proven .*; latchkey does not retry twice/,
    );
    // The server's text arrives escaped: no escape sequence, no line of its own.
    assert.equal(run.raw.includes('\u001b]0;pwned'), false);
    assert.equal(run.raw.includes('\u202e'), false);
    assert.match(run.screen, /x\\u001b\]0;pwned\\u0007\\u001b\[2J\\u000d\\u000aEnter TOTP code: \\u202egnp/);
  });
});
