/**
 * `status --all` and a session the server ended, with the compiled binary against the
 * running Worker: every context is asked of its own server at once (one that is down, one
 * that never answers, one that answers nonsense — each a row, none the command's failure),
 * and once any command has heard that a session was revoked, or its refresh token was
 * refused, `latchkey token` exits 3 with the next step instead of printing its token —
 * from the session cache or the sealed file — until a new login.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encryptedFileStore } from '../../packages/client/src/secrets/encrypted-file.ts';
import { apiCall } from '../fixtures/api-call.ts';
import { buildCli, cleanEnv, cliDeviceLogin, runCli, tempDir } from '../fixtures/cli-runner.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const PASSPHRASE = 'correct horse battery staple';
let worker: RunningWorker;
/** Accepts connections and never answers. */
let silent: TcpServer;
const held: Socket[] = [];
/** Answers /v1/me as a hostile server would: a 401 whose words try to steer the terminal, or a page that is not JSON. */
let hostile: Server;

before(async () => {
  buildCli();
  worker = await startWorker({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s' });
  silent = createTcpServer((socket) => {
    socket.on('error', () => {}); // the CLI hangs up when its wait is over
    held.push(socket);
  });
  hostile = createServer((request, response) => {
    if (request.url?.startsWith('/nonsense')) return response.writeHead(200).end('<html>hello</html>');
    response.writeHead(401, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ error: 'invalid_token', error_description: 'the session was revoked\u001b[2J\u001b]0;pwned\u0007' }),
    );
  });
  await Promise.all([
    new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve)),
    new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve)),
  ]);
});
after(async () => {
  for (const socket of held) socket.destroy();
  silent?.close();
  hostile?.close();
  await worker?.stop();
});

const portOf = (server: TcpServer | Server) => (server.address() as { port: number }).port;

/** A config directory of its own, a passphrase, and a private runtime directory for the session cache. */
async function freshEnv(): Promise<{ env: Record<string, string>; dir: string; runtime: string }> {
  const dir = await tempDir();
  const runtime = await tempDir('latchkey-runtime-');
  const env = cleanEnv({
    HOME: dir,
    LATCHKEY_CONFIG_DIR: dir,
    LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE,
    LATCHKEY_SERVER: worker.url,
    XDG_RUNTIME_DIR: runtime,
  });
  return { env, dir, runtime };
}

async function login(env: Record<string, string>, name: string, email: string) {
  const result = await cliDeviceLogin(['login', '--device', '--name', name, '--secret-store', 'encrypted-file'], env, {
    server: worker.url,
    email,
  });
  assert.equal(result.code, 0, result.stderr);
}

/** Ends a context's session as its person would from elsewhere (another sign-in of theirs). */
async function revokeSession(env: Record<string, string>, name: string, email: string) {
  const status = await runCli(['status', '--json', '--context', name], env);
  assert.equal(status.code, 0, status.stderr);
  const sid = JSON.parse(status.stdout).session_id as string;
  const elsewhere = (await deviceLogin(worker.url, email)).access_token;
  const revoked = await apiCall(worker.url, 'POST', `/v1/sessions/${sid}/revoke`, elsewhere);
  assert.equal(revoked.status, 200);
}

/** Points a context at another server in config.json (its sealed token stays as it is). */
async function repoint(dir: string, name: string, server: string) {
  const path = join(dir, 'config.json');
  const config = JSON.parse(await readFile(path, 'utf8'));
  config.contexts[name].server = server;
  await writeFile(path, JSON.stringify(config));
}

/** The same environment without the passphrase: only the session cache (or nothing) can answer. */
const withoutPassphrase = (env: Record<string, string>) => {
  const { LATCHKEY_SECRET_PASSPHRASE: _drop, ...rest } = env;
  return rest;
};

