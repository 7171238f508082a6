/**
 * `npm run fuzz -- --seconds N [--target node-memory|workerd-kv] [--seed S]`: the fuzz of
 * test/conformance/fuzz.test.ts for a time budget instead of a count, against a server it
 * starts (node-memory by default; workerd-kv is the production bundle under a raw workerd
 * serve). Endpoint after endpoint, 200 requests at a time, each batch its own seed; prints
 * the counts per endpoint, and each failure's minimal request. Exit 1 on any failure.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startWorker } from '../fixtures/worker-server.ts';
import { startWorkerdServe } from '../fixtures/workerd-serve.ts';
import { ENDPOINTS } from './grammar.ts';
import { abbreviated, type Failure, fuzzEndpoint, prepareLive } from './run.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    target: { type: 'string', default: 'node-memory' },
    seed: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error('--seconds takes a positive number');
if (values.target !== 'node-memory' && values.target !== 'workerd-kv')
  throw new Error('--target takes node-memory or workerd-kv');
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);

const server = values.target === 'workerd-kv' ? await startWorkerdServe() : await startWorker({}, { target: 'node-memory' });
const failures: Failure[] = [];
const sent = new Map<string, number>();
try {
  const { live, granted } = await prepareLive(server.url);
  console.log(`fuzz seed: ${seed}, target ${values.target}, ${seconds} s`);
  const deadline = performance.now() + seconds * 1000;
  for (let batch = 0; performance.now() < deadline; batch++) {
    const endpoint = ENDPOINTS[batch % ENDPOINTS.length];
    if (!endpoint) break;
    const result = await fuzzEndpoint(server.url, live, granted, endpoint, { seed: seed + batch, runs: 200, concurrency: 8 });
    const name = `${endpoint.method} ${endpoint.route}`;
    sent.set(name, (sent.get(name) ?? 0) + result.sent);
    for (const failure of result.failures) {
      failures.push(failure);
      const file = join(tmpdir(), `latchkey-fuzz-${seed + batch}.json`);
      await writeFile(file, `${JSON.stringify(failure)}\n`);
      console.log(`FAILED (seed ${seed + batch}; the row is in ${file}): ${abbreviated(failure)}`);
    }
  }
  for (const [name, count] of sent) console.log(`${name}: ${count} generated requests`);
  console.log(`${[...sent.values()].reduce((a, b) => a + b, 0)} requests, ${failures.length} failures`);
} finally {
  await server.stop();
}
process.exitCode = failures.length > 0 ? 1 : 0;
