/**
 * The command registry, in process (test/fixtures/cli-fakes.ts): every command declared
 * once is parsed, documented and completed from its declaration; argv errors are usage
 * errors with exit 2 and the exact message; under --json errors are JSON on stdout.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GLOBAL_OPTIONS } from '../../cli/command.ts';
import { COMMANDS } from '../../cli/commands/index.ts';
import { runWith } from '../fixtures/cli-fakes.ts';

describe('the command registry', () => {
  test('every command loads and declares usage lines that start with its name (or the name it aliases)', async () => {
    for (const [name, entry] of Object.entries(COMMANDS)) {
      const command = await entry.load();
      assert.ok(command.usage.length > 0, name);
      assert.ok(
        command.usage.some((line) => line.startsWith(`${name} `) || line === name || line.startsWith(`${entry.aliasOf} `)),
        `${name}: ${command.usage.join(' / ')}`,
      );
      for (const option of Object.keys(command.options)) {
        assert.ok(!Object.hasOwn(GLOBAL_OPTIONS, option), `${name} redeclares the global --${option}`);
      }
    }
  });

  test('`help` lists every command but aliases; `help CMD` and `CMD --help` print the same usage', async () => {
    const list = await runWith(['help']);
    assert.equal(list.code, 0);
    for (const [name, entry] of Object.entries(COMMANDS)) {
      assert.equal(new RegExp(`^  ${name} `, 'm').test(list.stdout), !entry.aliasOf, name);
    }
    const viaHelp = await runWith(['help', 'keys']);
    const viaFlag = await runWith(['keys', '--help']);
    const viaSubFlag = await runWith(['keys', 'create', '-h']);
    assert.equal(viaHelp.code, 0);
    assert.equal(viaHelp.stdout, viaFlag.stdout);
    assert.equal(viaHelp.stdout, viaSubFlag.stdout);
    assert.match(viaHelp.stdout, /^Usage:\n {2}latchkey keys create --name NAME/);
    assert.match(viaHelp.stdout, /--grace DURATION +how long the old secret keeps working/);
    assert.doesNotMatch(viaHelp.stdout, /latchkey login/, 'a command help is about the command');
    assert.equal(viaHelp.stderr, '');
  });

  test('no command: the list on stderr and exit 2; --help: on stdout and exit 0; --version', async () => {
    const bare = await runWith([]);
    assert.equal(bare.code, 2);
    assert.equal(bare.stdout, '');
    assert.match(bare.stderr, /Usage: latchkey COMMAND/);
    const help = await runWith(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit status:/);
    assert.deepEqual(await runWith(['--version']), {
      code: 0,
      stdout: `latchkey ${(await import('../../cli/main.ts')).VERSION}\n`,
      stderr: '',
    });
  });

  test('argv errors are usage errors (exit 2) with the exact message, and nothing runs', async () => {
    const cases: [string[], string][] = [
      [['kyes', 'list'], 'latchkey: unknown command "kyes" (did you mean "keys"?); see latchkey help\n'],
      [['frobnicate'], 'latchkey: unknown command "frobnicate"; see latchkey help\n'],
      [['help', 'nope'], 'latchkey: no command "nope"; see latchkey help\n'],
      [['token', '--grace', '1h'], 'latchkey: unknown option --grace; see latchkey --help\n'],
      [['token', 'extra'], 'latchkey: unexpected argument "extra" to "token"; see latchkey help token\n'],
      [['login', '--device', '--browser'], 'latchkey: choose one of --device and --browser\n'],
      [['login', '--secret-store', 'plaintext'], 'latchkey: --secret-store takes keychain, encrypted-file, env, none\n'],
      [['keys', 'list', '--expires'], 'latchkey: --expires needs a value; see latchkey --help\n'],
      [['completion', 'tcsh'], 'latchkey: usage: latchkey completion bash|zsh|fish\n'],
      [['ci', 'swap'], 'latchkey: usage: latchkey ci exchange; see latchkey help ci\n'],
    ];
    for (const [argv, stderr] of cases) {
      assert.deepEqual(await runWith(argv), { code: 2, stdout: '', stderr }, argv.join(' '));
    }
  });

  test('under --json an error is also one JSON object on stdout, by its stable code', async () => {
    const ran = await runWith(['keys', 'list', '--json', '--bogus']);
    assert.equal(ran.code, 2);
    assert.deepEqual(JSON.parse(ran.stdout), {
      error: { code: 'usage', message: 'unknown option --bogus; see latchkey --help' },
    });
    const notLoggedIn = await runWith(['status', '--json']);
    assert.equal(notLoggedIn.code, 3);
    assert.equal(JSON.parse(notLoggedIn.stdout).error.code, 'not_logged_in');
  });

  test('global options before the command are read as options, and their values are not taken for the command', async () => {
    const ran = await runWith(['--context', 'keys', 'help', 'token']);
    assert.equal(ran.code, 0);
    assert.match(ran.stdout, /latchkey token \[--token-stdin\]/);
  });
});
