/**
 * The command line, read strictly against a table of options. This does what node:util's
 * parseArgs did for us, without it: loading node:util costs about 2 ms of a `latchkey
 * token` whose whole budget over a hello-world is about 3 ms.
 */
import { CliError } from './errors.ts';

export type OptionSpec = { type: 'string' | 'boolean'; short?: string };
type Values<T extends Record<string, OptionSpec>> = {
  [K in keyof T]?: T[K]['type'] extends 'string' ? string : boolean;
};

/**
 * `--name value`, `--name=value`, `--flag`, `-h`, and `--` before arguments that start
 * with a dash. An unknown option, a missing value or a value given to a flag is a usage
 * error; a repeated option keeps its last value, as parseArgs did.
 */
export function parseArgv<T extends Record<string, OptionSpec>>(
  argv: string[],
  options: T,
): { values: Values<T>; positionals: string[] } {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(options).flatMap(([name, spec]) => (spec.short ? [[spec.short, name]] : [])));
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const long = arg.startsWith('--');
    const written = long ? arg.slice(2, equals === -1 ? undefined : equals) : arg.slice(1);
    const name = long ? written : byShort.get(written);
    const spec = name !== undefined && Object.hasOwn(options, name) ? options[name] : undefined;
    if (name === undefined || !spec || (!long && equals !== -1)) {
      throw new CliError('usage', `unknown option ${long ? `--${written}` : arg}; see latchkey --help`);
    }
    if (spec.type === 'boolean') {
      if (long && equals !== -1) throw new CliError('usage', `--${name} takes no value; see latchkey --help`);
      values[name] = true;
      continue;
    }
    const value = long && equals !== -1 ? arg.slice(equals + 1) : argv[++index];
    if (value === undefined || (equals === -1 && value.startsWith('-') && value !== '-')) {
      throw new CliError('usage', `--${name} needs a value; see latchkey --help`);
    }
    values[name] = value;
  }
  return { values: values as Values<T>, positionals };
}
