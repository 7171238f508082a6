/** The CLI's own argv reader (cli/args.ts), which replaced node:util's parseArgs for start-up time. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseArgv } from '../../cli/args.ts';
import { CliError } from '../../cli/errors.ts';

const OPTIONS = {
  context: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  file: { type: 'string' },
} as const;

test('options and positionals, in every form parseArgs took', () => {
  const rows: [string[], Record<string, string | boolean>, string[]][] = [
    [['token'], {}, ['token']],
    [['status', '--json', '--context', 'work'], { json: true, context: 'work' }, ['status']],
    [['--context=work', 'token'], { context: 'work' }, ['token']],
    [['--context=', 'token'], { context: '' }, ['token']],
    [['-h'], { help: true }, []],
    [['policies', 'create', '--file', '-'], { file: '-' }, ['policies', 'create']],
    [['keys', '--', '--not-an-option'], {}, ['keys', '--not-an-option']],
    [['--context', 'a', '--context', 'b'], { context: 'b' }, []],
    [['-'], {}, ['-']],
  ];
  for (const [argv, values, positionals] of rows) {
    assert.deepEqual(parseArgv(argv, OPTIONS), { values, positionals }, argv.join(' '));
  }
});

test('usage errors: unknown options, missing values, values given to flags', () => {
  const rows: [string[], RegExp][] = [
    [['--nope'], /unknown option --nope/],
    [['--nope=1'], /unknown option --nope/],
    [['-x'], /unknown option -x/],
    [['-h=1'], /unknown option -h=1/],
    [['--context'], /--context needs a value/],
    [['--context', '--json'], /--context needs a value/],
    [['--json=yes'], /--json takes no value/],
  ];
  for (const [argv, message] of rows) {
    assert.throws(
      () => parseArgv(argv, OPTIONS),
      (error: unknown) => error instanceof CliError && error.code === 'usage' && message.test(error.message),
      argv.join(' '),
    );
  }
});
