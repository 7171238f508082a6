/**
 * The credential helpers of the compiled `latchkey`, driven by the real tools: git clones
 * over HTTP from a server that lets in only a latchkey token, through `setup-git`'s
 * helper; the Docker helper protocol over stdin/stdout, as `latchkey docker-credential` and
 * through a `docker-credential-latchkey` symlink; the machine's kubectl reading the
 * ExecCredential from a kubeconfig exec plugin. The token each hands out is checked by the
 * running Worker (/v1/me). HOME, GIT_CONFIG_GLOBAL, DOCKER_CONFIG and KUBECONFIG all point
 * into temporary directories: nothing of the machine's own config is read or written.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { encryptedFileStore } from '../../packages/client/src/secrets/encrypted-file.ts';
import { BINARY, buildCli, cleanEnv, cliDeviceLogin, runCli, tempDir } from '../fixtures/cli-runner.ts';
import { NAMESPACES, startFakeKubeApi } from '../fixtures/fake-kube-api.ts';
import { type GitHttpServer, startGitHttpServer } from '../fixtures/git-http-server.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const ACCESS_TTL = 62; // two seconds more than the CLI's refresh margin
let worker: RunningWorker;
let home: string;
let env: Record<string, string>;

/** Whether the Worker takes the token: what every fake server here asks before letting anyone in. */
const accepted = async (token: string) =>
  (await fetch(`${worker.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status === 200;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** git or kubectl, run without blocking this process: the fake servers they talk to live in it. */
async function tool(file: string, args: string[], extra: Record<string, string> = {}) {
  const ran = await runCli(args, { ...env, ...extra }, '', [file]);
  return { status: ran.code, stdout: ran.stdout, stderr: ran.stderr };
}

before(async () => {
  buildCli();
  worker = await startWorker({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s', LATCHKEY_ACCESS_TOKEN_TTL: `${ACCESS_TTL}s` });
  home = await tempDir('latchkey-helpers-');
  env = cleanEnv({
    HOME: home,
    LATCHKEY_CONFIG_DIR: join(home, 'latchkey'),
    LATCHKEY_SECRET_PASSPHRASE: 'helpers passphrase',
    LATCHKEY_SERVER: worker.url,
    GIT_CONFIG_GLOBAL: join(home, 'gitconfig'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    DOCKER_CONFIG: join(home, 'docker'),
    KUBECONFIG: join(home, 'kubeconfig'),
  });
  // A session with a refresh token: the helpers refresh it as `latchkey token` does.
  const login = await cliDeviceLogin(['login', '--device', '--secret-store', 'encrypted-file'], env, {
    server: worker.url,
    email: 'helpers@example.com',
  });
  assert.equal(login.code, 0, login.stderr);
});
after(async () => {
  await worker?.stop();
});

describe('git', () => {
  let bound: GitHttpServer;
  let unbound: GitHttpServer;
  before(async () => {
    bound = await startGitHttpServer(accepted);
    unbound = await startGitHttpServer(accepted);
  });
  after(async () => {
    await bound?.stop();
    await unbound?.stop();
  });

  test('git clone through setup-git gets a token the server accepts, refreshed by the helper when due', async () => {
    const refused = await tool('git', ['clone', `${bound.url}/repo.git`, join(home, 'before')]);
    assert.notEqual(refused.status, 0, 'the server lets no one in without a token');

    const setup = await runCli(['setup-git', '--host', bound.host], env);
    assert.equal(setup.code, 0, setup.stderr);
    assert.match(setup.stderr, new RegExp(`for credentials to http://${bound.host}, https://${bound.host}`));
    const helpers = await tool('git', ['config', '--global', '--get-all', `credential.${bound.url}.helper`]);
    assert.deepEqual(helpers.stdout.split('\n').slice(0, 2), ['', `!'${BINARY}' credential-helper --context 'default'`]);

    const before = (await runCli(['token'], env)).stdout.trim();
    await sleep(2500); // past the refresh margin: the helper must refresh, under the lock
    const cloned = await tool('git', ['clone', `${bound.url}/repo.git`, join(home, 'clone')]);
    assert.equal(cloned.status, 0, cloned.stderr);
    assert.equal(await readFile(join(home, 'clone', 'README'), 'utf8'), 'served through latchkey\n');

    const sent = bound.authorizations.map((header) => Buffer.from(header.slice(6), 'base64').toString().split(':'));
    assert.ok(sent.length > 0);
    for (const [user, password] of sent) {
      assert.equal(user, 'latchkey');
      assert.notEqual(password, before, 'a token within the refresh margin is not handed out');
      assert.ok(await accepted(password as string));
    }
    const stored = await encryptedFileStore({
      dir: env.LATCHKEY_CONFIG_DIR as string,
      name: 'encrypted-file',
      keySource: { source: 'scrypt', passphrase: async () => env.LATCHKEY_SECRET_PASSPHRASE as string },
    }).read('default');
    assert.ok(
      sent.some(([, password]) => password === stored?.access_token),
      'the refreshed pair was stored, as `token` stores it',
    );
  });

  test('a host not bound gets nothing, even from a helper configured for every URL', async () => {
    const everywhere = await tool('git', ['config', '--global', 'credential.helper', `!'${BINARY}' credential-helper`]);
    assert.equal(everywhere.status, 0);
    try {
      const cloned = await tool('git', ['clone', `${unbound.url}/repo.git`, join(home, 'unbound')]);
      assert.notEqual(cloned.status, 0);
      assert.match(cloned.stderr, /could not read Username|Authentication failed/);
      assert.ok(unbound.requests > 0, 'git did reach the server');
      assert.deepEqual(unbound.authorizations, [], 'and sent it no credential at all');
    } finally {
      await tool('git', ['config', '--global', '--unset', 'credential.helper']);
    }
  });
});