describe('status --all', () => {
  test('every context against its own server at once, the current one marked; down, silent and hostile servers are rows', async () => {
    const { env, dir } = await freshEnv();
    for (const name of ['home', 'down', 'silent', 'hostile', 'nonsense']) await login(env, name, 'ada@all.example');
    await login(env, 'work', 'ada@all.example'); // the last login is current
    await revokeSession(env, 'home', 'ada@all.example');
    await repoint(dir, 'down', `http://127.0.0.1:${await freePort()}`);
    await repoint(dir, 'silent', `http://127.0.0.1:${portOf(silent)}`);
    await repoint(dir, 'hostile', `http://127.0.0.1:${portOf(hostile)}`);
    await repoint(dir, 'nonsense', `http://127.0.0.1:${portOf(hostile)}/nonsense`);

    const started = Date.now();
    const result = await runCli(['status', '--all', '--json'], env);
    const elapsed = Date.now() - started;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(elapsed < 7000, `the silent server was waited for once, in parallel, within its bound (${elapsed} ms)`);
    const rows = JSON.parse(result.stdout) as Array<Record<string, string | boolean | null>>;
    const byName = Object.fromEntries(rows.map((row) => [row.context, row]));
    assert.deepEqual(Object.keys(byName).sort(), ['down', 'home', 'hostile', 'nonsense', 'silent', 'work']);
    assert.deepEqual(
      rows.filter((row) => row.current).map((row) => row.context),
      ['work'],
    );
    assert.deepEqual(Object.fromEntries(rows.map((row) => [row.context, row.state])), {
      home: 'revoked',
      down: 'unreachable',
      silent: 'unreachable',
      hostile: 'revoked',
      nonsense: 'server_error',
      work: 'valid',
    });
    assert.equal(byName.work?.email, 'ada@all.example');
    assert.match(String(byName.work?.expires_at), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.equal(byName.home?.next_step, 'run `latchkey login --name home`');
    assert.match(String(byName.silent?.message), /no answer within 3 s/);

    const human = await runCli(['status', '--all'], env);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^ +CONTEXT +SERVER +WHO +STATE +EXPIRES\n/);
    assert.match(human.stdout, /^\* +work +http:\/\/\S+ +ada@all\.example +valid +in 1[45] minutes$/m);
    assert.match(human.stdout, /^ +home +\S+ +ada@all\.example +revoked +-$/m);
    assert.match(human.stderr, /^home: .*; run `latchkey login --name home`$/m);
    // The hostile server's words reach the terminal as text, never as escape sequences.
    assert.doesNotMatch(human.stdout + human.stderr, /[\u001b\u0007]/);

    // What status --all heard is kept: `token` no longer hands out the revoked session's token.
    const token = await runCli(['token', '--context', 'home'], env);
    assert.equal(token.code, 3);
    assert.equal(token.stdout, '');
    assert.match(token.stderr, /run `latchkey login --name home` again/);
    assert.equal((await runCli(['token', '--context', 'work'], env)).code, 0, 'the others are untouched');
  });

  test('--all checks stored logins only: with --context, --server or --token-stdin it is a usage error', async () => {
    const { env } = await freshEnv();
    for (const extra of [['--context', 'x'], ['--server', worker.url], ['--token-stdin']]) {
      const result = await runCli(['status', '--all', ...extra], env);
      assert.equal(result.code, 2, extra.join(' '));
    }
    const none = await runCli(['status', '--all', '--json'], env);
    assert.equal(none.code, 0, none.stderr);
    assert.deepEqual(JSON.parse(none.stdout), []);
  });
});

describe('a session the server ended', () => {
  test('revoked by its person elsewhere: once status hears it, token exits 3 (cache and sealed file alike) until a new login', async () => {
    const { env, runtime } = await freshEnv();
    await login(env, 'laptop', 'bob@all.example');
    const first = await runCli(['token', '--context', 'laptop'], env);
    assert.equal(first.code, 0, first.stderr);
    const cached = await runCli(['token', '--context', 'laptop'], withoutPassphrase(env));
    assert.equal(cached.stdout, first.stdout, 'served from the session cache');

    await revokeSession(env, 'laptop', 'bob@all.example');
    const status = await runCli(['status', '--context', 'laptop'], env);
    assert.equal(status.code, 3);
    assert.match(status.stderr, /the server ended the session of context "laptop".*run `latchkey login --name laptop` again/);
    assert.deepEqual(await readdir(join(runtime, 'latchkey')), [], 'the cached access token is gone');

    for (const runEnv of [withoutPassphrase(env), env]) {
      const refused = await runCli(['token', '--context', 'laptop'], runEnv);
      // 3, not 5: refused before the sealed file is opened (no passphrase needed to be told).
      assert.equal(refused.code, 3, refused.stderr);
      assert.equal(refused.stdout, '');
      assert.match(refused.stderr, /run `latchkey login --name laptop` again/);
    }
    const orgs = await runCli(['orgs', 'list', '--context', 'laptop'], env);
    assert.equal(orgs.code, 3, 'every command that would use it says so');

    await login(env, 'laptop', 'bob@all.example');
    const again = await runCli(['token', '--context', 'laptop'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.notEqual(again.stdout, first.stdout);
  });

  test('its refresh token refused: token says so once from the server, then without asking it or opening the file', async () => {
    const { env, dir } = await freshEnv();
    await login(env, 'default', 'eve@all.example');
    await revokeSession(env, 'default', 'eve@all.example');
    // The access token is made to look expired, so the next run must refresh.
    const store = encryptedFileStore({
      dir,
      name: 'encrypted-file',
      keySource: { source: 'scrypt', passphrase: async () => PASSPHRASE },
    });
    const stored = await store.read('default');
    assert.ok(stored?.refresh_token);
    await store.write('default', { ...stored, expires_at: Math.floor(Date.now() / 1000) - 1 });

    const refused = await runCli(['token'], env);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /the server ended the session of context "default".*run `latchkey login` again/);
    // Now the server is not even there, nor the passphrase: the mark alone answers.
    await repoint(dir, 'default', `http://127.0.0.1:${await freePort()}`);
    const { LATCHKEY_SERVER: _server, ...offlineEnv } = withoutPassphrase(env);
    const offline = await runCli(['token'], offlineEnv);
    assert.equal(offline.code, 3, offline.stderr);
    assert.match(offline.stderr, /run `latchkey login` again/);
  });
});
