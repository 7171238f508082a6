/**
 * The keychain backend against a real Secret Service: gnome-keyring inside its own D-Bus
 * session (`dbus-run-session`), one session per CLI invocation, the keyring kept in a
 * temporary HOME so it outlives each session as a person's login keyring does.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BINARY, buildCli, cleanEnv, exitOf, runCli, startCli, tempConfigDir, waitForStderr } from '../fixtures/cli-runner.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const IN_UNLOCKED_KEYRING = [
  'dbus-run-session',
  '--',
  'bash',
  '-c',
  'echo -n "$KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec "$0" "$@"',
];

let worker: RunningWorker;
before(async () => {
  buildCli();
  worker = await startWorker({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s' });
});
after(async () => {
  await worker?.stop();
});

describe('keychain secret store (Linux Secret Service)', () => {
  let env: Record<string, string>;
  before(async () => {
    const home = await tempConfigDir();
    env = cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: join(home, 'latchkey'), KEYRING_PASSWORD: 'keyring-pw' });
  });
  const inKeyring = (args: string[], input = '', command = 'latchkey') =>
    runCli(args, env, input, [...IN_UNLOCKED_KEYRING, command === 'latchkey' ? BINARY : command]);

  test('login chooses the keychain when it answers, and keeps only a file key there', async () => {
    const child = startCli(['login', '--server', worker.url], env, [...IN_UNLOCKED_KEYRING, BINARY]);
    const done = exitOf(child);
    child.stdin?.end();
    const [, userCode] = await waitForStderr(child, /check that it shows the code\s+([A-Z]{4}-[A-Z]{4})/);
    await new FormBrowser(worker.url).decide(String(userCode), 'approve', 'keys@example.com');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /secrets in keychain/);

    const key = await inKeyring(['lookup', 'service', 'latchkey', 'username', 'file-key'], '', 'secret-tool');
    assert.equal(key.code, 0, key.stderr);
    assert.equal(Buffer.from(key.stdout.trim(), 'base64').length, 32);
    const file = await readFile(join(env.LATCHKEY_CONFIG_DIR as string, 'secrets', 'default.enc'), 'utf8');
    assert.equal(JSON.parse(file).key.source, 'keychain');
    assert.doesNotMatch(file, /eyJ[\w-]+\.eyJ|lk_rt_/);
  });

  test('a later invocation, in a new session, reads the token through the keychain', async () => {
    const status = await inKeyring(['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout);
    assert.equal(report.secret_store, 'keychain');
    assert.equal(report.secret_store_reason, 'the OS keychain answered');
    assert.equal(report.email, 'keys@example.com');
    const token = await inKeyring(['token']);
    assert.equal(token.code, 0, token.stderr);
    assert.match(token.stdout, /^eyJ/);
  });

  test('a locked keychain is an error, not a reason to fall back; nothing is overwritten', async () => {
    const path = join(env.LATCHKEY_CONFIG_DIR as string, 'secrets', 'default.enc');
    const before = await readFile(path, 'utf8');
    const inLockedKeyring = [
      'dbus-run-session',
      '--',
      'bash',
      '-c',
      'gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1; exec "$0" "$@"',
    ];
    const result = await runCli(['token'], { ...env, LATCHKEY_SECRET_PASSPHRASE: 'would-be-fallback' }, '', [
      ...inLockedKeyring,
      BINARY,
    ]);
    assert.equal(result.code, 5);
    assert.match(result.stderr, /keychain is locked/);
    assert.equal(await readFile(path, 'utf8'), before);
  });

  test('without a D-Bus session the keychain context fails with a clear message, not a fallback', async () => {
    const result = await runCli(['token'], env);
    assert.equal(result.code, 5);
    assert.match(result.stderr, /keychain unavailable: .*D-Bus/);
  });
});