describe('Docker', () => {
  const registry = 'registry.example:5000';
  const docker = (action: string, input: string, command = [BINARY, 'docker-credential']) =>
    runCli([action], env, input, command);

  test('setup-docker binds the registry, keeps the rest of config.json and prints the one ln -s to run', async () => {
    const dockerDir = join(home, 'docker');
    await mkdir(dockerDir, { recursive: true });
    const existing = {
      auths: { 'other.example': { auth: 'dXNlcjpwYXNz' } },
      credsStore: 'desktop',
      credHelpers: { 'gcr.io': 'gcloud' },
      currentContext: 'colima',
    };
    await writeFile(join(dockerDir, 'config.json'), JSON.stringify(existing));
    const local = join(home, '.local', 'bin');
    await mkdir(local, { recursive: true });
    const withLocal = { ...env, PATH: `${local}:${env.PATH}` };

    const setup = await runCli(['setup-docker', '--registry', registry], withLocal);
    assert.equal(setup.code, 0, setup.stderr);
    const written = JSON.parse(await readFile(join(dockerDir, 'config.json'), 'utf8'));
    assert.deepEqual(written, { ...existing, credHelpers: { 'gcr.io': 'gcloud', [registry]: 'latchkey' } });
    assert.equal((await stat(join(dockerDir, 'config.json'))).mode & 0o777, 0o600);
    const link = `ln -s '${BINARY}' '${local}/docker-credential-latchkey'`;
    assert.ok(setup.stderr.includes(`\n  ${link}\n`), setup.stderr);

    const linked = spawnSync('sh', ['-c', link]);
    assert.equal(linked.status, 0);
    const again = await runCli(['setup-docker', '--registry', registry], withLocal);
    assert.equal(again.code, 0);
    assert.doesNotMatch(again.stderr, /ln -s/, 'once on PATH, nothing more to do');
  });

  test('get, list, store, erase over stdin/stdout, as `latchkey docker-credential` and as docker-credential-latchkey', async () => {
    const bin = await tempDir('latchkey-docker-bin-');
    await symlink(BINARY, join(bin, 'docker-credential-latchkey'));
    for (const command of [[BINARY, 'docker-credential'], [join(bin, 'docker-credential-latchkey')]]) {
      for (const serverUrl of [registry, `https://${registry}/v2/`]) {
        const got = await docker('get', `${serverUrl}\n`, command);
        assert.equal(got.code, 0, got.stderr);
        const answer = JSON.parse(got.stdout);
        assert.deepEqual(Object.keys(answer), ['ServerURL', 'Username', 'Secret']);
        assert.deepEqual([answer.ServerURL, answer.Username], [serverUrl, 'latchkey']);
        assert.ok(await accepted(answer.Secret), 'the secret is a token the Worker accepts');
      }
      for (const stranger of [
        'registry.example',
        'registry.example:5001',
        'evil.example',
        'https://evil.example/registry.example:5000',
      ]) {
        assert.deepEqual(
          await docker('get', stranger, command),
          { code: 1, stdout: 'credentials not found in native keychain\n', stderr: '' },
          stranger,
        );
      }
      assert.deepEqual(JSON.parse((await docker('list', '', command)).stdout), { [registry]: 'latchkey' });
      const stored = await docker('store', JSON.stringify({ ServerURL: registry, Username: 'u', Secret: 'not-ours' }), command);
      assert.deepEqual(stored, { code: 0, stdout: '', stderr: '' });
      assert.deepEqual(await docker('erase', registry, command), { code: 0, stdout: '', stderr: '' });
      assert.notEqual(JSON.parse((await docker('get', registry, command)).stdout).Secret, 'not-ours', 'store kept nothing');
    }
  });
});

