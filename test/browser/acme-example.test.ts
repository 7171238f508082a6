/**
 * Issue #24 as a product team meets it: Acme's CLI (examples/acme/cli) and API
 * (examples/acme/api), installed from the packed @latchkey/client and @latchkey/verify
 * tarballs into a temporary project as a user would, against the Worker (real workerd)
 * branded by examples/acme/deployment/wrangler.jsonc. The device login is approved in
 * Chromium; the API is a Node process of its own.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { unstable_readConfig } from 'wrangler';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { exitOf, tempDir, waitForStderr } from '../fixtures/cli-runner.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const NODE = process.execPath;
/** How long a revoked key may still be accepted by the example API (its ACME_KEY_CACHE_SECONDS). */
const KEY_CACHE_SECONDS = 2;

let worker: RunningWorker;
let browser: Browser;
let project: string;
let api: { url: string; process: ChildProcess };
let env: Record<string, string>;

/** `npm pack` of a package folder into `into`; the tarball's path. */
function pack(folder: string, into: string): string {
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', into], {
    cwd: join(ROOT, 'packages', folder),
    encoding: 'utf8',
  });
  return join(into, out.trim().split('\n').at(-1) as string);
}

/** The version of a dependency the repository pins, so the temp project installs the same one. */
async function pinned(name: string): Promise<string> {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8'));
  return `${name}@${lock.packages[`node_modules/${name}`].version}`;
}

function acme(args: string[], extra: Record<string, string> = {}) {
  const child = spawn(NODE, [join(project, 'acme.ts'), ...args], { cwd: project, env: { ...env, ...extra } });
  child.stdin.end();
  return child;
}
const runAcme = (args: string[], extra: Record<string, string> = {}) => exitOf(acme(args, extra));

async function startApi(): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn(NODE, [join(project, 'server.ts')], {
    cwd: project,
    detached: true,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      ACME_ISSUER: worker.url,
      ACME_KEY_CACHE_SECONDS: String(KEY_CACHE_SECONDS),
    },
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      output += chunk;
      if (output.includes('listening')) resolve();
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    child.on('exit', (code) => reject(new Error(`the example API exited ${code}:\n${output}`)));
  });
  return { url: `http://127.0.0.1:${port}`, process: child };
}

before(async () => {
  const deployment = unstable_readConfig({ config: join(ROOT, 'examples/acme/deployment/wrangler.jsonc') });
  const branding = Object.fromEntries(Object.entries(deployment.vars).map(([name, value]) => [name, String(value)]));
  [worker, browser] = await Promise.all([startWorker({ ...branding, LATCHKEY_DEVICE_POLL_INTERVAL: '1s' }), launchChromium()]);

  project = await tempDir('acme-project-');
  const tarballs = await tempDir('latchkey-tarballs-');
  const packed = [pack('client', tarballs), pack('verify', tarballs)];
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'acme', private: true, type: 'module' }));
  const registry = await Promise.all(['hono', '@hono/node-server', 'jose'].map(pinned));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--silent', ...packed, ...registry], {
    cwd: project,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await copyFile(join(ROOT, 'examples/acme/cli/acme.ts'), join(project, 'acme.ts'));
  await copyFile(join(ROOT, 'examples/acme/api/app.ts'), join(project, 'app.ts'));
  await copyFile(join(ROOT, 'examples/acme/api/server.ts'), join(project, 'server.ts'));

  const home = await tempDir('acme-home-');
  env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    ACME_SERVER: worker.url,
    ACME_SECRET_STORE: 'encrypted-file',
    ACME_SECRET_PASSPHRASE: 'a long acme passphrase, 7 words',
  };
  api = await startApi();
});

after(async () => {
  if (api?.process.pid) process.kill(-api.process.pid, 'SIGTERM');
  await browser?.close();
  await worker?.stop();
});

