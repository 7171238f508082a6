/**
 * `latchkey exec` in process (test/fixtures/cli-fakes.ts): argv reaches the child as
 * written, the child's environment holds the token and the server and none of latchkey's
 * secrets, the token comes through the same resolution as `latchkey token` (precedence,
 * server binding, refresh), and the child's end becomes latchkey's status as in a shell.
 * The real spawn, signals and all, is tested with the compiled binary (test/cli/exec.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChildEnd, CliDeps } from '../../cli/deps.ts';
import type { LatchkeyClient } from '../../packages/client/src/client.ts';
import { configStore } from '../../packages/client/src/config.ts';
import { openSecretStore } from '../../packages/client/src/secrets/select.ts';
import { fakeConfigDir, runWith } from '../fixtures/cli-fakes.ts';

const SERVER = 'https://auth.example';
const PASSPHRASE = 'exec test passphrase';

type Spawned = { file: string; args: string[]; env: Record<string, string> };

/** A runChild that records what it was asked to run and ends as told. */
function child(end: ChildEnd = { code: 0 }) {
  const spawned: Spawned[] = [];
  const runChild: CliDeps['runChild'] = async (file, args, env) => {
    spawned.push({ file, args, env });
    return end;
  };
  return { spawned, runChild };
}

/** A config dir with context "default" (or `name`) logged in to SERVER, its credential sealed with PASSPHRASE. */
async function loggedIn(credential: { access_token: string; refresh_token: string | null; expires_at: number | null }) {
  const dir = await fakeConfigDir();
  const config = configStore(dir);
  const context = {
    server: SERVER,
    clientId: 'latchkey-cli',
    secretStore: 'encrypted-file' as const,
    secretStoreReason: 'test',
    user: { sub: 'usr_1', email: 'me@example.com' },
    kind: 'user' as const,
    org: null,
    project: null,
    createdAt: '2026-01-01T00:00:00Z',
  };
  await config.write({ version: 1, current: 'default', contexts: { default: context, other: { ...context } } });
  const env = { LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE };
  const secrets = {
    dir,
    env,
    keychain: {
      probe: async () => ({ available: false as const, reason: 'none' }),
      fileKey: async () => {
        throw new Error('no keychain here');
      },
    },
    promptPassphrase: null,
    tokenCache: null,
  };
  const store = openSecretStore(secrets, 'encrypted-file');
  await store.write('default', credential);
  await store.write('other', { ...credential, access_token: 'other-access' });
  return { dir, env };
}

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

describe('latchkey exec: argv', () => {
  test('no command is a usage error with the exact message, and nothing runs', async () => {
    for (const argv of [['exec'], ['exec', '--'], ['--context', 'x', 'exec', '--']]) {
      const { spawned, runChild } = child();
      assert.deepEqual(
        await runWith(argv, { runChild }),
        { code: 2, stdout: '', stderr: 'latchkey: name the command to run: latchkey exec -- COMMAND [ARG...]\n' },
        argv.join(' '),
      );
      assert.deepEqual(spawned, []);
    }
  });

  test("everything from COMMAND on is the child's, latchkey's own flags included; before it, latchkey's", async () => {
    const env = { LATCHKEY_TOKEN: 'tok', LATCHKEY_SERVER: SERVER };
    const cases: [string[], string, string[]][] = [
      [['exec', '--', 'sh', '-c', 'echo "$1"', 'sh', '--json'], 'sh', ['-c', 'echo "$1"', 'sh', '--json']],
      [['exec', 'tool', '--help', '--context', 'x', '--', '-v'], 'tool', ['--help', '--context', 'x', '--', '-v']],
      [['exec', '--', '--help'], '--help', []],
      [['--json', 'exec', '--server', SERVER, '--', 'tool', 'a b', ''], 'tool', ['a b', '']],
    ];
    for (const [argv, file, args] of cases) {
      const { spawned, runChild } = child();
      const ran = await runWith(argv, { env, runChild });
      assert.deepEqual(ran, { code: 0, stdout: '', stderr: '' }, argv.join(' '));
      assert.deepEqual(
        spawned.map((one) => [one.file, one.args]),
        [[file, args]],
        argv.join(' '),
      );
    }
  });

  test('`exec --help` is latchkey’s help for exec, and runs nothing', async () => {
    const { spawned, runChild } = child();
    const ran = await runWith(['exec', '--help'], { runChild });
    assert.equal(ran.code, 0);
    assert.match(ran.stdout, /^Usage:\n {2}latchkey exec \[--context NAME\] -- COMMAND \[ARG\.\.\.\]/);
    assert.deepEqual(spawned, []);
  });
});

