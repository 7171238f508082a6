/**
 * `npm run test:conformance`: the conformance suite (test/conformance/) once per runtime ×
 * store target, one after another (the suite has timing tests; two cores are not enough to
 * run targets side by side), then a table of the results. Exits non-zero if any target
 * failed. `LATCHKEY_TEST_TARGETS=node-memory,deno-kv` runs a subset.
 */
import { spawn } from 'node:child_process';
import { TARGETS } from './fixtures/worker-server.ts';

const chosen = (process.env.LATCHKEY_TEST_TARGETS ?? TARGETS.join(',')).split(',').filter(Boolean);
const unknown = chosen.filter((target) => !(TARGETS as readonly string[]).includes(target));
if (unknown.length > 0) {
  console.error(`unknown target(s) ${unknown.join(', ')}; choose from ${TARGETS.join(', ')}`);
  process.exit(2);
}

type Row = { target: string; pass: number; fail: number; skipped: number; seconds: number; code: number | null };
const rows: Row[] = [];
for (const target of chosen) {
  console.log(`\n=== conformance on ${target} ===`);
  const started = Date.now();
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', 'test/conformance/**/*.test.ts'], {
    env: { ...process.env, LATCHKEY_TEST_TARGET: target },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
    process.stdout.write(chunk);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const count = (name: string) => Number(new RegExp(`^ℹ ${name} (\\d+)`, 'm').exec(output)?.[1] ?? 0);
  rows.push({
    target,
    pass: count('pass'),
    fail: count('fail'),
    skipped: count('skipped'),
    seconds: (Date.now() - started) / 1000,
    code,
  });
}

console.log('\n| target | pass | fail | skipped | time |\n| --- | ---: | ---: | ---: | ---: |');
for (const row of rows) {
  console.log(`| ${row.target} | ${row.pass} | ${row.fail} | ${row.skipped} | ${row.seconds.toFixed(0)} s |`);
}
const failed = rows.filter((row) => row.code !== 0 || row.fail > 0 || row.pass === 0);
if (failed.length > 0) {
  console.error(`\nconformance failed on: ${failed.map((row) => row.target).join(', ')}`);
  process.exit(1);
}
