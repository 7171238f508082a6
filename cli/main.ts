#!/usr/bin/env node
/**
 * latchkey — finding the command in argv (cli/commands/index.ts names them all), parsing
 * its options, the real dependencies, and the one place that turns errors into exit codes.
 */
import { configDir, configStore } from '../packages/client/src/config.ts';
import { output } from '../packages/client/src/host.ts';
import { printable, printableOutput } from '../packages/client/src/printable.ts';
import { LATCHKEY } from '../packages/client/src/product.ts';
import { osKeychain } from '../packages/client/src/secrets/keychain.ts';
import { abortableSleep } from '../packages/client/src/sleep.ts';
import { tokenCache } from '../packages/client/src/token-cache.ts';
import { type OptionSpec, parseArgv } from './args.ts';
import { GLOBAL_OPTIONS } from './command.ts';
import { COMMANDS, suggestion } from './commands/index.ts';
import type { ChildEnd, CliDeps, GlobalOptions } from './deps.ts';
import { CliError, exitCodeOf } from './errors.ts';

export const VERSION = '0.2.0';

/** The command's name: the first argument that is neither an option nor a global option's value. */
function commandName(argv: string[]): string | undefined {
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === '--') return undefined;
    if (!arg.startsWith('-') || arg === '-') return arg;
    const name = arg.slice(2);
    const option = Object.hasOwn(GLOBAL_OPTIONS, name) ? GLOBAL_OPTIONS[name as keyof typeof GLOBAL_OPTIONS] : undefined;
    if (arg.startsWith('--') && option?.type === 'string') index++;
  }
  return undefined;
}

/** A verbatim command's arguments are its own from the first positional after its name (or `--`) on. */
function splitVerbatim(argv: string[], name: string, options: Record<string, OptionSpec>): [string[], string[]] {
  let seenName = false;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === '--') return [argv.slice(0, index), argv.slice(index + 1)];
    if (arg.startsWith('-') && arg !== '-') {
      const option = arg.startsWith('--') && !arg.includes('=') ? options[arg.slice(2)] : undefined;
      if (option?.type === 'string') index++;
      continue;
    }
    if (!seenName && arg === name) {
      seenName = true;
      continue;
    }
    return [argv.slice(0, index), argv.slice(index)];
  }
  return [argv, []];
}

export async function run(argv: string[], given: CliDeps): Promise<number> {
  let json = argv.includes('--json');
  // A command that printed its JSON answer and then failed (audit verify's broken chain) has
  // said it; the error object goes out only where stdout is still empty, so it stays one document.
  let printed = false;
  const deps: CliDeps = {
    ...given,
    // Copied by descriptor: the real io's getters touch process.stderr, which costs a compiled run ~8 ms.
    io: Object.defineProperties({}, Object.getOwnPropertyDescriptors(given.io)) as CliDeps['io'],
  };
  deps.io.out = (text) => {
    printed = true;
    given.io.out(text);
  };
  try {
    const name = commandName(argv);
    if (name === undefined) {
      const { values, positionals } = parseArgv(argv, GLOBAL_OPTIONS);
      if (values.version) return deps.io.out(`latchkey ${VERSION}\n`), 0;
      if (positionals.length > 0) throw new CliError('usage', `unexpected argument "${positionals[0]}"; see latchkey help`);
      const { globalHelp } = await import('./help.ts');
      (values.help ? deps.io.out : deps.io.err)(globalHelp());
      return values.help ? 0 : 2;
    }
    const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!entry) throw new CliError('usage', `unknown command "${name}"${suggestion(name)}; see latchkey help`);
    const command = await entry.load();
    const options: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS, ...command.options };
    const [head, verbatim] = command.verbatim ? splitVerbatim(argv, name, options) : [argv, []];
    const { values, positionals } = parseArgv(head, options);
    json = values.json === true;
    if (values.version) return deps.io.out(`latchkey ${VERSION}\n`), 0;
    if (values.help) {
      const { commandHelp } = await import('./help.ts');
      return deps.io.out(commandHelp(entry.aliasOf ?? name, command)), 0;
    }
    const args = [...positionals.slice(1), ...verbatim];
    if (!command.verbatim && args.length > command.maxArgs) {
      throw new CliError('usage', `unexpected argument "${args[command.maxArgs]}" to "${name}"; see latchkey help ${name}`);
    }
    const global: GlobalOptions = {
      json,
      ...(typeof values.context === 'string' ? { context: values.context } : {}),
      ...(typeof values.server === 'string' ? { server: values.server } : {}),
      ...(typeof values.org === 'string' ? { org: values.org } : {}),
      ...(typeof values.project === 'string' ? { project: values.project } : {}),
    };
    return (await command.run(deps, global, { values, args })) ?? 0;
  } catch (error) {
    if (error instanceof CliError) {
      // Messages carry the server's words (error_description); one line, nothing that steers the terminal.
      deps.io.err(`latchkey: ${printable(error.message)}\n`);
      // Under --json a script reads stdout: the same error, by its stable code.
      if (json && !printed)
        deps.io.out(`${JSON.stringify({ error: { code: error.code, message: printable(error.message) } })}\n`);
      return exitCodeOf(error.code);
    }
    // Anything else is a bug; say so without echoing data that might hold a secret.
    deps.io.err(`latchkey: internal error (${error instanceof Error ? error.name : typeof error}); please report it\n`);
    if (json && !printed) deps.io.out(`${JSON.stringify({ error: { code: 'internal', message: 'internal error' } })}\n`);
    return 1;
  }
}

