/**
 * `npm start [-- --port N] [-- other wrangler dev flags]`: the Worker under wrangler dev on
 * 127.0.0.1 with the `dev` identity provider, and an issuer that names the port it
 * listens on — so the links it hands out (verification URLs, the authorize endpoint)
 * point at this server and not at whatever else holds 8787.
 *
 * The port: `--port N`, else PORT, else 8787. The issuer: LATCHKEY_ISSUER, else
 * http://127.0.0.1:<port>. LATCHKEY_IDENTITY (default `dev`) picks the identity provider.
 * Any other argument goes to `wrangler dev` as it is (`--persist-to DIR`, `--inspector-port N`).
 * The local state (signing key, hash secret) is kept private: umask 077, and everything
 * under .wrangler (and a --persist-to directory) closed to group and others.
 */
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';

// npm runs a script in the package's directory: the state and wrangler are the ones found there.
const WRANGLER = join(process.cwd(), 'node_modules/wrangler/bin/wrangler.js');

function fail(message: string): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(2);
}

/** The port and what is left for wrangler; `--port N` and `--port=N` both, the last one winning. */
function parse(argv: string[]): { port: string; persistTo: string | null; rest: string[] } {
  let port = process.env.PORT || '8787';
  let persistTo: string | null = null;
  const rest: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === '--port') {
      const value = argv[++index];
      if (value === undefined) fail('--port needs a value, e.g. --port 8797');
      port = value;
    } else if (arg.startsWith('--port=')) {
      port = arg.slice('--port='.length);
    } else {
      if (arg === '--persist-to' && argv[index + 1] !== undefined) persistTo = argv[index + 1] as string;
      else if (arg.startsWith('--persist-to=')) persistTo = arg.slice('--persist-to='.length);
      rest.push(arg);
    }
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) fail(`not a port: "${port}"`);
  return { port: String(Number(port)), persistTo, rest };
}

/** `chmod -R go=`: every file and directory under `dir` closed to group and others (symlinks left alone). */
async function closeToOthers(dir: string): Promise<void> {
  const paths = [dir, ...(await readdir(dir, { recursive: true })).map((entry) => join(dir, entry))];
  for (const path of paths) {
    const info = await lstat(path).catch(() => null); // wrangler may remove a temp file meanwhile
    if (info && !info.isSymbolicLink()) await chmod(path, info.mode & 0o700).catch(() => {});
  }
}

const { port, persistTo, rest } = parse(process.argv.slice(2));
const issuer = process.env.LATCHKEY_ISSUER || `http://127.0.0.1:${port}`;
if (process.env.LATCHKEY_ISSUER && URL.canParse(issuer) && new URL(issuer).port !== port) {
  process.stderr.write(`npm start: note: LATCHKEY_ISSUER is ${issuer}, while the server listens on port ${port}\n`);
}

process.umask(0o077);
await mkdir('.wrangler/state', { recursive: true, mode: 0o700 });
await closeToOthers('.wrangler');
if (persistTo !== null) {
  await mkdir(persistTo, { recursive: true, mode: 0o700 });
  await closeToOthers(persistTo);
}

const args = ['dev', '--ip', '127.0.0.1', '--port', port, '--var', `LATCHKEY_ISSUER:${issuer}`];
args.push('--var', `LATCHKEY_IDENTITY:${process.env.LATCHKEY_IDENTITY || 'dev'}`, ...rest);
const wrangler = spawn(process.execPath, [WRANGLER, ...args], {
  stdio: 'inherit',
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
});
// Ctrl-C reaches wrangler from the terminal itself; a signal sent to this process alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => wrangler.kill(signal));
wrangler.on('exit', (code, signal) => {
  process.exitCode = code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15);
});
