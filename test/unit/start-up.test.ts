/**
 * Start-up as an operator meets it: a malformed LATCHKEY_SIGNING_KEYS stops the Node and
 * Deno entries before they say they listen (not at the first request, after a deploy
 * looked healthy), and the npm start scripts keep the state they create — which holds the
 * generated private signing key — readable by its owner only.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { generateSigningKey } from '../../worker/tokens/signing-keys.ts';
import { freePort } from '../fixtures/free-port.ts';
import { DENO_FLAGS } from '../fixtures/store-worker/http-store.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

type Run = { code: number | null; output: string; listening: boolean };

/**
 * Runs `command` until it exits or says it listens (then runs `meanwhile` and stops it):
 * what an operator watching the terminal would see.
 */
async function run(
  command: string[],
  env: Record<string, string>,
  options: { cwd?: string; seconds?: number; meanwhile?: () => Promise<unknown> } = {},
): Promise<Run> {
  const { cwd = ROOT, seconds = 60 } = options;
  const child = spawn(command[0] as string, command.slice(1), { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (name: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, name);
    } catch {}
  };
  let timer: NodeJS.Timeout | undefined;
  const listening = new Promise<boolean>((resolve) => {
    const read = (chunk: Buffer) => {
      output += chunk;
      if (/listening|Ready on/i.test(output)) resolve(true);
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    exited.then(() => resolve(false));
    timer = setTimeout(() => resolve(false), seconds * 1000);
  });
  const saw = await listening;
  clearTimeout(timer);
  try {
    if (saw) await options.meanwhile?.();
  } finally {
    if (child.exitCode === null) {
      signal('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
    }
    // npm exits on SIGTERM at once while wrangler may linger on its pipes: end the whole group.
    signal('SIGKILL');
    child.stdout?.destroy();
    child.stderr?.destroy();
  }
  return { code: saw ? null : child.exitCode, output, listening: saw };
}

const baseEnv = async () => {
  const port = await freePort();
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    PORT: String(port),
    LATCHKEY_ISSUER: `http://127.0.0.1:${port}`,
  };
};

const key = await generateSigningKey();
const other = await generateSigningKey();
const p256 = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);

const malformed: [string, string][] = [
  ['not JSON', '{"kty":"OKP"'],
  ['an empty list', '[]'],
  ['a public key only', JSON.stringify([{ ...key, d: undefined }])],
  ['a truncated coordinate in the second key', JSON.stringify([key, { ...key, x: String(key.x).slice(0, 30) }])],
  ['a private part from another key', JSON.stringify([{ ...key, d: other.d }])],
  [
    'a P-256 key whose y is another key’s',
    JSON.stringify([{ ...p256, y: (await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)).y }]),
  ],
];

const entries: [string, (env: Record<string, string>) => string[]][] = [
  ['node', () => [process.execPath, 'worker/entry/node.ts']],
  ['deno', () => [join(ROOT, 'node_modules/.bin/deno'), ...DENO_FLAGS, 'worker/entry/deno.ts']],
];

for (const [runtime, command] of entries) {
  describe(`the ${runtime} entry refuses to start on a malformed LATCHKEY_SIGNING_KEYS`, () => {
    for (const [name, value] of malformed) {
      test(name, async () => {
        const env = { ...(await baseEnv()), LATCHKEY_STORE: 'memory', LATCHKEY_SIGNING_KEYS: value };
        const result = await run(command(env), env);
        assert.equal(result.listening, false, `it said it listens:\n${result.output}`);
        assert.notEqual(result.code, 0, result.output);
        assert.match(result.output, /latchkey: LATCHKEY_SIGNING_KEYS: /);
        for (const secret of [key.d, other.d, p256.d]) assert.ok(!result.output.includes(String(secret)), 'no key material');
      });
    }

    test('the control: well-formed keys (Ed25519 limited to signing, and P-256) start', async () => {
      const env = {
        ...(await baseEnv()),
        LATCHKEY_STORE: 'memory',
        LATCHKEY_SIGNING_KEYS: JSON.stringify([{ ...key, key_ops: ['sign'] }, p256]),
      };
      const result = await run(command(env), env);
      assert.equal(result.listening, true, result.output);
    });
  });
}

