/**
 * `latchkey completion bash|zsh|fish`: a completion script made from the command registry,
 * so what it offers is what the parser accepts: command names, each command's subcommands
 * and options, the global options, and the values of options that have a fixed set.
 */
import { type Command, type CommandOption, GLOBAL_OPTIONS } from '../command.ts';
import { CliError } from '../errors.ts';
import { COMMANDS } from './index.ts';

const SHELLS = ['bash', 'zsh', 'fish'] as const;

type Described = { name: string; summary: string; command: Command };

/** What completion offers after a command's name: its subcommands; after `help`, every command. */
const subsOf = (name: string, command: Command, all: Described[]) =>
  name === 'help' ? all.map((described) => described.name) : (command.subcommands ?? []);

const long = (options: Record<string, CommandOption>) => Object.keys(options).map((name) => `--${name}`);
/** Options whose value is typed by the person (no completion after them but files for --file). */
const valued = (options: Record<string, CommandOption>) =>
  Object.entries(options).filter(([, option]) => option.type === 'string');
const globalValued = valued(GLOBAL_OPTIONS).map(([name]) => `--${name}`);

/** `--role) words="member admin owner";;` lines: every option, across commands, that has choices. */
function choiceCases(all: Described[], indent: string, body: (words: string) => string): string {
  const seen = new Map<string, readonly string[]>();
  for (const { command } of all) {
    for (const [name, option] of Object.entries(command.options)) if (option.choices) seen.set(name, option.choices);
  }
  return [...seen].map(([name, choices]) => `${indent}--${name}) ${body(choices.join(' '))} ;;`).join('\n');
}

function bash(all: Described[]): string {
  const typed = [...new Set(all.flatMap(({ command }) => valued(command.options).map(([name]) => `--${name}`)))];
  const perCommand = all
    .map(
      ({ name, command }) =>
        `    ${name}) subs="${subsOf(name, command, all).join(' ')}"; opts="${long(command.options).join(' ')}" ;;`,
    )
    .join('\n');
  return `# latchkey completion for bash. Load it with: source <(latchkey completion bash)
_latchkey() {
  local cur prev cmd subs opts i positionals=0
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  case "$prev" in
${choiceCases(all, '    ', (words) => `COMPREPLY=($(compgen -W "${words}" -- "$cur")); return 0`)}
    --file) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
    ${[...new Set([...globalValued, ...typed])].filter((option) => option !== '--file').join('|')}) return 0 ;;
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${globalValued.join('|')}) ((i++)) ;;
      -*) ;;
      *) if [ -z "$cmd" ]; then cmd="\${COMP_WORDS[i]}"; else ((positionals++)); fi ;;
    esac
  done
  if [ -z "$cmd" ]; then
    COMPREPLY=($(compgen -W "${all.map(({ name }) => name).join(' ')} ${long(GLOBAL_OPTIONS).join(' ')}" -- "$cur"))
    return 0
  fi
  case "$cmd" in
${perCommand}
    *) return 0 ;;
  esac
  [ "$positionals" -gt 0 ] && subs=""
  COMPREPLY=($(compgen -W "$subs $opts ${long(GLOBAL_OPTIONS).join(' ')}" -- "$cur"))
}
complete -F _latchkey latchkey
`;
}

function zsh(all: Described[]): string {
  const typed = [...new Set(all.flatMap(({ command }) => valued(command.options).map(([name]) => `--${name}`)))];
  const perCommand = all
    .map(
      ({ name, command }) =>
        `    ${name}) subs=(${subsOf(name, command, all).join(' ')}); opts=(${long(command.options).join(' ')}) ;;`,
    )
    .join('\n');
  return `#compdef latchkey
# latchkey completion for zsh. Save it as _latchkey in a directory of $fpath (before
# compinit runs), or after compinit: source <(latchkey completion zsh)
_latchkey() {
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]} cmd= i positionals=0
  local -a subs opts
  case $prev in
${choiceCases(all, '    ', (words) => `compadd -- ${words}; return`)}
    --file) _files; return ;;
    ${[...new Set([...globalValued, ...typed])].filter((option) => option !== '--file').join('|')}) return ;;
  esac
  for ((i = 2; i < CURRENT; i++)); do
    case \${words[i]} in
      ${globalValued.join('|')}) ((i++)) ;;
      -*) ;;
      *) if [[ -z $cmd ]]; then cmd=\${words[i]}; else ((positionals++)); fi ;;
    esac
  done
  if [[ -z $cmd ]]; then
    compadd -- ${all.map(({ name }) => name).join(' ')}
    [[ $cur == -* ]] && compadd -- ${long(GLOBAL_OPTIONS).join(' ')}
    return 0
  fi
  case $cmd in
${perCommand}
    *) return ;;
  esac
  (( positionals == 0 )) && (( \${#subs} )) && compadd -- \${subs[@]}
  [[ $cur == -* ]] && compadd -- \${opts[@]} ${long(GLOBAL_OPTIONS).join(' ')}
  return 0
}
if [[ \${funcstack[1]} == _latchkey ]]; then _latchkey "$@"; else compdef _latchkey latchkey; fi
`;
}

function fish(all: Described[]): string {
  const quote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const option = (name: string, spec: CommandOption, condition: string) =>
    `complete -c latchkey${condition} -l ${name}${spec.type === 'string' ? (spec.choices ? ` -x -a ${quote(spec.choices.join(' '))}` : name === 'file' ? ' -r -F' : ' -x') : ''} -d ${quote(spec.description)}`;
  const lines = [
    '# latchkey completion for fish: latchkey completion fish > ~/.config/fish/completions/latchkey.fish',
    'complete -c latchkey -f',
  ];
  for (const [name, spec] of Object.entries(GLOBAL_OPTIONS)) lines.push(option(name, spec, ''));
  for (const { name, summary, command } of all) {
    lines.push(`complete -c latchkey -n __fish_use_subcommand -a ${name} -d ${quote(summary)}`);
    const within = ` -n ${quote(`__fish_seen_subcommand_from ${name}`)}`;
    const subs = subsOf(name, command, all);
    if (subs.length > 0) lines.push(`complete -c latchkey${within} -a ${quote(subs.join(' '))}`);
    for (const [option_, spec] of Object.entries(command.options)) lines.push(option(option_, spec, within));
  }
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  usage: ['completion bash|zsh|fish'],
  help: `bash:  source <(latchkey completion bash)        (in ~/.bashrc)
zsh:   mkdir -p ~/.zfunc && latchkey completion zsh > ~/.zfunc/_latchkey
       and in ~/.zshrc, before compinit: fpath=(~/.zfunc $fpath); or, after compinit:
       source <(latchkey completion zsh)
fish:  latchkey completion fish > ~/.config/fish/completions/latchkey.fish`,
  options: {},
  subcommands: SHELLS,
  maxArgs: 1,
  run: async (deps, _global, parsed) => {
    const shell = parsed.args[0];
    if (!(SHELLS as readonly (string | undefined)[]).includes(shell)) {
      throw new CliError('usage', `usage: latchkey completion ${SHELLS.join('|')}`);
    }
    const all: Described[] = [];
    for (const [name, entry] of Object.entries(COMMANDS)) all.push({ name, summary: entry.summary, command: await entry.load() });
    deps.io.out(shell === 'bash' ? bash(all) : shell === 'zsh' ? zsh(all) : fish(all));
  },
};
