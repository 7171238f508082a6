/**
 * Cold start of `latchkey token` with a stored, valid token, as a ratio to a compiled
 * hello-world built by the same bun in the same run (machines here are noisy; only ratios
 * measured side by side mean anything). Goals: <= 1.25x through the encrypted file,
 * <= 1.6x through the keychain, <= 0.5x of `gh auth token` where gh is installed.
 *
 * Each store is timed twice. "session" is how it runs at a desktop or over SSH: a login
 * session has $XDG_RUNTIME_DIR, where the first run leaves the access token for the next
 * (packages/client/src/token-cache.ts). "no session cache" is a run without it (no logind session, or
 * LATCHKEY_TOKEN_CACHE=0): every run opens the sealed file — a scrypt, or a Secret Service
 * round trip. The goals are read against the first; the second is printed beside it.
 *
 * "exec overhead" is what `latchkey exec -- true` costs over running `true` itself, in the
 * same session: start-up, the cached token, and one more process start.
 *
 * "after the move vs before": the CLI as it was at BASELINE_COMMIT, before its reusable
 * parts moved into @latchkey/client (packages/client), built the same way into
 * .bench/baseline and timed in the same interleaved runs on the same stored login. Goal:
 * unchanged (1.00x, within the noise).
 */
import { type ChildProcess, execSync, spawn, spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BINARY,
  buildCli,
  cleanEnv,
  exitOf,
  startCli,
  tempConfigDir,
  tempDir,
  waitForStderr,
} from '../test/fixtures/cli-runner.ts';
import { FormBrowser } from '../test/fixtures/oauth-client.ts';
import { startWorker } from '../test/fixtures/worker-server.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const HELLO = join(ROOT, 'dist/bench/hello');
/** The last commit before the CLI moved onto @latchkey/client. */
const BASELINE_COMMIT = '2bec595';
const BASELINE_SOURCE = join(ROOT, '.bench/baseline');
const BEFORE = join(ROOT, 'dist/bench/latchkey-before-move');

