/**
 * Help text, made from the command registry: `latchkey help` lists every command under its
 * group with the global options and what applies everywhere; `latchkey help CMD` (or
 * `CMD --help`) shows the command's usage, its own options and its prose.
 */
import { type Command, type CommandOption, GLOBAL_OPTIONS } from './command.ts';
import { COMMANDS, GROUPS } from './commands/index.ts';
import { EXIT_HELP } from './errors.ts';

const GENERAL = `Credentials, strongest claim first: --token-stdin, then LATCHKEY_TOKEN, then the secret
stored for the context. A stored credential is bound to the server that issued it: with
--server or LATCHKEY_SERVER naming another, every command refuses (exit 3,
server_mismatch) and sends it nowhere; a token you pass in goes where you say.
Org commands act on --org, else LATCHKEY_ORG, else the org of the context's credential
(an API key's, or the one login --org signed in for), else your only org.
Secret stores: keychain (the OS keychain keeps the key of an encrypted file),
encrypted-file (key from LATCHKEY_SECRET_PASSPHRASE or a prompt), env and none (latchkey
stores nothing). Default: keychain where one answers, else encrypted-file; never plain
text. Config: $LATCHKEY_CONFIG_DIR or ~/.config/latchkey (0600, no tokens).
Sensitive acts (keys of admin or above, role changes, deleting a trust policy, ending
someone else's session) may need a second factor proven lately: at a terminal latchkey
asks "Enter TOTP code:" (or a recovery code) and retries once; elsewhere exit 3,
step_up_required.`;

function optionLines(options: Record<string, CommandOption>): string[] {
  const left = Object.entries(options).map(
    ([name, option]) => `${option.short ? `-${option.short}, ` : ''}--${name}${option.value ? ` ${option.value}` : ''}`,
  );
  const width = Math.max(...left.map((text) => text.length));
  return Object.values(options).map((option, index) => `  ${(left[index] as string).padEnd(width)}   ${option.description}`);
}

export function globalHelp(): string {
  const names = Object.entries(COMMANDS).filter(([, entry]) => !entry.aliasOf);
  const width = Math.max(...names.map(([name]) => name.length));
  const sections = Object.entries(GROUPS).map(([group, heading]) => {
    const lines = names
      .filter(([, entry]) => entry.group === group)
      .map(([name, entry]) => `  ${name.padEnd(width)}   ${entry.summary}`);
    return `${heading}:\n${lines.join('\n')}`;
  });
  return `latchkey — sign in to a latchkey server and hand tokens to scripts

Usage: latchkey COMMAND [ARGS] [OPTIONS]

${sections.join('\n\n')}

Global options:
${optionLines(GLOBAL_OPTIONS).join('\n')}

\`latchkey help COMMAND\` (or \`latchkey COMMAND --help\`) shows a command's usage and options.

${GENERAL}

${EXIT_HELP}
`;
}

export function commandHelp(name: string, command: Command): string {
  const own = Object.keys(command.options).length > 0 ? `\nOptions:\n${optionLines(command.options).join('\n')}\n` : '';
  const usage = command.usage.map((line) => `  latchkey ${line}`).join('\n');
  return `Usage:\n${usage}\n${own}${command.help ? `\n${command.help}\n` : ''}
Global options: ${Object.keys(GLOBAL_OPTIONS)
    .map((option) => `--${option}`)
    .join(' ')} (see \`latchkey help\`).
${name === 'help' ? '' : `\n${EXIT_HELP}\n`}`;
}