describe('latchkey exec: the token and the environment', () => {
  test('a stored login: the child gets its access token and server, never the refresh token or the passphrase', async () => {
    const { dir, env } = await loggedIn({ access_token: 'access-1', refresh_token: 'refresh-secret-1', expires_at: inAnHour() });
    const { spawned, runChild } = child();
    const parent = { ...env, PATH: '/usr/bin', HOME: '/home/me', LATCHKEY_ORG: 'acme', LATCHKEY_ID_TOKEN: 'ci-id-token' };
    const ran = await runWith(['exec', '--', 'env'], { dir, env: parent, runChild });
    assert.deepEqual(ran, { code: 0, stdout: '', stderr: '' });
    const [seen] = spawned;
    assert.deepEqual(seen?.env, {
      PATH: '/usr/bin',
      HOME: '/home/me',
      LATCHKEY_CONFIG_DIR: dir,
      LATCHKEY_ORG: 'acme',
      LATCHKEY_TOKEN: 'access-1',
      LATCHKEY_SERVER: SERVER,
    });
    const values = Object.values(seen?.env ?? {}).join('\n');
    for (const secret of ['refresh-secret-1', PASSPHRASE, 'ci-id-token']) assert.ok(!values.includes(secret), secret);
  });

  test('--context picks that context’s token, wherever it is given, and the current one does not change', async () => {
    const { dir, env } = await loggedIn({ access_token: 'access-1', refresh_token: null, expires_at: inAnHour() });
    for (const argv of [
      ['exec', '--context', 'other', '--', 'true'],
      ['--context', 'other', 'exec', 'true'],
    ]) {
      const { spawned, runChild } = child();
      assert.equal((await runWith(argv, { dir, env, runChild })).code, 0);
      assert.equal(spawned[0]?.env.LATCHKEY_TOKEN, 'other-access', argv.join(' '));
    }
    assert.equal((await configStore(dir).read()).current, 'default');
  });

  test('a token about to expire is refreshed first, through the client, and the child gets the new one', async () => {
    const { dir, env } = await loggedIn({
      access_token: 'old-access',
      refresh_token: 'refresh-1',
      expires_at: Math.floor(Date.now() / 1000) + 30,
    });
    const refreshed: string[] = [];
    const client = async (server: string) => {
      assert.equal(server, SERVER);
      return {
        refresh: async (token: string) => {
          refreshed.push(token);
          return { access_token: 'new-access', refresh_token: 'refresh-2', expires_in: 900, token_type: 'Bearer' };
        },
      } as unknown as LatchkeyClient;
    };
    const { spawned, runChild } = child();
    assert.equal((await runWith(['exec', '--', 'true'], { dir, env, client, runChild })).code, 0);
    assert.deepEqual(refreshed, ['refresh-1']);
    assert.equal(spawned[0]?.env.LATCHKEY_TOKEN, 'new-access');
    assert.ok(!Object.values(spawned[0]?.env ?? {}).includes('refresh-2'));
  });

  test('a token that is not one line of visible characters (a hostile refresh answer, a pasted one) runs nothing', async () => {
    const { dir, env } = await loggedIn({ access_token: 'old', refresh_token: 'refresh-1', expires_at: 0 });
    const client = async () =>
      ({ refresh: async () => ({ access_token: 'evil\u0000\nLD_PRELOAD=x', expires_in: 900 }) }) as unknown as LatchkeyClient;
    for (const [given, deps] of [
      ['hostile refresh', { dir, env, client }],
      ['pasted', { env: { LATCHKEY_TOKEN: 'one two', LATCHKEY_SERVER: SERVER } }],
    ] as const) {
      const { spawned, runChild } = child();
      assert.deepEqual(
        await runWith(['exec', 'true'], { ...deps, runChild }),
        { code: 3, stdout: '', stderr: 'latchkey: the token is not one line of visible characters; nothing was run\n' },
        given,
      );
      assert.deepEqual(spawned, []);
    }
  });

  test('LATCHKEY_TOKEN given wins over the stored login (as for `token`) and the sealed file is not opened', async () => {
    const { dir } = await loggedIn({ access_token: 'access-1', refresh_token: null, expires_at: inAnHour() });
    const { spawned, runChild } = child();
    // No passphrase: opening the sealed file would fail with exit 5.
    const env = { LATCHKEY_CONFIG_DIR: dir, LATCHKEY_TOKEN: ' given \n' };
    assert.equal((await runWith(['exec', 'true'], { dir, env, runChild })).code, 0);
    assert.equal(spawned[0]?.env.LATCHKEY_TOKEN, 'given');
    assert.equal(spawned[0]?.env.LATCHKEY_SERVER, SERVER, 'the current context names the server');
  });

  test('a token given with no server named anywhere: the child gets no LATCHKEY_SERVER rather than a guess', async () => {
    const { spawned, runChild } = child();
    const ran = await runWith(['exec', 'true'], { env: { LATCHKEY_TOKEN: 'given', LATCHKEY_SERVER: '' }, runChild });
    assert.equal(ran.code, 0);
    assert.deepEqual(spawned[0]?.env, { LATCHKEY_TOKEN: 'given' });
  });

  test('not logged in, or a stored credential asked to go to another server: exit 3 and nothing runs', async () => {
    const { spawned, runChild } = child();
    const none = await runWith(['exec', 'true'], { runChild });
    assert.equal(none.code, 3);
    assert.match(none.stderr, /not logged in/);
    const { dir, env } = await loggedIn({ access_token: 'access-1', refresh_token: null, expires_at: inAnHour() });
    const elsewhere = await runWith(['exec', '--server', 'https://evil.example', '--', 'true'], { dir, env, runChild });
    assert.equal(elsewhere.code, 3);
    assert.match(elsewhere.stderr, /does not send it to https:\/\/evil\.example/);
    assert.deepEqual(spawned, []);
  });
});