async function readAllStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new CliError('usage', 'pipe the token on standard input, e.g. `echo "$TOKEN" | latchkey …`');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readNamedFile(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError('usage', code === 'ENOENT' ? `no file ${path}` : `cannot read ${path} (${code ?? 'error'})`);
  }
}

/** Asks at the terminal and reads one line. */
async function askLine(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await prompt.question(question);
  } finally {
    prompt.close();
  }
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let answer = '';
    const onData = (data: Buffer) => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish(() => resolve(answer));
        // Ctrl-C, and Ctrl-D (end of input, as getpass reads it): nothing typed is used.
        if (char === '\u0003' || char === '\u0004') return finish(() => reject(new CliError('cancelled', 'cancelled')));
        // Backspace arrives as DEL or as BS, by terminal; Ctrl-U clears the line.
        if (char === '\u007f' || char === '\b') answer = [...answer].slice(0, -1).join('');
        else if (char === '\u0015') answer = '';
        // Other control characters (an arrow key's escape) are never part of a passphrase.
        else if (char >= ' ') answer += char;
      }
    };
    const finish = (then: () => void) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      then();
    };
    stdin.on('data', onData);
  });
}

function canOpenBrowser(env: Record<string, string | undefined>): boolean {
  if (env.LATCHKEY_BROWSER) return true;
  if (process.platform === 'darwin' || process.platform === 'win32') return !env.SSH_CONNECTION && !env.SSH_TTY;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/** A program run to its end with no terminal of its own; spawned through node:child_process, loaded only here. */
async function runProgram(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', (error) =>
      reject(new CliError('failed', `cannot run ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)),
    );
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * `exec`'s child, run as a shell runs a command: same stdio, same process group, so the
 * terminal's Ctrl-C reaches it directly. What latchkey alone is sent (`kill PID`, `timeout`,
 * a CI runner, systemd) is passed on, and latchkey waits for the child instead of dying
 * under it. SIGINT and SIGQUIT are kept back while stdin is a terminal: there they come
 * from the keyboard, the terminal sent them to the child already, and a second one means
 * "force" to many programs (docker compose, uv's fix for the same trap).
 */
async function runChild(file: string, args: string[], env: Record<string, string>): Promise<ChildEnd> {
  const [{ spawn }, { isatty }] = await Promise.all([import('node:child_process'), import('node:tty')]);
  const fromKeyboard: NodeJS.Signals[] = isatty(0) ? ['SIGINT', 'SIGQUIT'] : [];
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn> | undefined;
    // Listening before the spawn: a signal that comes as the child starts must not kill
    // latchkey (the default action) and leave the child running without it. The listener
    // itself runs on the event loop, after the spawn below has returned.
    const forwarding = (['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT'] as const).map((signal) => {
      const forward = () => {
        if (!fromKeyboard.includes(signal)) child?.kill(signal);
      };
      process.on(signal, forward);
      return () => process.off(signal, forward);
    });
    let ended = false;
    const end = (how: ChildEnd) => {
      if (ended) return;
      ended = true;
      for (const stop of forwarding) stop();
      resolve(how);
    };
    try {
      child = spawn(file, args, { env, stdio: 'inherit' });
    } catch (error) {
      return end({ notStarted: (error as NodeJS.ErrnoException).code ?? 'error' });
    }
    // 'error' before 'spawn' is a start that failed (ENOENT, EACCES); after it, only a kill
    // that failed, and the exit still comes.
    let started = false;
    child.once('spawn', () => {
      started = true;
    });
    child.once('error', (error) => {
      if (!started) end({ notStarted: (error as NodeJS.ErrnoException).code ?? 'error' });
    });
    child.once('exit', (code, signal) => end(signal ? { signal } : { code: code ?? 1 }));
  });
}

/** The host name as the server accepts a device name (shared DeviceName): plain text, at most 64. */
function deviceName(host: string): string | undefined {
  const cleaned = host.replace(/[^\p{L}\p{N} ._'()-]/gu, '-').slice(0, 64);
  return cleaned === '' ? undefined : cleaned;
}

function realDeps(): CliDeps {
  const env = process.env;
  // Getters: in the compiled CLI, touching process.stdin or process.stderr costs ~8 ms (packages/client/src/host.ts).
  const terminal = () => Boolean(process.stdin.isTTY && process.stderr.isTTY);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const product = LATCHKEY;
  const dir = configDir(env, product);
  // Everything a command prints passes printableOutput: no server text steers the terminal.
  const [stdout, stderr] = [output(1), output(2)];
  return {
    io: {
      out: (text) => stdout(printableOutput(text)),
      err: (text) => stderr(printableOutput(text)),
      progress: (line) => stderr(line === null ? '\r\x1b[K' : `\r${printable(line)}`),
      readStdin: readAllStdin,
      readFile: readNamedFile,
      get interactive() {
        return Boolean(process.stderr.isTTY);
      },
      get ask() {
        return terminal() ? askLine : null;
      },
    },
    env,
    now: Date.now,
    config: configStore(dir),
    secrets: {
      dir,
      env,
      keychain: osKeychain({ platform: process.platform, env, appName: product.appName, loginCommand: product.loginCommand }),
      get promptPassphrase() {
        return terminal() ? promptHidden : null;
      },
      tokenCache: tokenCache({ env, configDir: dir, uid: process.getuid?.(), product }),
      product,
    },
    product,
    client: async (server, clientId) => {
      const [{ createClient }, { hostname }] = await Promise.all([import('../packages/client/src/client.ts'), import('node:os')]);
      return createClient({
        server,
        clientId,
        userAgent: `${product.userAgent}/${VERSION}`,
        deviceName: deviceName(hostname()),
        product,
      });
    },
    sleep: abortableSleep,
    canOpenBrowser: () => canOpenBrowser(env),
    // Loaded only by a browser login: it starts a process and may probe the display.
    openBrowser: async (url) => (await import('./open-browser.ts')).openBrowser(process.platform, env, url),
    fetch: (input, init) => fetch(input, init),
    signal: controller.signal,
    runChild,
    runProgram,
    // Compiled, argv[1] is the bundle inside the binary and execPath the binary (symlinks resolved); from source, node runs main.ts.
    self: process.argv[1]?.startsWith('/$bunfs/') ? [process.execPath] : [process.execPath, process.argv[1] ?? ''],
  };
}

/** Docker runs `docker-credential-latchkey ACTION`: a symlink to this binary by that name is `latchkey docker-credential ACTION`. */
function argvOf(argv0: string, rest: string[]): string[] {
  return argv0.slice(argv0.lastIndexOf('/') + 1) === 'docker-credential-latchkey' ? ['docker-credential', ...rest] : rest;
}

if (import.meta.main ?? process.argv[1]?.endsWith('main.ts')) {
  process.exitCode = await run(argvOf(process.argv0, process.argv.slice(2)), realDeps());
}
