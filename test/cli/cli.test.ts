/**
 * The compiled `latchkey` binary, run as a subprocess against the running Worker (real
 * workerd under wrangler dev). The person approving in a browser is played by the
 * form-posting browser of the fixtures; the Chromium suite drives the same pages for real.
 */
import assert from 'node:assert/strict';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { encryptedFileStore } from '../../packages/client/src/secrets/encrypted-file.ts';
import { buildCli, cleanEnv, exitOf, runCli, startCli, tempConfigDir, tempDir, waitForStderr } from '../fixtures/cli-runner.ts';
import { startCountingProxy } from '../fixtures/counting-proxy.ts';
import { deviceLogin, FormBrowser, refresh } from '../fixtures/oauth-client.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const PASSPHRASE = 'correct horse battery staple';
const ACCESS_TTL = 62; // two seconds more than the CLI's refresh margin
let worker: RunningWorker;
let proxy: Awaited<ReturnType<typeof startCountingProxy>>;
const outputs: string[] = []; // everything any non-`token` command printed

before(async () => {
  buildCli();
  // The CLI talks to the proxy, so the proxy's URL is the issuer: the CLI opens and shows
  // only URLs on the origin of the server it was given.
  const port = await freePort();
  worker = await startWorker({
    LATCHKEY_DEVICE_POLL_INTERVAL: '1s',
    LATCHKEY_ACCESS_TOKEN_TTL: `${ACCESS_TTL}s`,
    LATCHKEY_ISSUER: `http://127.0.0.1:${port}`,
  });
  proxy = await startCountingProxy(worker.url, port);
});
after(async () => {
  await proxy?.stop();
  await worker?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function cli(args: string[], env: Record<string, string>, input = '') {
  const result = await runCli(args, env, input);
  if (args[0] !== 'token') outputs.push(result.stdout, result.stderr);
  return result;
}

/** `latchkey login` in the device flow, approved by `email` in the browser. */
async function loginWithDevice(env: Record<string, string>, args: string[], email: string) {
  const child = startCli(['login', '--server', proxy.url, ...args], env);
  const done = exitOf(child);
  child.stdin?.end();
  const [, userCode] = await waitForStderr(child, /check that it shows the code\s+([A-Z]{4}-[A-Z]{4})/);
  const decided = await new FormBrowser(worker.url).decide(String(userCode), 'approve', email);
  assert.equal(decided.status, 200);
  const result = await done;
  outputs.push(result.stdout, result.stderr);
  return result;
}

async function storedSecret(dir: string, context: string) {
  const store = encryptedFileStore({
    dir,
    name: 'encrypted-file',
    keySource: { source: 'scrypt', passphrase: async () => PASSPHRASE },
  });
  const secret = await store.read(context);
  assert.ok(secret);
  return secret;
}

describe('latchkey CLI against the running Worker', () => {
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    dir = await tempConfigDir();
    env = cleanEnv({ LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE, HOME: dir });
  });

  test('--help documents the exit codes; a wrong command is a usage error', async () => {
    const help = await cli(['--help'], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit status:/);
    assert.match(help.stdout, /130\s+cancelled/);
    const wrong = await cli(['frobnicate'], env);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /unknown command "frobnicate"/);
    const notLoggedIn = await cli(['token'], env);
    assert.equal(notLoggedIn.code, 3);
    assert.match(notLoggedIn.stderr, /not logged in/);
  });

  test('device login: URL, code and QR code on stderr; files 0600; config holds no token', async () => {
    const result = await loginWithDevice(env, ['--secret-store', 'encrypted-file'], 'ada@example.com');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`${proxy.url.replace(/\./g, '\\.')}/device\\?user_code=`));
    assert.match(result.stderr, /[▄▀█]/); // the QR code
    assert.match(result.stderr, /Logged in to .* as ada@example.com \(context "default", secrets in encrypted-file\)/);

    const configPath = join(dir, 'config.json');
    const secretPath = join(dir, 'secrets', 'default.enc');
    assert.equal((await stat(configPath)).mode & 0o777, 0o600);
    assert.equal((await stat(secretPath)).mode & 0o777, 0o600);
    const config = await readFile(configPath, 'utf8');
    assert.doesNotMatch(config, /eyJ[\w-]+\.eyJ|lk_rt_/);
    assert.doesNotMatch(await readFile(secretPath, 'utf8'), /eyJ[\w-]+\.eyJ|lk_rt_/);
  });

  test('status --json names the credential source and the secret store, and why', async () => {
    const result = await cli(['status', '--json'], env);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.email, 'ada@example.com');
    assert.equal(report.kind, 'user');
    assert.equal(report.context, 'default');
    assert.equal(report.source, 'stored');
    assert.equal(report.secret_store, 'encrypted-file');
    assert.equal(report.secret_store_reason, 'chosen with --secret-store');
    const human = await cli(['whoami'], env);
    assert.match(human.stdout, /Logged in to .* as ada@example.com/);
  });

  test('token prints only the token; it refreshes once the token is within a minute of expiry', async () => {
    const first = await runCli(['token'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
    assert.equal(first.stderr, '');
    const before = proxy.refreshes();
    await sleep(2500);
    const second = await runCli(['token'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.notEqual(second.stdout, first.stdout);
    assert.equal(proxy.refreshes(), before + 1);
    assert.equal(decodeJwt(second.stdout.trim()).email, 'ada@example.com');
  });

  test('ten `latchkey token` started together make exactly one refresh request and print the same token', async () => {
    await sleep(2500); // let the stored token fall inside the refresh margin
    const before = proxy.refreshes();
    const results = await Promise.all(Array.from({ length: 10 }, () => runCli(['token'], env)));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    assert.equal(new Set(results.map((result) => result.stdout)).size, 1);
    assert.equal(proxy.refreshes() - before, 1);
  });

  test('two contexts: `use` switches, `--context` runs one command elsewhere', async () => {
    const work = await loginWithDevice(env, ['--name', 'work', '--secret-store', 'encrypted-file'], 'ada@work.example.com');
    assert.equal(work.code, 0, work.stderr);
    const listed = JSON.parse((await cli(['contexts', 'list', '--json'], env)).stdout);
    assert.deepEqual(
      listed.map((row: { name: string; current: boolean }) => [row.name, row.current]),
      [
        ['default', false],
        ['work', true],
      ],
    );
    assert.equal((await cli(['contexts', 'use', 'default'], env)).code, 0);
    assert.equal(JSON.parse((await cli(['status', '--json'], env)).stdout).email, 'ada@example.com');
    const elsewhere = JSON.parse((await cli(['status', '--json', '--context', 'work'], env)).stdout);
    assert.equal(elsewhere.email, 'ada@work.example.com');
    assert.equal(JSON.parse((await cli(['contexts', 'show', '--json'], env)).stdout).name, 'default');
    const missing = await cli(['status', '--context', 'nope'], env);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no context named "nope" \(known: default, work\)/);
  });

  test('precedence: --token-stdin > LATCHKEY_TOKEN > stored', async () => {
    const other = await deviceLogin(worker.url, 'bob@example.com');
    const viaEnv = JSON.parse((await cli(['status', '--json'], { ...env, LATCHKEY_TOKEN: other.access_token })).stdout);
    assert.equal(viaEnv.source, 'env');
    assert.equal(viaEnv.email, 'bob@example.com');
    const third = await deviceLogin(worker.url, 'cy@example.com');
    const viaStdin = await cli(
      ['status', '--json', '--token-stdin'],
      { ...env, LATCHKEY_TOKEN: other.access_token },
      third.access_token,
    );
    assert.equal(JSON.parse(viaStdin.stdout).source, 'token-stdin');
    assert.equal(JSON.parse(viaStdin.stdout).email, 'cy@example.com');
    const token = await runCli(['token'], { ...env, LATCHKEY_TOKEN: other.access_token });
    assert.equal(token.stdout.trim(), other.access_token);
  });

  test('login --with-token: a valid token is checked and stored; an invalid one stores nothing', async () => {
    const other = await deviceLogin(worker.url, 'key@example.com');
    const good = await cli(
      ['login', '--with-token', '--name', 'piped', '--server', proxy.url, '--secret-store', 'encrypted-file'],
      env,
      other.access_token,
    );
    assert.equal(good.code, 0, good.stderr);
    assert.equal(JSON.parse((await cli(['status', '--json', '--context', 'piped'], env)).stdout).email, 'key@example.com');
    const bad = await cli(
      ['login', '--with-token', '--name', 'bad', '--server', proxy.url, '--secret-store', 'encrypted-file'],
      env,
      'eyJnope.eyJnope.nope',
    );
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /refused the credential/);
    const named = await cli(
      ['login', '--with-token', '--org', 'acme', '--name', 'named', '--server', proxy.url, '--secret-store', 'encrypted-file'],
      env,
      other.access_token,
    );
    assert.equal(named.code, 2, 'a pasted credential is for what it was made for; --org cannot change that');
    assert.match(named.stderr, /--org signs in for an org/);
    const listed = JSON.parse((await cli(['contexts', 'list', '--json'], env)).stdout);
    assert.equal(
      listed.some((row: { name: string }) => row.name === 'bad'),
      false,
    );
    await assert.rejects(stat(join(dir, 'secrets', 'bad.enc')));
  });

  test('a wrong passphrase and a corrupt file fail clearly and overwrite nothing', async () => {
    const wrong = await cli(['token'], { ...env, LATCHKEY_SECRET_PASSPHRASE: 'not it' });
    assert.equal(wrong.code, 5);
    assert.match(wrong.stderr, /wrong passphrase/);

    const path = join(dir, 'secrets', 'piped.enc');
    await writeFile(path, '{"v":1,"garbage');
    const corrupt = await cli(['token', '--context', 'piped'], env);
    assert.equal(corrupt.code, 5);
    assert.match(corrupt.stderr, /piped\.enc is corrupt; it was left as it is/);
    assert.equal(await readFile(path, 'utf8'), '{"v":1,"garbage');
  });

  test('logout revokes the refresh token at the server, then forgets the context', async () => {
    const { refresh_token } = await storedSecret(dir, 'work');
    assert.ok(refresh_token);
    const result = await cli(['logout', 'work', '--json'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { context: 'work', revoked: true, removed: true });
    const dead = await refresh(worker.url, refresh_token);
    assert.equal(dead.json.error, 'invalid_grant');
    await assert.rejects(stat(join(dir, 'secrets', 'work.enc')));
    const listed = JSON.parse((await cli(['contexts', 'list', '--json'], env)).stdout);
    assert.deepEqual(
      listed.map((row: { name: string }) => row.name),
      ['default', 'piped'],
    );
  });

  test('logout with the server unreachable still forgets locally, with a warning', async () => {
    const offline = cleanEnv({ LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE, HOME: dir });
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    config.contexts.default.server = 'http://127.0.0.1:9'; // discard port: nothing listens
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    const result = await cli(['logout', 'default'], offline);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /warning: cannot reach http:\/\/127\.0\.0\.1:9.*not told/);
  });

  test('with no keychain and no passphrase, login fails closed and says what to do', async () => {
    const bare = cleanEnv({ LATCHKEY_CONFIG_DIR: await tempConfigDir(), HOME: dir, PATH: '/nonexistent' });
    const result = await cli(['login', '--server', proxy.url], bare);
    assert.equal(result.code, 5);
    assert.match(result.stderr, /nowhere safe to keep the token/);
    assert.match(result.stderr, /LATCHKEY_SECRET_PASSPHRASE/);
  });

  test('Ctrl-C while waiting for approval cancels cleanly: exit 130, nothing stored', async () => {
    const fresh = cleanEnv({ LATCHKEY_CONFIG_DIR: await tempConfigDir(), LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE, HOME: dir });
    const child = startCli(['login', '--server', proxy.url, '--secret-store', 'encrypted-file'], fresh);
    const done = exitOf(child);
    child.stdin?.end();
    await waitForStderr(child, /check that it shows the code/);
    child.kill('SIGINT');
    const result = await done;
    outputs.push(result.stdout, result.stderr);
    assert.equal(result.code, 130);
    assert.match(result.stderr, /cancelled; nothing was stored/);
    await assert.rejects(stat(join(fresh.LATCHKEY_CONFIG_DIR as string, 'config.json')));
  });

  test('an unreachable server is one line and exit 4', async () => {
    const result = await cli(['login', '--server', 'http://127.0.0.1:9', '--secret-store', 'encrypted-file'], env);
    assert.equal(result.code, 4);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.match(result.stderr, /^latchkey: cannot reach http:\/\/127\.0\.0\.1:9: ECONNREFUSED/);
  });

  test('no command but `token` ever printed a token', () => {
    const all = outputs.join('\n');
    assert.doesNotMatch(all, /eyJ[\w-]{10,}\.[\w-]{10,}/);
    assert.doesNotMatch(all, /lk_rt_/);
  });
});

