/**
 * The pure parts of sign-in UX, in process (test/fixtures/cli-fakes.ts for commands): the
 * passphrase rule; prompts through the fakes' `passphrases` queue (the compiled binary
 * at a pseudo-terminal is test/cli/login-ux.test.ts); which displays count as answering;
 * the session id an offline logout names; contexts kept from before `via` existed.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { displayProblem, type SocketTarget, xTargets } from '../../cli/open-browser.ts';
import { createClient } from '../../packages/client/src/client.ts';
import { sessionIdOf } from '../../packages/client/src/logout.ts';
import { encryptedFileStore } from '../../packages/client/src/secrets/encrypted-file.ts';
import { passphraseWeakness } from '../../packages/client/src/secrets/passphrase.ts';
import { fakeConfigDir, runWith } from '../fixtures/cli-fakes.ts';

const SERVER = 'http://127.0.0.1:9';

describe('the passphrase rule', () => {
  test('at least 12 characters; no character or group of up to 3 repeated; no run of consecutive characters', () => {
    const rows: [string, string | null][] = [
      ['', 'it has 0 characters, fewer than 12'],
      ['x', 'it has 1 character, fewer than 12'],
      ['elevenchars', 'it has 11 characters, fewer than 12'],
      ['ééééééééééé', 'it has 11 characters, fewer than 12'], // characters, not UTF-16 units
      ['aaaaaaaaaaaa', 'it is one character repeated'],
      ['abababababab', 'it is a group of 2 characters repeated'],
      ['abcabcabcabc', 'it is a group of 3 characters repeated'],
      ['abcdefghijkl', 'it is a run of consecutive characters'],
      ['ABCDEFGHIJKL', 'it is a run of consecutive characters'],
      ['lkjihgfedcba', 'it is a run of consecutive characters'],
      ['123456789012', 'it is a run of consecutive characters'],
      ['210987654321', 'it is a run of consecutive characters'],
      ['abcdabcdabcd', null], // a group of 4: past what the rule names
      ['a passphrase', null],
      ['correct horse battery staple', null],
      ['123456789013', null],
    ];
    for (const [passphrase, weakness] of rows) assert.equal(passphraseWeakness(passphrase), weakness, passphrase);
  });
});

/** A server that answers /v1/me for any token, and counts what it is asked. */
function fakeServer() {
  const asked: string[] = [];
  const fetch = (async (input: string | URL | Request) => {
    asked.push(String(input));
    const me = {
      sub: 'usr_1',
      kind: 'api_key',
      email: 'ada@example.com',
      org: 'acme',
      project: null,
      scope: 'read',
      exp: Math.floor(Date.now() / 1000) + 3600,
      session_id: null,
      client_id: 'latchkey-cli',
    };
    return new Response(JSON.stringify(me), { headers: { 'content-type': 'application/json' } });
  }) as typeof globalThis.fetch;
  return { asked, client: async (server: string, clientId: string) => createClient({ server, clientId, fetch }) };
}

const paste = ['login', '--with-token', '--server', SERVER, '--secret-store', 'encrypted-file'];

