/**
 * @latchkey/verify on each runtime a product API may run on, against one running latchkey
 * (in process here, on the real clock): Bun and Deno run the probe as scripts, workerd as a
 * Worker started by wrangler; Node is the runtime of every other verify test. Each accepts a
 * person's access token and an API key and refuses a token whose signature was damaged.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { unstable_startWorker } from 'wrangler';
import { apiJsonCall, ok } from '../fixtures/api-call.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import type { ProbeAnswer } from '../fixtures/verify-runtimes/probe.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PROBE = join(ROOT, 'test/fixtures/verify-runtimes');
// Asynchronous: the issuer answering the probe runs in this very process.
const run = promisify(execFile);

let app: InProcess;
let expected: ProbeAnswer;
let credentials: { ISSUER: string; TOKEN: string; KEY: string };

before(async () => {
  app = await startInProcess({}, Date.now());
  const token = (await deviceLogin(app.base, 'runtime@example.com')).access_token;
  await ok(apiJsonCall(app.base, 'POST', '/v1/orgs', token, { slug: 'acme' }));
  const key = String((await ok(apiJsonCall(app.base, 'POST', '/v1/orgs/acme/keys', token, { name: 'k', role: 'member' }))).key);
  credentials = { ISSUER: app.base, TOKEN: token, KEY: key };
  expected = { token: 'user:runtime@example.com', key: 'api_key:acme', damaged: 'refused:invalid_token' };
});
after(() => app?.close());

async function probeWith(file: string, args: string[]): Promise<ProbeAnswer> {
  const { stdout } = await run(join(ROOT, 'node_modules/.bin', file), [...args, join(PROBE, 'cli.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...credentials },
    timeout: 60_000,
  });
  return JSON.parse(stdout);
}

describe('@latchkey/verify on every runtime', () => {
  test('Bun', async () => {
    assert.deepEqual(await probeWith('bun', ['run']), expected);
  });

  test('Deno, allowed only the issuer and the environment', async () => {
    assert.deepEqual(
      await probeWith('deno', ['run', '--no-lock', '--quiet', '--allow-net=127.0.0.1', '--allow-env', '--deny-read']),
      expected,
    );
  });

  test('workerd (a Worker)', async () => {
    const worker = await unstable_startWorker({
      config: join(PROBE, 'wrangler.jsonc'),
      dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, logLevel: 'none' },
    });
    try {
      await worker.ready;
      const url = await worker.url;
      const answer = await fetch(url, {
        method: 'POST',
        body: JSON.stringify({ issuer: credentials.ISSUER, token: credentials.TOKEN, key: credentials.KEY }),
      });
      assert.equal(answer.status, 200, await answer.clone().text());
      assert.deepEqual(await answer.json(), expected);
    } finally {
      await worker.dispose();
    }
  });
});