describe('Acme: a product CLI and API on the packed latchkey packages', () => {
  let accessToken = '';

  test('acme auth login: device flow approved in Chromium, on Acme-branded pages', async () => {
    const child = acme(['auth', 'login']);
    const done = exitOf(child);
    const [, userCode, link] = await waitForStderr(child, /Your one-time code: ([A-Z]{4}-[A-Z]{4})\nConfirm it at: (\S+)\n/);
    assert.ok(link?.startsWith(worker.url), link);

    const page = await browser.newPage();
    await page.goto(String(link));
    await page.fill('#email', 'wile@acme.example');
    await page.click('button[type=submit]');
    await page.waitForLoadState();
    assert.equal(await page.textContent('#user-code'), userCode);
    assert.equal(await page.textContent('#client-name'), 'Acme CLI');
    assert.match(await page.title(), /Acme/);
    assert.doesNotMatch(await page.title(), /latchkey/i);
    await page.click('button[value=approve]');
    await page.waitForLoadState();
    assert.equal(await page.textContent('h1'), 'Device approved');
    await page.close();

    const run = await done;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /Signed in to .* as wile@acme\.example/);
    assert.equal(run.stdout, '');
  });

  test('the sign-in is kept in Acme’s own config dir, sealed', async () => {
    const status = await runAcme(['auth', 'status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const shown = JSON.parse(status.stdout);
    assert.equal(shown.email, 'wile@acme.example');
    assert.equal(shown.client_id, 'acme-cli');
    assert.equal(shown.source, 'stored');

    const token = await runAcme(['auth', 'token']);
    assert.equal(token.code, 0, token.stderr);
    accessToken = token.stdout.trim();
    assert.equal(accessToken.split('.').length, 3);
    const files = execFileSync('find', [env.HOME as string, '-type', 'f'], { encoding: 'utf8' });
    assert.match(files, /\.config\/acme\/config\.json/);
    assert.doesNotMatch(files, /latchkey/);
    const everything = execFileSync('cat', files.trim().split('\n'), { encoding: 'latin1' });
    assert.ok(!everything.includes(accessToken), 'the access token is not stored in the clear');
  });

  test('acme whoami: the API accepts the JWT; an admin route answers insufficient_scope', async () => {
    const whoami = await runAcme(['whoami'], { ACME_API_URL: api.url });
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.deepEqual(
      { kind: JSON.parse(whoami.stdout).kind, email: JSON.parse(whoami.stdout).email },
      { kind: 'user', email: 'wile@acme.example' },
    );

    const refused = await fetch(`${api.url}/v1/projects/rocket`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    assert.equal(refused.status, 403);
    const challenge = refused.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer realm="acme-api"/);
    assert.match(challenge, /error="insufficient_scope"/);
    assert.match(challenge, /scope="admin"/);
    assert.match(challenge, new RegExp(`resource_metadata="${api.url}/\\.well-known/oauth-protected-resource"`));
    assert.equal(((await refused.json()) as { error: string }).error, 'insufficient_scope');

    const unsigned = await fetch(`${api.url}/v1/whoami`);
    assert.equal(unsigned.status, 401);
  });

  test('the API serves its protected-resource metadata (RFC 9728)', async () => {
    const response = await fetch(`${api.url}/.well-known/oauth-protected-resource`);
    assert.equal(response.status, 200);
    const metadata = (await response.json()) as Record<string, unknown>;
    assert.equal(metadata.resource, api.url);
    assert.deepEqual(metadata.authorization_servers, [worker.url]);
    assert.deepEqual(metadata.scopes_supported, ['read', 'write', 'admin']);
  });

  test('an acme API key: ACME_TOKEN wins over the sign-in, the API takes it, and refuses it within the bound once revoked', async () => {
    await ok(apiCall(worker.url, 'POST', '/v1/orgs', accessToken, { slug: 'road-runner' }));
    const made = await ok(apiCall(worker.url, 'POST', '/v1/orgs/road-runner/keys', accessToken, { name: 'ci', role: 'member' }));
    const key = String(made.key);
    // A loopback issuer makes test keys: Acme's org_key_test prefix.
    assert.match(key, /^rsk_test_/);

    const status = await runAcme(['auth', 'status', '--json'], { ACME_TOKEN: key });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).source, 'env');
    assert.equal(JSON.parse(status.stdout).kind, 'api_key');
    const printed = await runAcme(['auth', 'token'], { ACME_TOKEN: key });
    assert.equal(printed.stdout.trim(), key);

    const whoami = await runAcme(['whoami'], { ACME_TOKEN: key, ACME_API_URL: api.url });
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.equal(JSON.parse(whoami.stdout).kind, 'api_key');
    assert.equal(JSON.parse(whoami.stdout).org, 'road-runner');

    // One character changed: the checksum fails, refused without asking the issuer.
    const last = key.at(-1) === 'A' ? 'B' : 'A';
    const mistyped = await fetch(`${api.url}/v1/whoami`, { headers: { authorization: `Bearer ${key.slice(0, -1)}${last}` } });
    assert.equal(mistyped.status, 401);

    await ok(apiCall(worker.url, 'POST', `/v1/orgs/road-runner/keys/${String(made.id)}/revoke`, accessToken, {}));
    const revokedAt = Date.now();
    let refusedAfter = -1;
    while (Date.now() - revokedAt < (KEY_CACHE_SECONDS + 3) * 1000) {
      const answer = await fetch(`${api.url}/v1/whoami`, { headers: { authorization: `Bearer ${key}` } });
      if (answer.status === 401) {
        refusedAfter = Date.now() - revokedAt;
        break;
      }
      assert.equal(answer.status, 200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(refusedAfter >= 0, 'the revoked key was still accepted past the bound');
    assert.ok(refusedAfter <= (KEY_CACHE_SECONDS + 1) * 1000, `refused only after ${refusedAfter} ms`);
  });

  test('acme auth logout ends the session at the server; then the CLI says how to sign in again', async () => {
    const out = await runAcme(['auth', 'logout']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /session is ended at the server/);
    const me = await apiCall(worker.url, 'GET', '/v1/me', accessToken);
    assert.equal(me.status, 401);
    const status = await runAcme(['auth', 'status']);
    assert.equal(status.code, 1);
    assert.match(status.stderr, /acme auth login/);
    assert.doesNotMatch(status.stderr, /latchkey/);
  });
});