describe('passphrases asked at the terminal (the fakes’ queue)', () => {
  test('a new file: the passphrase is chosen, checked, typed twice; the third try may succeed', async () => {
    const dir = await fakeConfigDir();
    const server = fakeServer();
    const ran = await runWith(paste, {
      dir,
      stdin: 'lk_key',
      client: server.client,
      passphrases: ['short', 'violet kettle 42', 'violet kettle 43', 'violet kettle 42', 'violet kettle 42'],
    });
    assert.equal(ran.code, 0, ran.stderr);
    const path = join(dir, 'secrets', 'default.enc');
    assert.match(ran.stderr, new RegExp(`^Choose a passphrase for the encrypted file ${path}\\n\\(at least 12 characters`));
    assert.match(ran.stderr, /That passphrase is too weak: it has 5 characters, fewer than 12\.\nChoose .*\(try 2 of 3\)/);
    assert.match(ran.stderr, /The two entries differ\.\nChoose .*\(try 3 of 3\)/);
    const store = encryptedFileStore({
      dir,
      name: 'encrypted-file',
      keySource: { source: 'scrypt', passphrase: async () => 'violet kettle 42' },
    });
    assert.equal((await store.read('default'))?.access_token, 'lk_key');
  });

  test('three failed tries: exit 5, wrong_passphrase, and the server never asked', async () => {
    const server = fakeServer();
    const ran = await runWith([...paste, '--json'], {
      stdin: 'lk_key',
      client: server.client,
      passphrases: ['x', 'y', 'z'],
    });
    assert.equal(ran.code, 5);
    assert.equal(JSON.parse(ran.stdout).error.code, 'wrong_passphrase');
    assert.match(
      ran.stderr,
      /no passphrase chosen for .* in 3 tries \(too weak: it has 1 character, fewer than 12\); nothing was stored/,
    );
    assert.deepEqual(server.asked, []);
  });

  test('an existing file: three tries at the terminal, one from LATCHKEY_SECRET_PASSPHRASE; each error says where it came from', async () => {
    const dir = await fakeConfigDir();
    const server = fakeServer();
    const env = { LATCHKEY_CONFIG_DIR: dir };
    assert.equal(
      (
        await runWith(paste, {
          dir,
          env,
          stdin: 'lk_key',
          client: server.client,
          passphrases: ['good passphrase', 'good passphrase'],
        })
      ).code,
      0,
    );

    const third = await runWith(['token'], { dir, env, passphrases: ['one', 'two', 'good passphrase'] });
    assert.deepEqual([third.code, third.stdout], [0, 'lk_key\n'], third.stderr);
    assert.match(third.stderr, /Wrong passphrase \(try 3 of 3\)/);

    const typed = await runWith(['token'], { dir, env, passphrases: ['one', 'two', 'three'] });
    assert.equal(typed.code, 5);
    assert.match(typed.stderr, /wrong passphrase for .*default\.enc \(typed 3 times\)/);
    assert.doesNotMatch(typed.stderr, /LATCHKEY_SECRET_PASSPHRASE/);

    const fromEnv = await runWith(['token'], { dir, env: { ...env, LATCHKEY_SECRET_PASSPHRASE: 'not it' }, passphrases: [] });
    assert.equal(fromEnv.code, 5);
    assert.match(fromEnv.stderr, /wrong passphrase for .*default\.enc \(from LATCHKEY_SECRET_PASSPHRASE\)/);
  });

  test('a weak LATCHKEY_SECRET_PASSPHRASE cannot make a file; the server is not asked', async () => {
    const dir = await fakeConfigDir();
    const server = fakeServer();
    const ran = await runWith(paste, {
      dir,
      env: { LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: 'x' },
      stdin: 'k',
      client: server.client,
    });
    assert.equal(ran.code, 5);
    assert.match(
      ran.stderr,
      /LATCHKEY_SECRET_PASSPHRASE is too weak to seal a new file .* \(it has 1 character, fewer than 12\)/,
    );
    assert.deepEqual(server.asked, []);
  });
});

test('a token of two lines (pasted, in LATCHKEY_TOKEN, on --token-stdin) is refused before it is sent, and never echoed', async () => {
  // The real fetch: it refuses such a header itself, in Node's words quoting the whole value.
  const client = async (server: string, clientId: string) => createClient({ server, clientId });
  const token = 'lk_secret_first_line\nsecond_line';
  for (const [argv, env, stdin] of [
    [paste, { LATCHKEY_SECRET_PASSPHRASE: 'correct horse battery' }, token],
    [['status', '--server', SERVER], { LATCHKEY_TOKEN: token }, undefined],
    [['status', '--token-stdin', '--server', SERVER], {}, token],
  ] as const) {
    const dir = await fakeConfigDir();
    const ran = await runWith([...argv], { dir, env: { LATCHKEY_CONFIG_DIR: dir, ...env }, stdin, client });
    assert.equal(ran.code, 3, ran.stderr);
    assert.match(ran.stderr, /the token is not one line of visible characters .*; it was not sent/);
    assert.doesNotMatch(ran.stdout + ran.stderr, /lk_secret_first_line/);
  }
});

