/**
 * The credential helpers in process (test/fixtures/cli-fakes.ts), fed what a hostile tool
 * or remote could make them read: git requests for hosts not bound, in odd framings, with
 * paths, users, ports and control characters; Docker server URLs that only look like a
 * bound registry; kubectl asking for another ExecCredential version. Whenever the answer
 * is "not this host", nothing at all is printed and no secret is opened. git's and
 * Docker's token is the context's stored one, here from a session cache that holds it (so
 * no server is needed); kubectl's comes from LATCHKEY_TOKEN.
 */
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { CliDeps } from '../../cli/deps.ts';
import { CliError } from '../../cli/errors.ts';
import { type Context, sealedPath } from '../../packages/client/src/config.ts';
import { encryptedFileStore } from '../../packages/client/src/secrets/encrypted-file.ts';
import { tokenCache } from '../../packages/client/src/token-cache.ts';
import { fakeConfigDir, type Ran, runWith } from '../fixtures/cli-fakes.ts';

const SERVER = 'https://latchkey.example';
/** An unsigned JWT shape with an exp: the helpers read exp, never verify (the token is their own). */
const EXP = 1_900_000_000;
const JWT = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ sub: 'u', exp: EXP })).toString('base64url')}.c2ln`;

/** A config dir holding one logged-in context, "work", with the given bindings. */
async function loggedIn(extra: Partial<Context> = {}): Promise<string> {
  const dir = await fakeConfigDir();
  const context: Context = {
    server: SERVER,
    clientId: 'latchkey-cli',
    secretStore: 'encrypted-file',
    secretStoreReason: 'test',
    user: { sub: 'u', email: 'u@example.com' },
    kind: 'user',
    org: null,
    project: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify({ version: 1, current: 'work', contexts: { work: context } }));
  return dir;
}

/**
 * Secrets whose session cache holds `token` for every context, as a cached `latchkey
 * token` finds it; each context asked for is pushed on `asked` (a secret was opened).
 */
function storedToken(dir: string, env: Record<string, string>, token: string, asked: string[] = []): CliDeps['secrets'] {
  return {
    dir,
    env,
    keychain: {
      probe: async () => ({ available: false, reason: 'no keychain in this test' }),
      fileKey: async () => {
        throw new CliError('secret_store_unavailable', 'no keychain in this test');
      },
    },
    promptPassphrase: null,
    tokenCache: {
      get: async (context) => {
        asked.push(context);
        return { access_token: token, expires_at: EXP };
      },
      stamp: async () => null,
      put: async () => {},
      forget: async () => {},
    },
  };
}

function helper(dir: string, stdin: string, token = JWT, argv = ['credential-helper', 'get'], asked?: string[]): Promise<Ran> {
  const env = { LATCHKEY_CONFIG_DIR: dir };
  return runWith(argv, { dir, stdin, env, secrets: storedToken(dir, env, token, asked) });
}

/** A session cache with nothing in it (as after a reboot): a helper must open the sealed file. */
const emptyCache: NonNullable<CliDeps['secrets']['tokenCache']> = {
  get: async () => null,
  stamp: async () => null,
  put: async () => {},
  forget: async () => {},
};

const answer = `username=latchkey\npassword=${JWT}\npassword_expiry_utc=${EXP}\n`;
const nothing: Ran = { code: 0, stdout: '', stderr: '' };

describe('git credential-helper', () => {
  test('a bound host gets the token: the server’s own host, and one setup-git added (http on loopback)', async () => {
    const dir = await loggedIn({ gitHosts: ['127.0.0.1:8080', 'git.example.com'] });
    for (const request of [
      'protocol=https\nhost=latchkey.example\n\n',
      'protocol=https\nhost=LATCHKEY.example:443\npath=org/repo.git\n\n',
      'protocol=https\nhost=git.example.com\nwwwauth[]=Basic realm="x"\ncapability[]=authtype\n\n',
      'protocol=http\nhost=127.0.0.1:8080\n\n',
      // CR LF lines, as git's own reader accepts them
      'protocol=https\r\nhost=latchkey.example\r\n\r\n',
      // no blank line: the request ends where the input does
      'protocol=https\nhost=latchkey.example',
    ]) {
      assert.deepEqual(await helper(dir, request), { code: 0, stdout: answer, stderr: '' }, JSON.stringify(request));
    }
    const opaque = await helper(dir, 'protocol=https\nhost=latchkey.example\n\n', 'lk_key_abc');
    assert.equal(opaque.stdout, 'username=latchkey\npassword=lk_key_abc\n', 'an API key has no expiry to tell');
  });

  test('anything else gets nothing at all, exit 0, so git asks its next helper', async () => {
    const dir = await loggedIn({ gitHosts: ['127.0.0.1:8080'] });
    const asked: string[] = [];
    for (const request of [
      'protocol=https\nhost=evil.example\n\n',
      'protocol=https\nhost=latchkey.example.evil.example\n\n',
      'protocol=https\nhost=evil-latchkey.example\n\n',
      'protocol=https\nhost=latchkey.example/evil\n\n',
      'protocol=https\nhost=user@latchkey.example\n\n',
      'protocol=https\nhost=latchkey.example:8443\n\n',
      'protocol=https\nhost=latchkey.example \n\n',
      'protocol=http\nhost=latchkey.example\n\n',
      'protocol=http\nhost=127.0.0.1:8081\n\n',
      'protocol=ssh\nhost=latchkey.example\n\n',
      'protocol=https\n\n',
      'host=latchkey.example\n\n',
      // what follows the blank line is another request's business, not this one's
      'protocol=https\nhost=evil.example\n\nhost=latchkey.example\n',
      // a second host that disagrees, a CR inside a value, a NUL, a line without "="
      'protocol=https\nhost=evil.example\nhost=latchkey.example\n\n',
      'protocol=https\nhost=evil.example\rhost=latchkey.example\n\n',
      'protocol=https\nhost=latchkey.example\u0000.evil.example\n\n',
      'protocol=https\nlatchkey.example\nhost=latchkey.example\n\n',
      '',
    ]) {
      assert.deepEqual(await helper(dir, request, JWT, undefined, asked), nothing, JSON.stringify(request));
    }
    assert.deepEqual(asked, [], 'no secret was opened for a host not bound');
  });

  test('not logged in: nothing is bound, nothing printed; store, erase and unknown operations do nothing', async () => {
    const empty = await fakeConfigDir();
    assert.deepEqual(await helper(empty, 'protocol=https\nhost=latchkey.example\n\n'), nothing);
    const dir = await loggedIn();
    for (const action of ['store', 'erase', 'frobnicate']) {
      assert.deepEqual(
        await helper(dir, 'protocol=https\nhost=latchkey.example\nusername=x\npassword=y\n\n', JWT, [
          'credential-helper',
          action,
        ]),
        nothing,
        action,
      );
    }
    assert.deepEqual(await helper(dir, '', JWT, ['credential-helper']), {
      code: 2,
      stdout: '',
      stderr: 'latchkey: usage: latchkey credential-helper get|store|erase\n',
    });
  });

  test('a token that could add a line to git’s input is refused, not printed', async () => {
    const dir = await loggedIn();
    const ran = await helper(dir, 'protocol=https\nhost=latchkey.example\n\n', 'tok\nhost=evil.example');
    assert.equal(ran.code, 3);
    assert.equal(ran.stdout, '');
    assert.match(ran.stderr, /the token holds characters no credential has/);
  });
});

describe('a sealed file and no terminal (git, Docker and kubectl run the helpers without one)', () => {
  /** A logged-in context whose token is in the encrypted file only; the helper has no passphrase and no terminal. */
  async function sealedOnly(): Promise<string> {
    const dir = await loggedIn();
    const keySource = { source: 'scrypt' as const, passphrase: async () => PASSPHRASE };
    await encryptedFileStore({ dir, name: 'encrypted-file', keySource }).write('work', {
      access_token: JWT,
      refresh_token: 'refresh',
      expires_at: EXP,
    });
    return dir;
  }
  const request = 'protocol=https\nhost=latchkey.example\n\n';
  const PASSPHRASE = 'violet kettle 42';

  test('with a session cache, the error names `latchkey token` at a terminal, and after it the helper answers', async () => {
    const dir = await sealedOnly();
    const runtime = await mkdtemp(join(tmpdir(), 'latchkey-runtime-'));
    await chmod(runtime, 0o700);
    const env = { LATCHKEY_CONFIG_DIR: dir, XDG_RUNTIME_DIR: runtime };
    // The session cache as main.ts makes it, empty yet: the helper must open the file, and cannot.
    const cache = tokenCache({ env, configDir: dir, uid: process.getuid?.() });
    assert.notEqual(cache, null);
    const secrets = { ...storedToken(dir, env, JWT), tokenCache: cache };
    const ran = await runWith(['credential-helper', 'get'], { dir, env, stdin: request, secrets });
    assert.deepEqual(ran, {
      code: 5,
      stdout: '',
      stderr:
        'latchkey: the encrypted file needs LATCHKEY_SECRET_PASSPHRASE (no terminal to ask on), or run `latchkey token` ' +
        'at a terminal first: the access token it reads from the file stays in the session cache ($XDG_RUNTIME_DIR) and ' +
        'serves the credential helpers until a minute before it expires (one it had to renew is cached by the next run: ' +
        'run it twice then)\n',
    });
    // What the message says, done: `latchkey token` at a terminal, then the helper without one.
    const questions: string[] = [];
    const atTerminal = async (question: string) => {
      questions.push(question);
      return PASSPHRASE;
    };
    const token = await runWith(['token'], { dir, env, secrets: { ...secrets, promptPassphrase: atTerminal } });
    assert.deepEqual(token, { code: 0, stdout: `${JWT}\n`, stderr: '' });
    assert.deepEqual(questions, [`Passphrase for the encrypted file ${sealedPath(dir, 'work')}: `]);
    assert.deepEqual(await runWith(['credential-helper', 'get'], { dir, env, stdin: request, secrets }), {
      code: 0,
      stdout: answer,
      stderr: '',
    });
  });

  test('without one (no $XDG_RUNTIME_DIR, or LATCHKEY_TOKEN_CACHE=0), it does not promise what no cache can keep', async () => {
    const dir = await sealedOnly();
    const only = 'latchkey: the encrypted file needs LATCHKEY_SECRET_PASSPHRASE (no terminal to ask on)\n';
    for (const [env, tokenCache] of [
      [{ LATCHKEY_CONFIG_DIR: dir }, null],
      [{ LATCHKEY_CONFIG_DIR: dir, LATCHKEY_TOKEN_CACHE: '0' }, { ...emptyCache }],
    ] as const) {
      const secrets = { ...storedToken(dir, env, JWT), tokenCache };
      const ran = await runWith(['credential-helper', 'get'], { dir, env, stdin: request, secrets });
      assert.deepEqual(ran, { code: 5, stdout: '', stderr: only }, JSON.stringify(env));
    }
  });
});

describe('a token passed in is bound to no host', () => {
  test('git, Docker and kubectl (given --context) get the stored token of their context, not LATCHKEY_TOKEN (as `exec --context other` sets it)', async () => {
    const dir = await loggedIn({ gitHosts: ['git.example.com'], dockerRegistries: ['registry.example'] });
    // What `latchkey exec --context other -- …` gives its child, which then runs git or docker.
    const env = { LATCHKEY_CONFIG_DIR: dir, LATCHKEY_TOKEN: 'token-of-other', LATCHKEY_SERVER: 'https://other.example' };
    const git = await runWith(['credential-helper', '--context', 'work', 'get'], {
      dir,
      env,
      stdin: 'protocol=https\nhost=git.example.com\n\n',
      secrets: storedToken(dir, env, JWT),
    });
    assert.deepEqual(git, { code: 0, stdout: answer, stderr: '' });
    const docker = await runWith(['docker-credential', 'get'], {
      dir,
      env,
      stdin: 'registry.example\n',
      secrets: storedToken(dir, env, JWT),
    });
    assert.equal(docker.code, 0, docker.stderr);
    assert.equal(JSON.parse(docker.stdout).Secret, JWT);
    // kubectl: the context its kubeconfig names (without one, LATCHKEY_TOKEN still wins, as for `latchkey token`).
    const kube = (argv: string[]) => runWith(argv, { dir, env, secrets: storedToken(dir, env, JWT) });
    assert.equal(JSON.parse((await kube(['kube-credential', '--context', 'work'])).stdout).status.token, JWT);
    assert.equal(JSON.parse((await kube(['kube-credential'])).stdout).status.token, 'token-of-other');
  });
});

describe('setup-git', () => {
  test('binds the hosts to the context and writes gh-style URL-scoped helpers; refuses plain http elsewhere', async () => {
    const dir = await loggedIn();
    const calls: string[][] = [];
    const runProgram = async (file: string, args: string[]) => {
      calls.push([file, ...args]);
      return { code: 0, stdout: '', stderr: '' };
    };
    const ran = await runWith(['setup-git', '--host', '127.0.0.1:9000,git.example.com'], { dir, runProgram });
    assert.equal(ran.code, 0, ran.stderr);
    const helperLine = "!'/opt/latchkey/bin/latchkey' credential-helper --context 'work'";
    const expected = ['http://127.0.0.1:9000', 'https://127.0.0.1:9000', 'https://git.example.com'].flatMap((url) => [
      ['git', 'config', '--global', '--replace-all', `credential.${url}.helper`, ''],
      ['git', 'config', '--global', '--add', `credential.${url}.helper`, helperLine],
    ]);
    assert.deepEqual(calls, expected);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(config.contexts.work.gitHosts, ['127.0.0.1:9000', 'git.example.com']);

    calls.length = 0;
    assert.equal((await runWith(['setup-git'], { dir, runProgram })).code, 0);
    assert.deepEqual(
      calls.map((call) => call[4]),
      ['credential.https://latchkey.example.helper', 'credential.https://latchkey.example.helper'],
    );

    for (const [host, message] of [
      ['http://git.example.com', /plain http would send the token in the clear/],
      ['git.example.com/evil', /--host takes a host/],
      ['user@git.example.com', /--host takes a host/],
      ['', /--host needs a host/],
    ] as const) {
      calls.length = 0;
      const refused = await runWith(['setup-git', '--host', host], { dir, runProgram });
      assert.equal(refused.code, 2, host);
      assert.match(refused.stderr, message);
      assert.deepEqual(calls, [], 'git was not touched');
    }
    const failing = await runWith(['setup-git'], {
      dir,
      runProgram: async () => ({ code: 255, stdout: '', stderr: 'error: could not lock config file' }),
    });
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /git config --global --replace-all failed: error: could not lock config file/);
  });
});

describe('docker-credential', () => {
  const docker = (dir: string, action: string, stdin: string, token = JWT) => {
    const env = { LATCHKEY_CONFIG_DIR: dir };
    return runWith(['docker-credential', action], { dir, stdin, env, secrets: storedToken(dir, env, token) });
  };
  const notFound: Ran = { code: 1, stdout: 'credentials not found in native keychain\n', stderr: '' };

  test('a bound registry gets the token; any other server, or no login, is the spec’s not found', async () => {
    const dir = await loggedIn({ dockerRegistries: ['registry.example:5000', 'ghcr.example'] });
    for (const serverUrl of ['registry.example:5000', 'https://registry.example:5000/v2/', 'https://GHCR.example']) {
      const ran = await docker(dir, 'get', `${serverUrl}\n`);
      assert.equal(ran.code, 0, serverUrl);
      assert.deepEqual(JSON.parse(ran.stdout), { ServerURL: serverUrl, Username: 'latchkey', Secret: JWT });
    }
    for (const serverUrl of [
      'latchkey.example',
      'registry.example',
      'registry.example:5001',
      'registry.example:5000.evil.example',
      'user@registry.example:5000',
      'https://evil.example/registry.example:5000',
      // plain http carries the token in the clear: loopback only, as for git
      'http://registry.example:5000',
      '',
    ]) {
      assert.deepEqual(await docker(dir, 'get', serverUrl), notFound, serverUrl);
    }
    assert.deepEqual(await docker(await fakeConfigDir(), 'get', 'registry.example:5000'), notFound);
    assert.deepEqual(JSON.parse((await docker(dir, 'list', '')).stdout), {
      'registry.example:5000': 'latchkey',
      'ghcr.example': 'latchkey',
    });
    assert.deepEqual(await docker(await fakeConfigDir(), 'list', ''), { code: 0, stdout: '{}\n', stderr: '' });
    assert.deepEqual(await docker(dir, 'store', '{"ServerURL":"x","Username":"u","Secret":"s"}'), nothing);
    assert.deepEqual(await docker(dir, 'erase', 'registry.example:5000'), nothing);
    assert.deepEqual(await docker(dir, 'get', 'registry.example:5000', 'tok\nen'), {
      code: 1,
      stdout: 'latchkey: the token holds characters no credential has; log in again\n',
      stderr: '',
    });
    assert.equal((await docker(dir, 'delete', '')).code, 2);
  });

  test('setup-docker keeps every other key of config.json and leaves a file it cannot read alone', async () => {
    const dir = await loggedIn();
    const dockerDir = await mkdtemp(join(tmpdir(), 'latchkey-docker-'));
    const env = { LATCHKEY_CONFIG_DIR: dir, DOCKER_CONFIG: dockerDir, HOME: dockerDir, PATH: '/nonexistent' };
    await writeFile(join(dockerDir, 'config.json'), '{"auths":{"a.example":{}},"credHelpers":{"gcr.io":"gcloud"},"x":[1]}');
    const ran = await runWith(['setup-docker', '--registry', 'Registry.example:5000'], { dir, env });
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(JSON.parse(await readFile(join(dockerDir, 'config.json'), 'utf8')), {
      auths: { 'a.example': {} },
      credHelpers: { 'gcr.io': 'gcloud', 'registry.example:5000': 'latchkey' },
      x: [1],
    });
    assert.match(
      ran.stderr,
      /make it with:\n {2}ln -s '\/opt\/latchkey\/bin\/latchkey' '\/usr\/local\/bin\/docker-credential-latchkey'\n/,
    );
    const bound = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).contexts.work.dockerRegistries;
    assert.deepEqual(bound, ['registry.example:5000']);

    for (const broken of ['{"auths":', '[1,2]', '{"credHelpers":"latchkey"}']) {
      await writeFile(join(dockerDir, 'config.json'), broken);
      const refused = await runWith(['setup-docker', '--registry', 'other.example'], { dir, env });
      assert.equal(refused.code, 1, broken);
      assert.match(refused.stderr, /it was left as it is/);
      assert.equal(await readFile(join(dockerDir, 'config.json'), 'utf8'), broken);
      const still = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).contexts.work.dockerRegistries;
      assert.deepEqual(still, ['registry.example:5000'], 'nothing was bound either');
    }
    assert.equal((await runWith(['setup-docker'], { dir, env })).code, 2);
    assert.equal((await runWith(['setup-docker', '--registry', 'r.example/path'], { dir, env })).code, 2);
  });
});

describe('setup-docker over a config.json it does not own alone', () => {
  test('a symlinked config.json (dotfiles) stays a symlink: the file it names is written', async () => {
    const dir = await loggedIn();
    const home = await mkdtemp(join(tmpdir(), 'latchkey-docker-'));
    await mkdir(join(home, 'dotfiles'));
    await mkdir(join(home, '.docker'));
    await writeFile(join(home, 'dotfiles', 'docker.json'), '{"auths":{"a.example":{}}}');
    await symlink('../dotfiles/docker.json', join(home, '.docker', 'config.json'));
    const env = { LATCHKEY_CONFIG_DIR: dir, HOME: home, PATH: '/nonexistent' };
    const ran = await runWith(['setup-docker', '--registry', 'registry.example'], { dir, env });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal((await lstat(join(home, '.docker', 'config.json'))).isSymbolicLink(), true);
    assert.equal(await readlink(join(home, '.docker', 'config.json')), '../dotfiles/docker.json');
    assert.deepEqual(JSON.parse(await readFile(join(home, 'dotfiles', 'docker.json'), 'utf8')), {
      auths: { 'a.example': {} },
      credHelpers: { 'registry.example': 'latchkey' },
    });
    assert.deepEqual(await readdir(join(home, 'dotfiles')), ['docker.json'], 'no temporary file left beside it');

    // A link to nothing is not replaced by a file of its own, and nothing is bound.
    const linkDir = await mkdtemp(join(tmpdir(), 'latchkey-docker-'));
    await symlink(join(home, 'dotfiles', 'gone.json'), join(linkDir, 'config.json'));
    const refused = await runWith(['setup-docker', '--registry', 'third.example'], {
      dir,
      env: { ...env, DOCKER_CONFIG: linkDir },
    });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /config\.json is a symbolic link to a file that does not exist; it was left as it is/);
    assert.equal((await lstat(join(linkDir, 'config.json'))).isSymbolicLink(), true);
    const bound = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).contexts.work.dockerRegistries;
    assert.deepEqual(bound, ['registry.example'], 'nothing was bound either');
  });

  test('a registry another helper answered for is taken from it, and said so (stderr, and --json)', async () => {
    const dir = await loggedIn();
    const dockerDir = await mkdtemp(join(tmpdir(), 'latchkey-docker-'));
    const env = { LATCHKEY_CONFIG_DIR: dir, DOCKER_CONFIG: dockerDir, HOME: dockerDir, PATH: '/nonexistent' };
    await writeFile(
      join(dockerDir, 'config.json'),
      '{"credHelpers":{"gcr.io":"gcloud","ecr.example":"ecr-login","mine.example":"latchkey","kept.example":"other"}}',
    );
    const ran = await runWith(['setup-docker', '--json', '--registry', 'gcr.io,ecr.example,mine.example,new.example'], {
      dir,
      env,
    });
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(JSON.parse(ran.stdout).replaced, [
      { registry: 'gcr.io', helper: 'gcloud' },
      { registry: 'ecr.example', helper: 'ecr-login' },
    ]);
    assert.match(ran.stderr, /^replacing gcloud for gcr\.io\nreplacing ecr-login for ecr\.example\nDocker now asks latchkey/);
    assert.deepEqual(JSON.parse(await readFile(join(dockerDir, 'config.json'), 'utf8')).credHelpers, {
      'gcr.io': 'latchkey',
      'ecr.example': 'latchkey',
      'mine.example': 'latchkey',
      'kept.example': 'other',
      'new.example': 'latchkey',
    });
    const again = await runWith(['setup-docker', '--json', '--registry', 'gcr.io'], { dir, env });
    assert.deepEqual(JSON.parse(again.stdout).replaced, [], 'already latchkey: nothing replaced');
    assert.doesNotMatch(again.stderr, /replacing/);
  });
});

describe('kube-credential', () => {
  const kube = (dir: string, info: string | undefined, token = JWT) =>
    runWith(['kube-credential'], {
      dir,
      env: { LATCHKEY_CONFIG_DIR: dir, LATCHKEY_TOKEN: token, ...(info === undefined ? {} : { KUBERNETES_EXEC_INFO: info }) },
    });

  test('an ExecCredential v1 with the expiry read from the token; none for a token without one', async () => {
    const dir = await loggedIn();
    const v1 = '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}';
    for (const info of [v1, undefined]) {
      const ran = await kube(dir, info);
      assert.equal(ran.code, 0, ran.stderr);
      assert.deepEqual(JSON.parse(ran.stdout), {
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        status: { token: JWT, expirationTimestamp: new Date(EXP * 1000).toISOString().replace('.000Z', 'Z') },
      });
    }
    const bogusExp = `e30.${Buffer.from('{"exp":1e300}').toString('base64url')}.x`;
    for (const token of ['lk_key_abc', bogusExp]) {
      assert.deepEqual(JSON.parse((await kube(dir, undefined, token)).stdout).status, { token });
    }
  });

  test('another ExecCredential version, or KUBERNETES_EXEC_INFO that is not JSON, is a usage error naming v1', async () => {
    const dir = await loggedIn();
    const beta = await kube(dir, '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential"}');
    assert.deepEqual(beta, {
      code: 2,
      stdout: '',
      stderr:
        'latchkey: kubectl asked for an ExecCredential of client.authentication.k8s.io/v1beta1; latchkey kube-credential ' +
        "speaks client.authentication.k8s.io/v1: set that apiVersion in the kubeconfig's exec stanza\n",
    });
    assert.equal((await kube(dir, 'nope')).code, 2);
    assert.equal((await kube(dir, 'null')).code, 2);
  });
});