/**
 * The session's access-token cache (cli/token-cache.ts). A temporary 0700 directory plays
 * the $XDG_RUNTIME_DIR that logind makes for a login session. A run that succeeds without
 * the passphrase can only have been answered from the cache: nothing else opens the
 * sealed file without it.
 */
describe('latchkey token and the session cache in $XDG_RUNTIME_DIR', () => {
  let dir: string;
  let runtime: string;
  let withPassphrase: Record<string, string>;
  let session: Record<string, string>; // the passphrase is gone: only the cache can answer
  const cacheFiles = async () => readdir(join(runtime, 'latchkey')).catch(() => [] as string[]);

  before(async () => {
    dir = await tempConfigDir();
    runtime = await tempDir('latchkey-run-'); // 0700 and ours, as logind makes it
    withPassphrase = cleanEnv({
      HOME: dir,
      LATCHKEY_CONFIG_DIR: dir,
      LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE,
      XDG_RUNTIME_DIR: runtime,
    });
    session = cleanEnv({ HOME: dir, LATCHKEY_CONFIG_DIR: dir, XDG_RUNTIME_DIR: runtime });
    assert.equal((await loginWithDevice(withPassphrase, ['--secret-store', 'encrypted-file'], 'ada@example.com')).code, 0);
  });

  test('the first run opens the sealed file and leaves the access token, and only it, 0600 in a 0700 directory', async () => {
    const first = await runCli(['token'], withPassphrase);
    assert.equal(first.code, 0, first.stderr);
    const files = await cacheFiles();
    assert.equal(files.length, 1);
    const path = join(runtime, 'latchkey', files[0] as string);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(runtime, 'latchkey'))).mode & 0o777, 0o700);
    const text = await readFile(path, 'utf8');
    assert.ok(text.includes(first.stdout.trim()));
    assert.doesNotMatch(text, /lk_rt_/);

    const cached = await runCli(['token'], session);
    assert.equal(cached.code, 0, cached.stderr);
    assert.equal(cached.stdout, first.stdout);
    assert.equal(cached.stderr, '');
  });

  test('without the cache the same run cannot open the sealed file: no runtime dir, LATCHKEY_TOKEN_CACHE=0, or a runtime dir open to others', async () => {
    const { XDG_RUNTIME_DIR: _unset, ...noRuntime } = session;
    const cases = [noRuntime, { ...session, LATCHKEY_TOKEN_CACHE: '0' }];
    for (const env of cases) {
      const refused = await runCli(['token'], env);
      assert.equal(refused.code, 5, refused.stderr);
      assert.match(refused.stderr, /LATCHKEY_SECRET_PASSPHRASE/);
    }
    await chmod(runtime, 0o755);
    try {
      const open = await runCli(['token'], session);
      assert.equal(open.code, 5, open.stderr);
    } finally {
      await chmod(runtime, 0o700);
    }
  });

  test('LATCHKEY_TOKEN still wins over the cache', async () => {
    const result = await runCli(['token'], { ...session, LATCHKEY_TOKEN: 'from-the-environment' });
    assert.equal(result.stdout, 'from-the-environment\n');
  });

  test('within a minute of expiry the cache is passed by: one refresh; the next run to open the file caches the new token', async () => {
    await sleep(2500); // the cached token is now inside the refresh margin
    const stale = await runCli(['token'], session);
    assert.equal(stale.code, 5, 'a token about to expire is not served from the cache');
    const before = proxy.refreshes();
    const refreshed = await runCli(['token'], withPassphrase);
    assert.equal(refreshed.code, 0, refreshed.stderr);
    assert.equal(proxy.refreshes(), before + 1);
    const opened = await runCli(['token'], withPassphrase);
    assert.equal(opened.stdout, refreshed.stdout);
    const cached = await runCli(['token'], session);
    assert.equal(cached.code, 0, cached.stderr);
    assert.equal(cached.stdout, refreshed.stdout);
    assert.equal(proxy.refreshes(), before + 1);
  });

  test('a new login under the same context makes the old entry useless at once', async () => {
    const old = (await runCli(['token'], session)).stdout;
    assert.equal((await loginWithDevice(withPassphrase, ['--secret-store', 'encrypted-file'], 'bob@example.com')).code, 0);
    const after = await runCli(['token'], session);
    assert.equal(after.code, 5, 'the entry belonged to the file that was replaced');
    const fresh = await runCli(['token'], withPassphrase);
    assert.equal(decodeJwt(fresh.stdout.trim()).email, 'bob@example.com');
    assert.notEqual(fresh.stdout, old);
  });

  test('a context gone from config.json is not served from the cache; a cache that cannot be cleaned does not stop its removal', async () => {
    const spare = await loginWithDevice(
      withPassphrase,
      ['--name', 'spare', '--secret-store', 'encrypted-file'],
      'cy@example.com',
    );
    assert.equal(spare.code, 0, spare.stderr);
    assert.equal((await runCli(['token', '--context', 'spare'], withPassphrase)).code, 0);
    assert.equal((await runCli(['token', '--context', 'spare'], session)).code, 0, 'cached');

    const configPath = join(dir, 'config.json');
    const original = await readFile(configPath, 'utf8');
    const edited = JSON.parse(original);
    delete edited.contexts.spare;
    await writeFile(configPath, JSON.stringify(edited));
    const unlisted = await runCli(['token', '--context', 'spare'], session);
    assert.equal(unlisted.code, 3, unlisted.stderr);
    assert.match(unlisted.stderr, /no context named "spare"/);
    await writeFile(configPath, original);

    // A runtime dir that is a file: forgetting the entry fails (ENOTDIR), the removal does not.
    const removed = await runCli(['contexts', 'remove', 'spare'], { ...withPassphrase, XDG_RUNTIME_DIR: configPath });
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await runCli(['token', '--context', 'spare'], session)).code, 3);
  });

  test('logout removes the cached token with the credential', async () => {
    const entry = (files: string[]) => files.filter((file) => file.endsWith('-default.json'));
    assert.equal(entry(await cacheFiles()).length, 1);
    const result = await runCli(['logout', 'default'], withPassphrase);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(entry(await cacheFiles()), []);
    const gone = await runCli(['token', '--context', 'default'], session);
    assert.equal(gone.code, 3);
  });
});
