/**
 * The session's access-token cache (cli/token-cache.ts), driven through the compiled
 * binary against the running Worker. A temporary 0700 directory plays the $XDG_RUNTIME_DIR
 * that logind makes for a login session. A run that succeeds without the passphrase can
 * only have been answered from the cache: nothing else opens the sealed file without it.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { buildCli, cleanEnv, exitOf, runCli, startCli, tempConfigDir, waitForStderr } from '../fixtures/cli-runner.ts';
import { startCountingProxy } from '../fixtures/counting-proxy.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const PASSPHRASE = 'correct horse battery staple';
const ACCESS_TTL = 62; // two seconds more than the CLI's refresh margin
let worker: RunningWorker;
let proxy: Awaited<ReturnType<typeof startCountingProxy>>;

before(async () => {
  buildCli();
  worker = await startWorker({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s', LATCHKEY_ACCESS_TOKEN_TTL: `${ACCESS_TTL}s` });
  proxy = await startCountingProxy(worker.url);
});
after(async () => {
  await proxy?.stop();
  await worker?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function login(env: Record<string, string>, email: string) {
  const child = startCli(['login', '--server', proxy.url, '--secret-store', 'encrypted-file'], env);
  const done = exitOf(child);
  child.stdin?.end();
  const [, userCode] = await waitForStderr(child, /check that it shows the code\s+([A-Z]{4}-[A-Z]{4})/);
  assert.equal((await new FormBrowser(worker.url).decide(String(userCode), 'approve', email)).status, 200);
  const result = await done;
  assert.equal(result.code, 0, result.stderr);
}

describe('latchkey token and the session cache in $XDG_RUNTIME_DIR', () => {
  let dir: string;
  let runtime: string;
  let withPassphrase: Record<string, string>;
  let session: Record<string, string>; // the passphrase is gone: only the cache can answer
  const cacheFiles = async () => readdir(join(runtime, 'latchkey')).catch(() => [] as string[]);

  before(async () => {
    dir = await tempConfigDir();
    runtime = await mkdtemp(join(tmpdir(), 'latchkey-run-')); // 0700 and ours, as logind makes it
    withPassphrase = cleanEnv({
      HOME: dir,
      LATCHKEY_CONFIG_DIR: dir,
      LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE,
      XDG_RUNTIME_DIR: runtime,
    });
    session = cleanEnv({ HOME: dir, LATCHKEY_CONFIG_DIR: dir, XDG_RUNTIME_DIR: runtime });
    await login(withPassphrase, 'ada@example.com');
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

  test('within a minute of expiry the cache is passed by: one refresh, and the new token is cached', async () => {
    await sleep(2500); // the cached token is now inside the refresh margin
    const stale = await runCli(['token'], session);
    assert.equal(stale.code, 5, 'a token about to expire is not served from the cache');
    const before = proxy.refreshes();
    const refreshed = await runCli(['token'], withPassphrase);
    assert.equal(refreshed.code, 0, refreshed.stderr);
    assert.equal(proxy.refreshes(), before + 1);
    const cached = await runCli(['token'], session);
    assert.equal(cached.code, 0, cached.stderr);
    assert.equal(cached.stdout, refreshed.stdout);
  });

  test('a new login under the same context makes the old entry useless at once', async () => {
    const old = (await runCli(['token'], session)).stdout;
    await login(withPassphrase, 'bob@example.com');
    const after = await runCli(['token'], session);
    assert.equal(after.code, 5, 'the entry belonged to the file that was replaced');
    const fresh = await runCli(['token'], withPassphrase);
    assert.equal(decodeJwt(fresh.stdout.trim()).email, 'bob@example.com');
    assert.notEqual(fresh.stdout, old);
  });

  test('logout removes the cached token with the credential', async () => {
    assert.equal((await cacheFiles()).length, 1);
    const result = await runCli(['logout'], withPassphrase);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await cacheFiles(), []);
    const gone = await runCli(['token'], session);
    assert.equal(gone.code, 3);
  });
});