function timeOnce(command: string[], env: Record<string, string>): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command[0] as string, command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command.join(' ')} failed: ${result.stderr}`);
  return elapsed;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

async function login(env: Record<string, string>, server: string, args: string[]) {
  const child = startCli(['login', '--server', server, ...args], env);
  const done = exitOf(child);
  child.stdin?.end();
  const [, code] = await waitForStderr(child, /check that it shows the code\s+([A-Z]{4}-[A-Z]{4})/);
  await new FormBrowser(server).decide(String(code), 'approve', 'bench@example.com');
  const result = await done;
  if (result.code !== 0) throw new Error(`login failed: ${result.stderr}`);
}

/** One D-Bus session with an unlocked gnome-keyring for the whole bench. */
async function keyringSession(home: string): Promise<{ address: string; child: ChildProcess }> {
  const child = spawn(
    'dbus-run-session',
    [
      '--',
      'bash',
      '-c',
      'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; echo "$DBUS_SESSION_BUS_ADDRESS"; exec sleep 3600',
    ],
    { env: { PATH: process.env.PATH ?? '', HOME: home }, detached: true, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const address = await new Promise<string>((resolve, reject) => {
    child.stdout?.once('data', (chunk) => resolve(String(chunk).trim()));
    child.once('exit', () => reject(new Error('dbus-run-session exited')));
  });
  return { address, child };
}

buildCli();
await mkdir(join(ROOT, 'dist/bench'), { recursive: true });
const built = spawnSync(
  join(ROOT, 'node_modules/.bin/bun'),
  ['build', 'bench/hello.ts', '--compile', '--minify', '--bytecode', '--format=esm', '--outfile', HELLO],
  { cwd: ROOT },
);
if (built.status !== 0) throw new Error('could not compile the hello-world baseline');
// The CLI before the move, from git; node_modules resolve from the repository root upward.
await rm(BASELINE_SOURCE, { recursive: true, force: true });
await mkdir(BASELINE_SOURCE, { recursive: true });
execSync(`git archive ${BASELINE_COMMIT} cli shared packages | tar -x -C ${BASELINE_SOURCE}`, { cwd: ROOT });
const builtBefore = spawnSync(
  join(ROOT, 'node_modules/.bin/bun'),
  [
    'build',
    join(BASELINE_SOURCE, 'cli/main.ts'),
    '--compile',
    '--minify',
    '--bytecode',
    '--format=esm',
    '--splitting',
    '--outfile',
    BEFORE,
  ],
  { cwd: ROOT },
);
if (builtBefore.status !== 0) throw new Error(`could not compile the CLI at ${BASELINE_COMMIT}: ${builtBefore.stderr}`);

const worker = await startWorker({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s' });
const cleanups: (() => Promise<void> | void)[] = [() => worker.stop()];
try {
  const fileHome = await tempConfigDir();
  const fileEnv = cleanEnv({
    HOME: fileHome,
    LATCHKEY_CONFIG_DIR: join(fileHome, 'latchkey'),
    LATCHKEY_SECRET_PASSPHRASE: 'bench passphrase',
  });
  await login(fileEnv, worker.url, ['--secret-store', 'encrypted-file']);

  // 0700 and ours, as logind makes /run/user/UID. Like the homes (sealed and cached
  // tokens), removed when the bench exits.
  const runtimeDir = await tempDir('latchkey-bench-run-');
  const cases: { name: string; command: string[]; env: Record<string, string>; goal?: number }[] = [
    { name: 'hello-world (baseline)', command: [HELLO], env: cleanEnv({}) },
  ];
  /** Pairs of the same run, after the move and before it, for the ratio printed last. */
  const moved: [string, string][] = [];
  const tokenCases = (store: string, env: Record<string, string>, goal: number) => {
    const session = { ...env, XDG_RUNTIME_DIR: runtimeDir };
    cases.push(
      { name: `latchkey token, ${store}, session`, command: [BINARY, 'token'], env: session, goal },
      { name: `latchkey token, ${store}, no session cache`, command: [BINARY, 'token'], env },
      { name: `  before the move: ${store}, session`, command: [BEFORE, 'token'], env: session },
      { name: `  before the move: ${store}, no session cache`, command: [BEFORE, 'token'], env },
    );
    moved.push(
      [`latchkey token, ${store}, session`, `  before the move: ${store}, session`],
      [`latchkey token, ${store}, no session cache`, `  before the move: ${store}, no session cache`],
    );
  };
  tokenCases('encrypted file', fileEnv, 1.25);
  const DIRECT = 'true, run directly';
  const EXEC = 'latchkey exec -- true, encrypted file, session';
  cases.push(
    { name: DIRECT, command: ['true'], env: cleanEnv({}) },
    { name: EXEC, command: [BINARY, 'exec', '--', 'true'], env: { ...fileEnv, XDG_RUNTIME_DIR: runtimeDir } },
  );

  if (spawnSync('which', ['gnome-keyring-daemon', 'dbus-run-session']).status === 0) {
    const keyHome = await tempConfigDir();
    const session = await keyringSession(keyHome);
    cleanups.push(() => {
      if (session.child.pid) process.kill(-session.child.pid, 'SIGTERM');
    });
    const keyEnv = cleanEnv({
      HOME: keyHome,
      LATCHKEY_CONFIG_DIR: join(keyHome, 'latchkey'),
      DBUS_SESSION_BUS_ADDRESS: session.address,
    });
    await login(keyEnv, worker.url, []);
    tokenCases('keychain', keyEnv, 1.6);
  } else {
    console.log('gnome-keyring not installed: keychain case skipped');
  }

  if (spawnSync('which', ['gh']).status === 0) {
    const ghHome = await tempConfigDir();
    await writeFile(
      join(ghHome, 'hosts.yml'),
      'github.com:\n    oauth_token: gho_benchbenchbenchbenchbenchbenchbench\n    user: bench\n    git_protocol: https\n',
    );
    cases.push({
      name: 'gh auth token',
      command: ['gh', 'auth', 'token'],
      env: cleanEnv({ HOME: ghHome, GH_CONFIG_DIR: ghHome }),
    });
  } else {
    console.log('gh not installed: the gh comparison is skipped');
  }

  for (const item of cases) timeOnce(item.command, item.env); // warm the page cache
  const samples = new Map(cases.map((item) => [item.name, [] as number[]]));
  for (let run = 0; run < RUNS; run++) {
    for (const item of cases) samples.get(item.name)?.push(timeOnce(item.command, item.env));
  }
  const baseline = median(samples.get(cases[0]?.name as string) as number[]);
  const gh = samples.get('gh auth token');
  console.log(`CLI cold start, median of ${RUNS} interleaved runs`);
  for (const item of cases) {
    const value = median(samples.get(item.name) as number[]);
    const vsGh = gh && item.name.startsWith('latchkey') ? `  ${(value / median(gh)).toFixed(2)}x gh (goal <= 0.5x)` : '';
    const goal = item.goal ? ` (goal <= ${item.goal}x)` : '';
    console.log(
      `  ${item.name.padEnd(48)} ${value.toFixed(1).padStart(7)} ms  ${(value / baseline).toFixed(2)}x hello${goal}${vsGh}`,
    );
  }
  const [direct, viaExec] = [DIRECT, EXEC].map((name) => median(samples.get(name) as number[])) as [number, number];
  console.log(
    `  ${'exec overhead'.padEnd(48)} ${(viaExec - direct).toFixed(1).padStart(7)} ms  ${(viaExec / direct).toFixed(2)}x true run directly`,
  );
  console.log(`latchkey token, after the move onto @latchkey/client vs before (${BASELINE_COMMIT}), same runs (goal 1.00x)`);
  for (const [after, before] of moved) {
    const ratio = median(samples.get(after) as number[]) / median(samples.get(before) as number[]);
    console.log(`  ${after.slice('latchkey token, '.length).padEnd(48)} ${ratio.toFixed(2)}x`);
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
