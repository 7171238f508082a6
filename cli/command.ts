/**
 * What a CLI command declares: its usage, options, help and `run`. Each `cli/commands/*.ts`
 * exports one `command`; cli/commands/index.ts lists them by name; main.ts parses argv
 * against the global options and the command's own, and only it turns errors into exit
 * codes. Help (`latchkey help CMD`, `CMD --help`) and shell completions are made from
 * these declarations, so a command is documented where it is written.
 */
import type { OptionSpec } from './args.ts';
import type { CliDeps, GlobalOptions } from './deps.ts';
import { CliError } from './errors.ts';

export type CommandOption = OptionSpec & {
  /** The value's placeholder in help, e.g. `NAME` (string options only). */
  value?: string;
  /** One line for the command's help. */
  description: string;
  /** Values completion offers for a string option (e.g. the secret stores). */
  choices?: readonly string[];
};

export type Parsed = {
  values: Readonly<Record<string, string | boolean | undefined>>;
  /** The positional arguments after the command's name. */
  args: string[];
};

export type Command = {
  /** Usage lines, each without the leading `latchkey `. */
  usage: string[];
  /** Prose printed after the usage and options by `latchkey help CMD`. */
  help?: string;
  /** The command's own options; the global ones (GLOBAL_OPTIONS) apply to every command. */
  options: Record<string, CommandOption>;
  /** Words completion offers right after the command's name. */
  subcommands?: readonly string[];
  /** Most positional arguments after the name; more is a usage error. */
  maxArgs: number;
  /**
   * Everything from the first positional argument on (or after `--`) is passed as it is,
   * options included: `exec -- CMD --its-flag`.
   */
  verbatim?: boolean;
  /** Resolves to nothing (exit 0) or an exit status of its own (`exec` passes its child's on). */
  run(deps: CliDeps, global: GlobalOptions, parsed: Parsed): Promise<void | number>;
};

/** The options every command takes, in the order help lists them. */
export const GLOBAL_OPTIONS = {
  context: { type: 'string', value: 'NAME', description: 'run under another context without changing the current one' },
  server: { type: 'string', value: 'URL', description: 'the latchkey server (or LATCHKEY_SERVER)' },
  org: { type: 'string', value: 'SLUG', description: 'the org an org command acts on (or LATCHKEY_ORG)' },
  project: { type: 'string', value: 'P', description: 'the project a key or CI token is for (or LATCHKEY_PROJECT)' },
  json: { type: 'boolean', description: 'print data as JSON on stdout (errors too)' },
  help: { type: 'boolean', short: 'h', description: 'help for latchkey or for a command' },
  version: { type: 'boolean', description: 'print the version' },
} as const satisfies Record<string, CommandOption>;

/** A string option's value, or undefined. */
export const text = (parsed: Parsed, name: string): string | undefined => {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
};

/** A boolean option: true when given. */
export const flag = (parsed: Parsed, name: string): boolean => parsed.values[name] === true;

/** A usage error naming the first of two options given together that exclude each other. */
export function oneOf(parsed: Parsed, ...names: string[]): void {
  const given = names.filter((name) => parsed.values[name] !== undefined && parsed.values[name] !== false);
  if (given.length > 1) throw new CliError('usage', `choose one of ${given.map((name) => `--${name}`).join(' and ')}`);
}
