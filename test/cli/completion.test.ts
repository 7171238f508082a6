/**
 * `latchkey completion bash|zsh|fish` from the compiled binary, loaded by the real shells.
 * bash runs its completion function as programmable completion would (COMP_WORDS,
 * COMP_CWORD). zsh loads the script after compinit and must register it with compdef;
 * its function is then called with `words` and `CURRENT` set as the completion system sets
 * them, with `compadd` and `_files` replaced by functions that print what would be offered
 * (kept, as zsh keeps them, when they start with the word typed): driving zsh's line
 * editor itself needs a terminal this suite does not have.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { BINARY, buildCli, cleanEnv, runCli, tempDir } from '../fixtures/cli-runner.ts';

let dir: string;
const scripts: Record<string, string> = {};

before(async () => {
  buildCli();
  dir = await tempDir();
  for (const shell of ['bash', 'zsh', 'fish']) {
    const made = await runCli(['completion', shell], cleanEnv({}));
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.stderr, '');
    scripts[shell] = join(dir, `latchkey.${shell}`);
    await writeFile(scripts[shell] as string, made.stdout);
  }
});

/** The shell with no start-up files of this machine (node's pipes are sockets, which make bash read ~/.bashrc). */
function shell(program: 'bash' | 'zsh', script: string): string {
  const plain = program === 'bash' ? ['--norc', '--noprofile'] : ['-f'];
  const ran = spawnSync(program, [...plain, '-c', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  });
  assert.ok(!ran.error, `${program} is needed for this test (install it: apt-get install ${program}): ${ran.error?.message}`);
  assert.equal(ran.status, 0, ran.stderr);
  assert.equal(ran.stderr, '', 'the script loads without a word on stderr');
  return ran.stdout;
}

/** What bash offers for the command line `line` (the cursor at its end). */
function bashOffers(line: string): string[] {
  const words = line.split(' ');
  const quoted = words.map((word) => `'${word}'`).join(' ');
  const out = shell(
    'bash',
    `source '${scripts.bash}'
complete -p latchkey >/dev/null || { echo 'not registered' >&2; exit 1; }
COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; COMP_LINE='${line}'; COMP_POINT=${line.length}
_latchkey latchkey '${words.at(-1)}' '${words.at(-2)}'
printf '%s\\n' "\${COMPREPLY[@]}"`,
  );
  return out.split('\n').filter(Boolean).sort();
}

/** What zsh's completion function offers for `line`. */
function zshOffers(line: string): string[] {
  const words = line.split(' ');
  const out = shell(
    'zsh',
    `autoload -Uz compinit && compinit -u -d '${dir}/zcompdump'
source '${scripts.zsh}'
[[ \${_comps[latchkey]} == _latchkey ]] || { echo "compdef did not register _latchkey" >&2; exit 1; }
compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }
_files() { print -- '<files>'; }
words=(${words.map((word) => `'${word}'`).join(' ')}); CURRENT=${words.length}
_latchkey`,
  );
  // compadd is given every candidate; zsh itself keeps those that start with the word typed.
  const typed = words.at(-1) ?? '';
  return out
    .split('\n')
    .filter((word) => word !== '' && (word === '<files>' || word.startsWith(typed)))
    .sort();
}

const cases: { line: string; has: string[]; hasNot?: string[] }[] = [
  { line: 'latchkey ke', has: ['keys'], hasNot: ['login'] },
  { line: 'latchkey ', has: ['login', 'token', 'keys', 'completion', 'whoami'] },
  { line: 'latchkey keys ', has: ['create', 'list', 'revoke', 'rotate'], hasNot: ['login'] },
  { line: 'latchkey keys create --r', has: ['--role'], hasNot: ['--secret-store'] },
  { line: 'latchkey keys create --role ', has: ['admin', 'member', 'owner'], hasNot: ['create'] },
  { line: 'latchkey login --secret-store e', has: ['encrypted-file', 'env'], hasNot: ['keychain'] },
  // The value of a global option is not the command: `keys` is still completed as a command after it.
  { line: 'latchkey --context keys ke', has: ['keys'] },
  { line: 'latchkey --server https://x.example k', has: ['keys'] },
  // After the subcommand, no more subcommands; options still.
  { line: 'latchkey keys list --', has: ['--json', '--confirm'], hasNot: ['create'] },
  { line: 'latchkey help ke', has: ['keys'] },
  { line: 'latchkey completion ', has: ['bash', 'fish', 'zsh'] },
  // A value the person types is not completed from the command list.
  { line: 'latchkey keys create --name ', has: [], hasNot: ['keys', 'create', '--role'] },
];

describe('latchkey completion, loaded by the real shells', () => {
  for (const [name, offers] of [
    ['bash', bashOffers],
    ['zsh', zshOffers],
  ] as const) {
    test(`${name}: commands, subcommands, options and option values, as the parser reads them`, () => {
      for (const { line, has, hasNot = [] } of cases) {
        const offered = offers(line);
        for (const word of has) assert.ok(offered.includes(word), `${name} "${line}": ${word} missing from ${offered.join(' ')}`);
        for (const word of hasNot) assert.ok(!offered.includes(word), `${name} "${line}": ${word} offered`);
        if (has.length === 0) assert.deepEqual(offered, [], `${name} "${line}"`);
      }
    });
  }

  test('zsh: --file completes file names', () => {
    assert.deepEqual(zshOffers('latchkey policies create --file '), ['<files>']);
  });

  test('fish: one complete line per command and option, every description quoted', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(scripts.fish as string, 'utf8');
    assert.match(text, /^complete -c latchkey -n __fish_use_subcommand -a keys -d '.+'$/m);
    assert.match(
      text,
      /^complete -c latchkey -n '__fish_seen_subcommand_from login' -l secret-store -x -a 'keychain encrypted-file env none'/m,
    );
    for (const line of text.split('\n').filter((line) => line.startsWith('complete'))) {
      // Every quote opened is closed: a stray quote would swallow the following lines in fish.
      assert.equal((line.replace(/\\'/g, '').match(/'/g) ?? []).length % 2, 0, line);
    }
  });

  test('every command the binary runs is completed, and nothing it does not run', async () => {
    const help = await runCli(['help'], cleanEnv({}));
    const listed = [...help.stdout.matchAll(/^ {2}([a-z][a-z-]*) {2,}/gm)].map((match) => match[1] as string);
    const offered = bashOffers('latchkey ').filter((word) => !word.startsWith('-'));
    for (const command of listed) assert.ok(offered.includes(command), command);
    for (const word of offered) {
      const ran = await runCli([word, '--help'], cleanEnv({}));
      assert.equal(ran.code, 0, `${word} --help: ${ran.stderr}`);
    }
    assert.ok(BINARY);
  });
});