describe('login --with-token over "default" kept by an older latchkey (no `via`)', () => {
  test('an API key context counts as pasted and is replaced; a person’s is not', async () => {
    for (const [kind, replaced] of [
      ['api_key', true],
      ['user', false],
    ] as const) {
      const dir = await fakeConfigDir();
      const context = {
        server: SERVER,
        clientId: 'latchkey-cli',
        secretStore: 'encrypted-file',
        secretStoreReason: 'old',
        user: { sub: 'usr_1', email: 'ada@example.com' },
        kind,
        org: null,
        project: null,
        createdAt: '2026-01-01T00:00:00.000Z',
      };
      await writeFile(
        join(dir, 'config.json'),
        JSON.stringify({ version: 1, current: 'default', contexts: { default: context } }),
      );
      const env = { LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: 'good passphrase' };
      const ran = await runWith(paste, { dir, env, stdin: 'lk_key', client: fakeServer().client });
      assert.equal(ran.code, replaced ? 0 : 2, ran.stderr);
      const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      assert.equal(config.contexts.default.via, replaced ? 'with-token' : undefined);
      if (!replaced) assert.match(ran.stderr, /holds the sign-in of ada@example\.com/);
    }
  });
});

describe('which display answers', () => {
  const only =
    (...open: string[]) =>
    async (target: SocketTarget) =>
      open.includes('path' in target ? target.path : `${target.host}:${target.port}`);

  test('DISPLAY forms: the local socket (file or abstract), TCP 6000+N, or none judged', () => {
    assert.deepEqual(xTargets(':0'), [{ path: '/tmp/.X11-unix/X0' }, { path: '\0/tmp/.X11-unix/X0' }]);
    assert.deepEqual(xTargets('unix:3.1'), [{ path: '/tmp/.X11-unix/X3' }, { path: '\0/tmp/.X11-unix/X3' }]);
    assert.deepEqual(xTargets('localhost:10.0'), [{ host: 'localhost', port: 6010 }]);
    assert.deepEqual(xTargets('[::1]:2'), [{ host: '::1', port: 6002 }]);
    assert.equal(xTargets('/private/tmp/com.apple.launchd.x/org.xquartz:0'), null);
    assert.equal(xTargets('garbage'), null);
  });

  test('a problem only where nothing answers; macOS and Windows are not judged', async () => {
    const linux = (env: Record<string, string>, connects = only()) => displayProblem('linux', env, connects);
    assert.equal(await linux({ DISPLAY: ':0' }, only('\0/tmp/.X11-unix/X0')), null);
    assert.equal(await linux({ DISPLAY: ':99' }), 'DISPLAY=:99 but no X server answers at /tmp/.X11-unix/X99');
    assert.equal(
      await linux({ DISPLAY: ':1', WAYLAND_DISPLAY: 'wayland-0', XDG_RUNTIME_DIR: '/run/user/1' }, only('/run/user/1/wayland-0')),
      null,
    );
    assert.equal(
      await linux({ WAYLAND_DISPLAY: 'wayland-0' }),
      'WAYLAND_DISPLAY=wayland-0 but no XDG_RUNTIME_DIR to find its socket in',
    );
    assert.equal(await linux({}), 'neither DISPLAY nor WAYLAND_DISPLAY is set');
    assert.equal(await displayProblem('darwin', {}, only()), null);
  });
});

test('the session an offline logout names: the access token’s sid claim when it is a plain id, else none', () => {
  const jwt = (claims: unknown) => ['e30', Buffer.from(JSON.stringify(claims)).toString('base64url'), 'sig'].join('.');
  assert.equal(sessionIdOf(jwt({ sid: 'ses_abcdefghij0123456789' })), 'ses_abcdefghij0123456789');
  assert.equal(sessionIdOf(jwt({ sid: 'ses_x\u001b[2J' })), null);
  assert.equal(sessionIdOf(jwt({ sub: 'usr_1' })), null);
  assert.equal(sessionIdOf('lk_key_not_a_jwt'), null);
  assert.equal(sessionIdOf('a.%%%.c'), null);
});