describe('on Cloudflare (wrangler dev), which starts at the first request', () => {
  test('that request is refused with a 500 naming LATCHKEY_SIGNING_KEYS, before any key is used', async () => {
    const dir = await checkout();
    try {
      // wrangler dev reads secrets from .dev.vars, as `wrangler secret put` would provide them.
      await writeFile(join(dir, '.dev.vars'), `LATCHKEY_SIGNING_KEYS='${JSON.stringify([{ ...key, d: other.d }])}'\n`);
      const env = { ...(await baseEnv()), CI: '1', NO_COLOR: '1' };
      let answer: { status: number; body: string } | undefined;
      const result = await run(npmScript('start'), env, {
        cwd: dir,
        seconds: 90,
        meanwhile: async () => {
          const response = await fetch(`http://127.0.0.1:${env.PORT}/.well-known/jwks.json`);
          answer = { status: response.status, body: await response.text() };
        },
      });
      assert.equal(result.listening, true, result.output);
      assert.equal(answer?.status, 500, answer?.body);
      assert.match(answer?.body ?? '', /LATCHKEY_SIGNING_KEYS: entry 0 is not a usable key pair/);
      assert.ok(!answer?.body.includes(String(other.d)) && !answer?.body.includes(String(key.x)), 'no key material');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** What group and others may do with `path` (0 is right). */
async function groupOtherBits(path: string): Promise<number> {
  return (await stat(path)).mode & 0o077;
}

async function treeModes(dir: string): Promise<string[]> {
  const wrong: string[] = [];
  if ((await groupOtherBits(dir)) !== 0) wrong.push(`${dir} ${((await stat(dir)).mode & 0o777).toString(8)}`);
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const bits = await groupOtherBits(path).catch(() => 0);
    if (bits !== 0) wrong.push(`${path} ${((await stat(path)).mode & 0o777).toString(8)}`);
  }
  return wrong;
}

/**
 * A checkout in a temporary directory (the project's files linked in), so the scripts run
 * exactly as written, with a typical umask of 022, and create their state afresh.
 */
async function checkout(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-checkout-'));
  for (const name of [
    'worker',
    'shared',
    'packages',
    'scripts',
    'node_modules',
    'package.json',
    'wrangler.toml',
    'tsconfig.json',
  ]) {
    await symlink(join(ROOT, name), join(dir, name));
  }
  return dir;
}

const npmScript = (script: string) => ['/bin/sh', '-c', `umask 022 && exec npm run --silent ${script}`];

describe('local state made by the start scripts is private (0700 directories, 0600 files)', () => {
  test('npm run start:deno: .latchkey-state, even one left world-readable by an older run', async () => {
    const dir = await checkout();
    try {
      const state = join(dir, '.latchkey-state');
      await mkdir(state, { mode: 0o755 });
      await chmod(state, 0o755);
      await writeFile(join(state, 'old-file'), 'x', { mode: 0o644 });
      const env = await baseEnv();
      const result = await run(npmScript('start:deno'), { ...env, DENO_NO_UPDATE_CHECK: '1' }, { cwd: dir });
      assert.equal(result.listening, true, result.output);
      assert.ok(
        (await readdir(state)).some((name) => name.startsWith('deno-kv.sqlite')),
        'the Deno KV file is there',
      );
      assert.deepEqual(await treeModes(state), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('npm start (wrangler dev): .wrangler/state', async () => {
    const dir = await checkout();
    try {
      const env = { ...(await baseEnv()), CI: '1', NO_COLOR: '1' };
      // The state appears with the first request that needs the store: it generates the keys.
      const jwks = () => fetch(`http://127.0.0.1:${env.PORT}/.well-known/jwks.json`).then((response) => response.status);
      let status: number | undefined;
      const result = await run(npmScript('start'), env, {
        cwd: dir,
        seconds: 90,
        meanwhile: async () => {
          status = await jwks();
        },
      });
      assert.equal(result.listening, true, result.output);
      assert.equal(status, 200, result.output);
      const state = join(dir, '.wrangler', 'state');
      const files = await readdir(state, { recursive: true });
      assert.ok(
        files.some((name) => name.endsWith('.sqlite')),
        `the KV and Durable Object state is there: ${files.join(', ')}`,
      );
      assert.deepEqual(await treeModes(state), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
