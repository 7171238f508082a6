/**
 * The fixture that runs the compiled CLI (test/fixtures/cli-runner.ts): a child that exits
 * without reading the standard input it was given is a result, not an EPIPE thrown into
 * the test process.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../fixtures/cli-runner.ts';

test('a child that exits before reading its stdin: its exit code, and no EPIPE in the test process', async () => {
  // More than a pipe holds (64 KiB on Linux), so the write is still under way when the child is gone.
  const input = 'x'.repeat(4 * 1024 * 1024);
  for (let run = 0; run < 5; run++) {
    assert.deepEqual(await runCli([], {}, input, ['/bin/true']), { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(await runCli([], {}, input, ['/bin/false']), { code: 1, stdout: '', stderr: '' });
  }
});