describe('latchkey exec: the exit status', () => {
  const env = { LATCHKEY_TOKEN: 'tok', LATCHKEY_SERVER: SERVER };
  test('the child’s code, 128+N for signal N, 127 not found, 126 not runnable, each with the shell’s words', async () => {
    const cases: [ChildEnd, number, string][] = [
      [{ code: 0 }, 0, ''],
      [{ code: 3 }, 3, ''],
      [{ code: 255 }, 255, ''],
      [{ signal: 'SIGKILL' }, 137, ''],
      [{ signal: 'SIGTERM' }, 143, ''],
      [{ signal: 'SIGINT' }, 130, ''],
      [{ notStarted: 'ENOENT' }, 127, 'latchkey: tool\\u001b[2J: command not found\n'],
      [{ notStarted: 'EACCES' }, 126, 'latchkey: tool\\u001b[2J: cannot run it (permission denied)\n'],
      [{ notStarted: 'E2BIG' }, 126, 'latchkey: tool\\u001b[2J: cannot run it (E2BIG)\n'],
    ];
    for (const [end, code, stderr] of cases) {
      const { runChild } = child(end);
      assert.deepEqual(
        await runWith(['exec', 'tool\u001b[2J'], { env, runChild }),
        { code, stdout: '', stderr },
        JSON.stringify(end),
      );
    }
  });

  test('an empty command name is "not found", as in a shell, without asking to spawn it', async () => {
    const { spawned, runChild } = child();
    assert.deepEqual(await runWith(['exec', '--', ''], { env, runChild }), {
      code: 127,
      stdout: '',
      stderr: 'latchkey: : command not found\n',
    });
    assert.deepEqual(spawned, []);
  });
});
