/**
 * Property-based fuzzing of every endpoint against the running server (test/fuzz/):
 * FUZZ_RUNS generated requests per endpoint (1,000 by default) from a printed seed
 * (FUZZ_SEED to replay one), after the saved regression rows. Each endpoint's line says
 * how many were sent and how many failed; a failure is shrunk to a minimal request and
 * printed as the row to add to test/fuzz/regressions.json. Also: every route the router
 * serves is fuzzed, and no secret of the run reaches the server's log.
 *
 * Runs on workerd-kv and node-memory (the runtime boundary and the app); the other targets
 * share their code paths for request handling, and each would add a minute to CI.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { startWorker, testTarget } from '../fixtures/worker-server.ts';
import { startWorkerdServe } from '../fixtures/workerd-serve.ts';
import { ENDPOINTS, type Generated, type Live } from '../fuzz/grammar.ts';
import { abbreviated, type Failure, fuzzEndpoint, judge, prepareLive, send } from '../fuzz/run.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CONCURRENCY = 8;
const FUZZED = ['workerd-kv', 'node-memory'];

type Row = { endpoint: string; request: Generated; problem: string };

describe('fuzz: generated requests to every endpoint', {
  skip: !FUZZED.includes(testTarget()) && `${FUZZED.join(' and ')} only`,
}, () => {
  let server: { url: string; logs: () => string; stop: () => Promise<void> };
  let live: Live;
  let granted: Set<string>;
  before(async () => {
    // On workerd, the production bundle under a raw workerd serve: requests reach the Worker
    // as production sends them, without wrangler dev's proxy (which also costs ~1 ms each).
    server = testTarget() === 'workerd-kv' ? await startWorkerdServe() : await startWorker();
    ({ live, granted } = await prepareLive(server.url));
    console.log(`fuzz seed: ${SEED} (FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} replays this run)`);
  });
  after(async () => {
    await server?.stop();
  });

  test('every route the router serves has a grammar', async () => {
    const dir = join(import.meta.dirname, '../../worker/routes');
    const served = new Set<string>();
    for (const file of (await readdir(dir)).filter((name) => name.endsWith('.ts'))) {
      const module = (await import(pathToFileURL(join(dir, file)).href)) as Record<string, unknown>;
      for (const value of Object.values(module)) {
        const routes = (value as { routes?: { method: string; path: string }[] } | null)?.routes;
        for (const { method, path } of Array.isArray(routes) ? routes : []) {
          if (!(method === 'ALL' && path.endsWith('*'))) served.add(`${method} ${path}`);
        }
      }
    }
    const fuzzed = new Set(ENDPOINTS.map((endpoint) => `${endpoint.method} ${endpoint.route}`));
    assert.deepEqual(
      [...served].filter((route) => !fuzzed.has(route)),
      [],
      'routes with no grammar',
    );
    assert.deepEqual(
      [...fuzzed].filter((route) => !served.has(route)),
      [],
      'grammars of no route',
    );
  });

  test('the saved regression rows pass', async () => {
    const rows = JSON.parse(await readFile(join(import.meta.dirname, '../fuzz/regressions.json'), 'utf8')) as Row[];
    for (const row of rows) {
      const endpoint = ENDPOINTS.find((candidate) => `${candidate.method} ${candidate.route}` === row.endpoint);
      assert.ok(endpoint, `regression row of no endpoint: ${row.endpoint}`);
      const problem = judge(endpoint, row.request, await send(server.url, row.request), live, granted);
      assert.equal(problem, null, `${row.endpoint} (once: ${row.problem})`);
    }
  });

  for (const [index, endpoint] of ENDPOINTS.entries()) {
    test(`${endpoint.method} ${endpoint.route}`, async () => {
      // Each endpoint its own seed from the run's, so one endpoint replays alone.
      const result = await fuzzEndpoint(server.url, live, granted, endpoint, {
        seed: SEED + index,
        runs: RUNS,
        concurrency: CONCURRENCY,
      });
      console.log(
        `fuzz: ${endpoint.method} ${endpoint.route}: ${result.sent} generated requests, ${result.failures.length} failures`,
      );
      const failure = result.failures[0] as Failure | undefined;
      if (failure) {
        // The whole row to a file (a value may be 20 KB), and its gist to the log.
        const file = join(tmpdir(), `latchkey-fuzz-${SEED + index}.json`);
        await writeFile(file, `${JSON.stringify(failure)}\n`);
        console.log(`fuzz: failed; the row for test/fuzz/regressions.json is in ${file}: ${abbreviated(failure)}`);
        assert.fail(`${failure.endpoint}: ${failure.problem}\nminimal request: ${abbreviated(failure)}`);
      }
      assert.ok(result.sent >= RUNS);
    });
  }

  test("no secret of the run reached the server's log", () => {
    const logs = server.logs();
    for (const secret of [live.access, live.refresh, live.apiKey]) assert.equal(logs.includes(secret), false);
  });
});
