/** `latchkey help [COMMAND]`: the command list, or one command's usage, options and prose. */
import type { Command } from '../command.ts';
import { CliError } from '../errors.ts';
import { commandHelp, globalHelp } from '../help.ts';
import { COMMANDS, suggestion } from './index.ts';

export const command: Command = {
  usage: ['help [COMMAND]'],
  options: {},
  maxArgs: 1,
  run: async (deps, _global, parsed) => {
    const name = parsed.args[0];
    if (name === undefined) return deps.io.out(globalHelp());
    const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!entry) throw new CliError('usage', `no command "${name}"${suggestion(name)}; see latchkey help`);
    deps.io.out(commandHelp(name, await entry.load()));
  },
};
