/**
 * @latchkey/client as a user gets it: `npm pack` of packages/client, installed into a fresh
 * project, imported by plain `node` (JavaScript from dist/, no type stripping: node does not
 * strip types inside node_modules), and asked through its public API where acme's files go
 * and which variables it reads.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;
const NODE = join(ROOT, 'node_modules/.bin/node');

/** What the installed package answers, run as a user's script would run it. */
const SCRIPT = `
import { registerHooks } from 'node:module';
// Every module the package asks for, to see what a token() run loads.
const asked = [];
registerHooks({ resolve: (specifier, context, next) => (asked.push(specifier), next(specifier, context)) });
const { createLatchkey, LatchkeyError, ERROR_CODES } = await import('@latchkey/client');
const out = { exports: Object.keys(await import('@latchkey/client')).sort() };
const home = process.argv[2];
const withToken = createLatchkey({ appName: 'acme', environment: { HOME: home, ACME_TOKEN: 'from-acme', LATCHKEY_TOKEN: 'from-latchkey' } });
out.token = await withToken.token();
out.zodForToken = asked.some((specifier) => specifier === 'zod' || specifier.startsWith('zod/'));
const xdg = createLatchkey({ appName: 'acme', environment: { HOME: home, XDG_CONFIG_HOME: home + '/xdg' } });
out.xdgDir = xdg.configDir;
out.homeDir = createLatchkey({ appName: 'acme', environment: { HOME: home } }).configDir;
out.named = createLatchkey({ appName: 'acme', environment: { HOME: home, ACME_CONFIG_DIR: home + '/mine' } }).configDir;
out.env = xdg.product.env;
const error = await createLatchkey({ appName: 'acme', loginCommand: 'acme auth login', environment: { HOME: home, LATCHKEY_TOKEN: 'x' } })
  .token().catch((caught) => caught);
out.error = { isLatchkeyError: error instanceof LatchkeyError, code: error.code, message: error.message };
out.codes = ERROR_CODES.length;
console.log(JSON.stringify(out));
`;

test('npm pack, install into a temp project, import with plain node: acme’s config dir and variables', async () => {
  const work = await mkdtemp(join(tmpdir(), 'latchkey-client-pack-'));
  const tarballs = join(work, 'tarballs');
  const project = join(work, 'project');
  const home = join(work, 'home');
  execFileSync('mkdir', ['-p', tarballs, project, home]);

  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', tarballs], {
    cwd: join(ROOT, 'packages/client'),
    encoding: 'utf8',
  }).trim();
  assert.equal(packed.split('\n').at(-1), 'latchkey-client-0.1.0.tgz');
  assert.deepEqual(await readdir(tarballs), ['latchkey-client-0.1.0.tgz']);
  assert.ok(!existsSync(join(ROOT, 'packages/client/dist')), 'postpack removed dist/');

  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--silent', join(tarballs, 'latchkey-client-0.1.0.tgz')],
    { cwd: project, stdio: 'pipe' },
  );
  const installed = join(project, 'node_modules/@latchkey/client');
  assert.ok(existsSync(join(installed, 'dist/index.js')));
  assert.ok(existsSync(join(installed, 'dist/types/packages/client/src/index.d.ts')));
  assert.ok(existsSync(join(project, 'node_modules/zod')), 'zod installed as its dependency');

  await writeFile(join(project, 'check.mjs'), SCRIPT);
  const out = JSON.parse(execFileSync(NODE, ['check.mjs', home], { cwd: project, encoding: 'utf8' }));
  assert.deepEqual(out.exports, ['ERROR_CODES', 'LATCHKEY', 'LatchkeyError', 'createLatchkey', 'printable', 'stepUpChallenge']);
  assert.equal(out.xdgDir, join(home, 'xdg/acme'));
  assert.equal(out.homeDir, join(home, '.config/acme'));
  assert.equal(out.named, join(home, 'mine'));
  assert.deepEqual(out.env, {
    token: 'ACME_TOKEN',
    server: 'ACME_SERVER',
    configDir: 'ACME_CONFIG_DIR',
    secretStore: 'ACME_SECRET_STORE',
    passphrase: 'ACME_SECRET_PASSPHRASE',
    tokenCache: 'ACME_TOKEN_CACHE',
  });
  assert.equal(out.token, 'from-acme');
  assert.equal(out.zodForToken, false, 'token() from ACME_TOKEN loads neither zod nor the login flows');
  assert.equal(out.error.isLatchkeyError, true);
  assert.equal(out.error.code, 'not_logged_in');
  assert.match(out.error.message, /acme auth login/);
  assert.doesNotMatch(out.error.message, /latchkey/i);
  assert.equal(out.codes, 18);
  // Reading acme's config made nothing of latchkey's.
  assert.ok(!existsSync(join(home, '.config/latchkey')));

  // The shipped declarations type a user's TypeScript: a wrong use is an error, a right one is not.
  await writeFile(
    join(project, 'typed.ts'),
    [
      "import { createLatchkey, LatchkeyError, stepUpChallenge, type ErrorCode } from '@latchkey/client';",
      "const acme = createLatchkey({ appName: 'acme', server: 'https://auth.acme.dev', env: { token: 'ACME_TOKEN' } });",
      'const token: Promise<string> = acme.token({ context: "work" });',
      "const code: ErrorCode = new LatchkeyError('usage', 'x').code;",
      'const who = acme.login({ onDeviceCode: (c) => c.userCode.toUpperCase() }).then((r) => r.user.email);',
      "const stepped: Promise<string> = acme.stepUp('123456', { context: 'work' });",
      'const maxAge: number | null | undefined = stepUpChallenge(\'Bearer error="insufficient_user_authentication"\')?.maxAge;',
      '// @ts-expect-error: not a secret store',
      "acme.login({ secretStore: 'plaintext' });",
      'void token; void code; void who; void stepped; void maxAge;',
    ].join('\n'),
  );
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      files: ['typed.ts'],
    }),
  );
  const checked = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', project], { encoding: 'utf8' });
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
});
