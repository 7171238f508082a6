/**
 * `latchkey exec` with the compiled binary, logged in through the device flow against the
 * running Worker: the child's token is one the server accepts, its environment holds no
 * secret of latchkey's but that token, its exit status and the signals sent to latchkey
 * pass through as a shell passes them, and its stdio is latchkey's own.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildCli, cleanEnv, cliDeviceLogin, exitOf, runCli, startCli, tempConfigDir, tempDir } from '../fixtures/cli-runner.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const PASSPHRASE = 'exec passphrase';
let worker: RunningWorker;
let env: Record<string, string>;

before(async () => {
  buildCli();
  worker = await startWorker({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s' });
  const home = await tempConfigDir();
  // No LATCHKEY_SERVER: what the child gets comes from the context the login made.
  env = cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: home, LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE });
  const login = await cliDeviceLogin(['login', '--device', '--server', worker.url, '--secret-store', 'encrypted-file'], env, {
    server: worker.url,
    email: 'exec@cli.example',
  });
  assert.equal(login.code, 0, login.stderr);
});
after(async () => {
  await worker?.stop();
});

/** The child: asks the server who its token belongs to, and reports the latchkey variables it was given. */
const WHO_AM_I = `
const me = await fetch(process.env.LATCHKEY_SERVER + '/v1/me', {
  headers: { authorization: 'Bearer ' + process.env.LATCHKEY_TOKEN },
});
const names = Object.keys(process.env).filter((name) => name.startsWith('LATCHKEY_')).sort();
console.log(JSON.stringify({ status: me.status, email: (await me.json()).email, names, server: process.env.LATCHKEY_SERVER }));
`;

/** Resolves with the first stdout chunk that matches, e.g. the child saying it is ready. */
function stdoutMatch(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} on stdout: ${seen}`)), 20_000);
    child.stdout?.on('data', (chunk) => {
      seen += chunk;
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

describe('latchkey exec', () => {
  test('the child holds a token the server accepts, the server, and no other secret of latchkey’s', async () => {
    const ran = await runCli(['exec', '--', NODE, '--input-type=module', '-e', WHO_AM_I], env);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stderr, '');
    assert.deepEqual(JSON.parse(ran.stdout), {
      status: 200,
      email: 'exec@cli.example',
      names: ['LATCHKEY_CONFIG_DIR', 'LATCHKEY_SERVER', 'LATCHKEY_TOKEN'],
      server: worker.url,
    });
    const dumped = await runCli(['exec', 'env'], env);
    assert.doesNotMatch(dumped.stdout, new RegExp(PASSPHRASE));
    const token = (await runCli(['token'], env)).stdout.trim();
    assert.match(dumped.stdout, new RegExp(`^LATCHKEY_TOKEN=${token}$`, 'm'), 'the token `latchkey token` prints');
  });

  test('exit codes pass through; a missing command is 127 and one that cannot run 126, as in a shell', async () => {
    for (const code of [0, 3, 42]) {
      const ran = await runCli(['exec', '--', 'sh', '-c', `exit ${code}`], env);
      assert.deepEqual(ran, { code, stdout: '', stderr: '' }, `exit ${code}`);
    }
    assert.deepEqual(await runCli(['exec', 'no-such-command-for-latchkey', '--flag'], env), {
      code: 127,
      stdout: '',
      stderr: 'latchkey: no-such-command-for-latchkey: command not found\n',
    });
    const dir = await tempDir();
    const notExecutable = join(dir, 'script.sh');
    await writeFile(notExecutable, '#!/bin/sh\necho ran\n', { mode: 0o644 });
    await mkdir(join(dir, 'a-directory'));
    for (const file of [notExecutable, join(dir, 'a-directory')]) {
      assert.deepEqual(await runCli(['exec', file], env), {
        code: 126,
        stdout: '',
        stderr: `latchkey: ${file}: cannot run it (permission denied)\n`,
      });
    }
  });

  test('not logged in: exit 3 from latchkey, and the command never runs', async () => {
    const dir = await tempDir();
    const marker = join(dir, 'ran');
    const ran = await runCli(['exec', '--', 'sh', '-c', `touch ${marker}`], cleanEnv({ HOME: dir, LATCHKEY_CONFIG_DIR: dir }));
    assert.equal(ran.code, 3);
    assert.match(ran.stderr, /not logged in/);
    await assert.rejects(readFile(marker));
  });

  test('stdin, stdout and stderr are the child’s', async () => {
    const ran = await runCli(['exec', '--', 'sh', '-c', 'cat; echo to-stderr >&2'], env, 'piped in\n');
    assert.deepEqual(ran, { code: 0, stdout: 'piped in\n', stderr: 'to-stderr\n' });
  });

  test('SIGTERM and (without a terminal) SIGINT sent to latchkey reach the child, and its status is latchkey’s', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const marker = join(await tempDir(), 'trapped');
      const name = signal.slice(3);
      const script = `trap 'echo ${name} > "$1"; exit 0' ${name}; echo ready; while :; do sleep 0.1; done`;
      const child = startCli(['exec', '--', 'sh', '-c', script, 'sh', marker], env);
      const done = exitOf(child);
      child.stdin?.end();
      await stdoutMatch(child, /ready/);
      child.kill(signal);
      const result = await done;
      assert.equal(result.code, 0, `${signal}: ${result.stderr}`);
      assert.equal(await readFile(marker, 'utf8'), `${name}\n`);
    }
  });

  test('a signal that comes as the child starts is passed on too, not the end of latchkey with the child left running', async () => {
    // A race: with the listeners installed after the spawn, about one run in ten lost it.
    for (let round = 0; round < 10; round++) {
      const script = `trap 'echo trapped; exit 0' TERM; kill -TERM $PPID; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.1; done`;
      assert.deepEqual(await runCli(['exec', '--', 'sh', '-c', script], env), { code: 0, stdout: 'trapped\n', stderr: '' });
    }
  });

  test('a child ended by a signal is 128+N: SIGTERM passed on to one that does not trap it, SIGKILL from itself', async () => {
    const child = startCli(['exec', '--', 'sh', '-c', 'echo ready; exec sleep 30'], env);
    const done = exitOf(child);
    child.stdin?.end();
    await stdoutMatch(child, /ready/);
    // Whether it reaches the shell or the sleep that replaced it, neither traps it.
    child.kill('SIGTERM');
    assert.equal((await done).code, 143);
    assert.equal((await runCli(['exec', '--', 'sh', '-c', 'kill -KILL $$'], env)).code, 137);
  });
});