describe('kubectl', () => {
  let api: Awaited<ReturnType<typeof startFakeKubeApi>>;
  before(async () => {
    const version = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
    if (version.status !== 0) {
      throw new Error(
        `these tests need the real kubectl on PATH (\`kubectl version --client\` failed: ${version.error ?? version.stderr})`,
      );
    }
    api = await startFakeKubeApi(accepted);
  });
  after(async () => {
    await api?.stop();
  });

  /** A kubeconfig whose one user runs the compiled latchkey as its exec plugin. */
  async function kubeconfig(context: string, apiVersion = 'client.authentication.k8s.io/v1') {
    const path = join(home, `kubeconfig-${context}-${apiVersion.split('/')[1]}`);
    await writeFile(
      path,
      `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: ${api.url}
    certificate-authority-data: ${Buffer.from(api.ca).toString('base64')}
users:
- name: latchkey
  user:
    exec:
      apiVersion: ${apiVersion}
      command: ${BINARY}
      args: [kube-credential, --context, ${context}]
      interactiveMode: Never
      provideClusterInfo: false
contexts:
- name: fake
  context: {cluster: fake, user: latchkey}
current-context: fake
`,
    );
    return path;
  }

  test('kubectl get --raw reaches the API server with the token of the ExecCredential', async () => {
    const ran = await tool('kubectl', ['get', '--raw', '/api/v1/namespaces'], { KUBECONFIG: await kubeconfig('default') });
    assert.equal(ran.status, 0, ran.stderr);
    assert.deepEqual(JSON.parse(ran.stdout), NAMESPACES);
    assert.ok(api.tokens.length > 0);
    for (const token of api.tokens) assert.ok(await accepted(token));
  });

  test('the ExecCredential: v1, the token, its expiry in RFC 3339', async () => {
    const ran = await runCli(['kube-credential'], {
      ...env,
      KUBERNETES_EXEC_INFO:
        '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}',
    });
    assert.equal(ran.code, 0, ran.stderr);
    const credential = JSON.parse(ran.stdout);
    assert.equal(credential.apiVersion, 'client.authentication.k8s.io/v1');
    assert.equal(credential.kind, 'ExecCredential');
    const exp = decodeJwt(credential.status.token).exp as number;
    assert.equal(credential.status.expirationTimestamp, new Date(exp * 1000).toISOString().replace('.000Z', 'Z'));
    assert.match(credential.status.expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  test('without a login kubectl fails and shows why; an older ExecCredential version is refused by name', async () => {
    const seen = api.tokens.length;
    const absent = await tool('kubectl', ['get', '--raw', '/api/v1/namespaces'], { KUBECONFIG: await kubeconfig('nobody') });
    assert.notEqual(absent.status, 0);
    assert.match(absent.stderr, /latchkey: no context named "nobody" \(known: default\)/);
    assert.equal(api.tokens.length, seen, 'no token was sent');

    const beta = await tool('kubectl', ['get', '--raw', '/api/v1/namespaces'], {
      KUBECONFIG: await kubeconfig('default', 'client.authentication.k8s.io/v1beta1'),
    });
    assert.notEqual(beta.status, 0);
    assert.match(beta.stderr, /latchkey kube-credential speaks client\.authentication\.k8s\.io\/v1/);
    assert.equal(api.tokens.length, seen);
  });
});
