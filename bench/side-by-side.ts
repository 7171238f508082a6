/**
 * latchkey beside the libraries people would use instead, in ONE `workerd serve` process
 * (the binary under node_modules/workerd; no `wrangler dev` proxy in the path):
 *
 * - latchkey: its production bundle (`wrangler deploy --dry-run`, as `npm run build:worker`
 *   builds it), loaded byte for byte behind a wrapper that counts what reaches its bindings
 *   (bench/side-by-side/latchkey-counted.ts); its Durable Object on local disk (SQLite),
 *   as in production;
 * - the same bundle again as a second service with its own KV, objects and disk, every
 *   Durable Object stub call delayed by BENCH_DO_DELAY_MS (default 50 ms, as for an object
 *   in another region): the latency model;
 * - @cloudflare/workers-oauth-provider and @openauthjs/openauth, used as libraries in small
 *   Workers (bench/side-by-side/*-worker.ts), bundled here with esbuild;
 * - all on in-memory KV services (test/fixtures/workerd-kv-service.ts), latchkey and both
 *   peers on the same one;
 * - the floor (bench/side-by-side/durable-write-floor-worker.ts): a Worker that does only
 *   the one durable compare-and-set a guaranteed rotation needs, in its own Durable Object
 *   namespace on the same kind of disk: what this process allows any refresh that keeps
 *   issue 18's guarantees with its state in a Durable Object;
 * - and, outside workerd, the same app under `node worker/entry/node.ts` on its memory
 *   store (bench/side-by-side/node-server.ts), for the refresh rows.
 *
 * Rows, each a ratio of latchkey to a peer measured in the same run, the median of
 * interleaved rounds (the order of the sides rotates each round): refresh (32 sequential
 * refresh chains) vs both peers, for latchkey on KV + DO and on Node + memory; `GET /v1/me`
 * with a JWT vs openauth's `client.verify`; `GET /v1/me` with an API key vs
 * workers-oauth-provider's token validation; p50/p99 of each GET route under 32 keep-alive
 * connections (the GET rows run first, the refresh rows after them); the server's CPU time
 * per refresh, from /proc.
 *
 * Counted at the bindings, on a quiet server before the load: Durable Object and KV round
 * trips per operation (and which calls), objects addressed, and object databases (SQLite
 * files) created on disk by a refresh and by a session (a device login and 10 refreshes).
 * The latency model: each operation (device login, refresh, API-key and JWT check on
 * `/v1/me`, CI exchange) one at a time, without and with the delay; the added latency
 * divided by the delay is the round trips it pays in sequence. The rotation guarantee: 16
 * concurrent refreshes of one token get one successor, and once LATCHKEY_REFRESH_GRACE (as
 * the server parses it; other measurements run meanwhile) has passed, the spent token
 * presented again revokes the family. The goals are issue 18's; each says met or NOT met.
 *
 * BENCH_ROUNDS (default 5) and BENCH_REQUESTS (GET requests per block per route, default
 * 2000; a refresh block is a quarter of it) shorten or lengthen the run; BENCH_ROUNDS=1
 * BENCH_REQUESTS=200 is a quick look. BENCH_DO_DELAY_MS sets the latency model's delay;
 * keep it well above a timer's own cost in workerd (a millisecond or two), or that cost is
 * counted as round trips.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { GITHUB, octoRepoPolicy } from '../test/fixtures/ci-claims.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../test/fixtures/fake-ci-issuer.ts';
import { freePort } from '../test/fixtures/free-port.ts';
import { parseConfig } from '../worker/config.ts';
import { type Block, block, type Call, client, median, percentile, sequential } from './side-by-side/load.ts';
import { type NodeServer, startNodeLatchkey } from './side-by-side/node-server.ts';
import { oneSuccessor, type Race, type Reuse, raceRefreshes, reuseAfterGrace } from './side-by-side/rotation.ts';
import {
  expectOk,
  floorSide,
  form,
  latchkeySide,
  oauthProviderSide,
  openauthSide,
  type Side,
  type Tokens,
} from './side-by-side/sides.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const WORKERD = join(ROOT, 'node_modules/workerd/bin/workerd');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_BLOCK = Number(process.env.BENCH_REQUESTS ?? 2000);
const REFRESH_PER_BLOCK = Math.max(32, Math.floor(PER_BLOCK / 4));
const DELAY_MS = Number(process.env.BENCH_DO_DELAY_MS ?? 50);
const CONNECTIONS = 32;
const CHAINS = 32;
const RACERS = 16;
// A block never runs longer than this, whatever its count; a request fails after 10 s.
const BLOCK_SECONDS = 60;
const COMPATIBILITY_DATE = '2025-09-01';
const CI_AUDIENCE = 'https://latchkey.test';
if (!(DELAY_MS > 0)) throw new Error('BENCH_DO_DELAY_MS must be a positive number of milliseconds');

const work = await mkdtemp(join(tmpdir(), 'latchkey-side-by-side-'));
let workerd: ChildProcess | undefined;
let nodeServer: NodeServer | undefined;
let ciIssuer: FakeCiIssuer | undefined;
const clients: { close: () => void }[] = [];

/** Stops workerd's and the Node server's process groups; safe to call twice, and from 'exit'. */
function stopServers() {
  nodeServer?.stop();
  if (workerd?.pid && workerd.exitCode === null && workerd.signalCode === null) {
    try {
      process.kill(-workerd.pid, 'SIGTERM');
    } catch {}
  }
}
process.on('exit', stopServers);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopServers();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- build

/** latchkey's production bundle, as `npm run build:worker` makes it, into `dir`. */
function buildLatchkey(dir: string) {
  execFileSync(process.execPath, [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', dir], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
}

/** The wrapper's import of the Worker's source becomes an import of the production bundle beside it. */
const productionBundle: Plugin = {
  name: 'latchkey-production-bundle',
  setup(plugin) {
    plugin.onResolve({ filter: /worker\/entry\/cloudflare\.ts$/ }, () => ({ path: './cloudflare.js', external: true }));
  },
};

async function bundle(entry: string, outfile: string, plugins: Plugin[] = []) {
  await build({
    entryPoints: [join(ROOT, 'bench/side-by-side', entry)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2023',
    conditions: ['workerd', 'worker', 'browser', 'import'],
    mainFields: ['module', 'main'],
    external: ['cloudflare:*', 'node:*'],
    minify: true,
    logLevel: 'error',
    plugins,
  });
}

// ---------------------------------------------------------------- serve

type Ports = { latchkey: number; latchkeyDelayed: number; openauth: number; oauthProvider: number; floor: number; node: number };

/**
 * One latchkey service: the counting wrapper over the production bundle, with its own KV
 * service, Durable Object namespace and disk, so the two latchkeys share no state.
 */
function latchkeyWorker(settings: Record<string, string>, kv: string, disk: string, uniqueKey: string) {
  const bindings = Object.entries(settings).map(
    ([name, value]) => `(name = ${JSON.stringify(name)}, text = ${JSON.stringify(value)})`,
  );
  return `(
  modules = [
    (name = "entry.js", esModule = embed "latchkey-counted.js"),
    (name = "cloudflare.js", esModule = embed "latchkey/cloudflare.js"),
  ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  bindings = [
    ${bindings.join(',\n    ')},
    (name = "LATCHKEY_KV", kvNamespace = "${kv}"),
    (name = "LATCHKEY_ATOMIC", durableObjectNamespace = "AtomicStore"),
  ],
  durableObjectNamespaces = [(className = "AtomicStore", uniqueKey = "${uniqueKey}", enableSql = true)],
  durableObjectStorage = (localDisk = "${disk}"),
  # CI exchange fetches the fake CI issuer's keys from 127.0.0.1.
  globalOutbound = "loopback",
)`;
}

function config(dir: string, ports: Ports, settings: (port: number) => Record<string, string>) {
  const kv = `(modules = [(name = "kv.js", esModule = embed "kv.js")], compatibilityDate = "${COMPATIBILITY_DATE}")`;
  const delayed = { ...settings(ports.latchkeyDelayed), BENCH_DO_DELAY_MS: String(DELAY_MS) };
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "latchkey", worker = .latchkey),
    (name = "latchkey-delayed", worker = .latchkeyDelayed),
    (name = "openauth", worker = .openauth),
    (name = "oauth-provider", worker = .oauthProvider),
    (name = "floor", worker = .floor),
    (name = "kv", worker = ${kv}),
    (name = "kv-delayed", worker = ${kv}),
    (name = "do-disk", disk = (path = ${JSON.stringify(join(dir, 'do'))}, writable = true)),
    (name = "do-disk-delayed", disk = (path = ${JSON.stringify(join(dir, 'do-delayed'))}, writable = true)),
    (name = "do-disk-floor", disk = (path = ${JSON.stringify(join(dir, 'do-floor'))}, writable = true)),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [
    (name = "latchkey", address = "127.0.0.1:${ports.latchkey}", http = (), service = "latchkey"),
    (name = "latchkey-delayed", address = "127.0.0.1:${ports.latchkeyDelayed}", http = (), service = "latchkey-delayed"),
    (name = "openauth", address = "127.0.0.1:${ports.openauth}", http = (), service = "openauth"),
    (name = "oauth-provider", address = "127.0.0.1:${ports.oauthProvider}", http = (), service = "oauth-provider"),
    (name = "floor", address = "127.0.0.1:${ports.floor}", http = (), service = "floor"),
  ],
);
const latchkey :Workerd.Worker = ${latchkeyWorker(settings(ports.latchkey), 'kv', 'do-disk', 'latchkey-side-by-side-atomic')};
const latchkeyDelayed :Workerd.Worker = ${latchkeyWorker(delayed, 'kv-delayed', 'do-disk-delayed', 'latchkey-side-by-side-delayed')};
const openauth :Workerd.Worker = (
  modules = [(name = "openauth.js", esModule = embed "openauth.js")],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  # openauth reads process.env, and its issuer imports MemoryStorage, which imports node:fs.
  compatibilityFlags = ["nodejs_compat", "enable_nodejs_fs_module"],
  bindings = [(name = "OPENAUTH_KV", kvNamespace = "kv")],
);
const oauthProvider :Workerd.Worker = (
  modules = [(name = "oauth-provider.js", esModule = embed "oauth-provider.js")],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  bindings = [(name = "OAUTH_KV", kvNamespace = "kv")],
);
const floor :Workerd.Worker = (
  modules = [(name = "floor.js", esModule = embed "floor.js")],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  bindings = [(name = "FLOOR", durableObjectNamespace = "Chain")],
  durableObjectNamespaces = [(className = "Chain", uniqueKey = "latchkey-side-by-side-floor", enableSql = true)],
  durableObjectStorage = (localDisk = "do-disk-floor"),
);
`;
}

/** The last 64 KB workerd wrote, for a failure's message (openauth logs every request). */
let logs = '';
const keepLog = (chunk: Buffer) => {
  logs = (logs + chunk.toString()).slice(-65_536);
};

async function waitFor(url: string) {
  for (let attempt = 0; ; attempt++) {
    const ready = await fetch(url).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    if (attempt > 150 || workerd?.exitCode !== null) throw new Error(`workerd did not answer ${url}:\n${logs}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A process's CPU time so far (user + system, all threads), in milliseconds. */
let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}
async function cpuMs(pid: number | undefined): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1000;
}

/** Durable Object databases on disk: one SQLite file per object that ever stored anything. */
async function objectFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((name) => name.endsWith('.sqlite')).length;
}

// ---------------------------------------------------------------- operations

/** 32 refresh chains of one side: each loop refreshes its own chain, one request after another. */
async function refreshChains(side: Side) {
  // One sign-in after another: the sign-ins are set-up, not what is measured.
  const chains: string[] = [];
  for (let chain = 0; chain < CHAINS; chain++) chains.push((await side.login()).refresh);
  const run = (count: number) =>
    block(CONNECTIONS, count, BLOCK_SECONDS, async (loop) => {
      chains[loop] = await side.refresh(chains[loop] as string);
      run.refreshes++;
    });
  run.refreshes = 0;
  return run;
}

const getRoute = (call: Call, path: string, bearer: string) => (count: number) =>
  block(CONNECTIONS, count, BLOCK_SECONDS, async () => {
    const reply = await call(path, { headers: { authorization: `Bearer ${bearer}` } });
    if (reply.status !== 200) throw new Error(`${path} answered ${reply.status}: ${reply.body.slice(0, 300)}`);
  });

type Operation = () => Promise<void>;
type Operations = {
  login: Operation;
  refresh: Operation;
  keyCheck: Operation;
  jwtCheck: Operation;
  /** Absent, with the reason, when the exchange failed during set-up. */
  ciExchange: Operation | string;
  /** A session's refresh token, moved on by `refresh`. */
  session: Tokens;
  apiKey: string;
};

/** Issue 18's five operations on one latchkey side, each with its set-up done (an org and its API key, a session). */
async function latchkeyOperations(side: Side, issuer: FakeCiIssuer): Promise<Operations> {
  const owner = await side.login();
  const postJson = async (path: string, body: unknown) =>
    expectOk(
      path,
      await side.call(path, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.access}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );
  await postJson('/v1/orgs', { slug: 'bench' });
  const apiKey = String((await postJson('/v1/orgs/bench/keys', { name: 'bench', role: 'member' })).key);
  const me = (bearer: string) => async () => {
    expectOk('/v1/me', await side.call('/v1/me', { headers: { authorization: `Bearer ${bearer}` } }));
  };
  const session = await side.login();
  const exchange = async () => {
    const subject = await issuer.sign(GITHUB.branchPush);
    const reply = await side.call(
      '/oauth/token',
      form({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        audience: 'web',
      }),
    );
    expectOk('CI exchange', reply);
  };
  let ciExchange: Operation | string = exchange;
  try {
    await exchange(); // the issuer's keys are fetched here, once
  } catch (error) {
    ciExchange = `not measured: ${(error as Error).message.slice(0, 200)}`;
  }
  return {
    login: async () => {
      await side.login();
    },
    refresh: async () => {
      session.refresh = await side.refresh(session.refresh);
    },
    keyCheck: me(apiKey),
    // The session's record is read once, then served from the isolate's cache, as on a warm isolate.
    jwtCheck: me(owner.access),
    ciExchange,
    session,
    apiKey,
  };
}

// ---------------------------------------------------------------- measure

type Measured = { blocks: Block[]; cpuMs: number[] };
type Run = (count: number) => Promise<Block>;

/**
 * Interleaved rounds over `runs`: the order rotates each round; the serving process's CPU
 * per block is kept (`pids` names the process of a run not served by workerd).
 */
async function rounds(runs: Record<string, Run>, count: number, pids: Record<string, number> = {}) {
  const names = Object.keys(runs);
  const measured: Record<string, Measured> = Object.fromEntries(names.map((name) => [name, { blocks: [], cpuMs: [] }]));
  for (const name of names) await (runs[name] as Run)(Math.max(CONNECTIONS, Math.floor(count / 4))); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (let index = 0; index < names.length; index++) {
      const name = names[(index + round) % names.length] as string;
      const pid = pids[name] ?? workerd?.pid;
      const cpuBefore = await cpuMs(pid);
      const result = await (runs[name] as Run)(count);
      const cpu = (await cpuMs(pid)) - cpuBefore;
      measured[name]?.blocks.push(result);
      measured[name]?.cpuMs.push(cpu / result.requests);
    }
  }
  return measured;
}

const rate = (m: Measured) => median(m.blocks.map((b) => b.rate));
const p = (m: Measured, q: number) => median(m.blocks.map((b) => percentile(b.latencies, q)));
const ratio = (subject: Measured, peer: Measured) =>
  median(subject.blocks.map((b, round) => b.rate / (peer.blocks[round] as Block).rate));
const verdict = (met: boolean) => (met ? 'met' : '**NOT met**');

/** `value` to `digits` places; `n/a` if not a number, and never `-0.00`. */
const fmt = (value: number, digits = 0) => {
  if (!Number.isFinite(value)) return 'n/a';
  const fixed = value.toFixed(digits);
  return /^-0(\.0*)?$/.test(fixed) ? fixed.slice(1) : fixed;
};
const trips = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(2));

type CountsReply = { kv: number; durableObject: number; objects: number; window: number; byMethod: Record<string, number> };
const counts = async (origin: string) => (await (await fetch(`${origin}/__bench/counts`)).json()) as CountsReply;
/** latchkey's wrapper only: from now on, `window` counts the distinct objects addressed. */
const startWindow = async (origin: string) => {
  const reply = await fetch(`${origin}/__bench/window`, { method: 'POST' });
  if (reply.status !== 204) throw new Error(`${origin}/__bench/window answered ${reply.status}`);
};

/**
 * Store round trips per operation, counted at `origin`'s bindings, object databases
 * created on disk, and (latchkey only, `windowed`) the distinct objects the `times`
 * operations addressed, divided by `times`.
 */
async function perOperation(origin: string, doDir: string, times: number, operation: Operation, windowed = false) {
  if (windowed) await startWindow(origin);
  const before = await counts(origin);
  const filesBefore = await objectFiles(doDir);
  for (let index = 0; index < times; index++) await operation();
  const after = await counts(origin);
  const filesAfter = await objectFiles(doDir);
  return {
    durableObject: (after.durableObject - before.durableObject) / times,
    kv: (after.kv - before.kv) / times,
    objects: windowed ? after.window / times : 0,
    files: (filesAfter - filesBefore) / times,
    // e.g. `durableObject.consume 1, kv.get 2`: which calls, per operation.
    calls: Object.entries(after.byMethod)
      .map(([name, count]) => [name, (count - (before.byMethod[name] ?? 0)) / times] as const)
      .filter(([, count]) => count > 0)
      .map(([name, count]) => `${name.replace('durableObject.', 'DO ').replace('kv.', 'KV ')} ${trips(count)}`)
      .join(', '),
  };
}
type PerOperation = Awaited<ReturnType<typeof perOperation>>;

try {
  // Build: the production bundle, the wrapper and the peers.
  const started = performance.now();
  buildLatchkey(join(work, 'latchkey'));
  await bundle('latchkey-counted.ts', join(work, 'latchkey-counted.js'), [productionBundle]);
  await bundle('openauth-worker.ts', join(work, 'openauth.js'));
  await bundle('oauth-provider-worker.ts', join(work, 'oauth-provider.js'));
  await bundle('../../test/fixtures/workerd-kv-service.ts', join(work, 'kv.js'));
  await bundle('durable-write-floor-worker.ts', join(work, 'floor.js'));

  // CI exchange needs a trusted issuer and a policy; the issuer is a Node server on 127.0.0.1.
  ciIssuer = await startFakeCiIssuer();
  const ciPolicy = octoRepoPolicy(ciIssuer.issuer, CI_AUDIENCE, { id: 'bench', grant: { project: 'web', scopes: ['read'] } });
  const ports: Ports = {
    latchkey: await freePort(),
    latchkeyDelayed: await freePort(),
    openauth: await freePort(),
    oauthProvider: await freePort(),
    floor: await freePort(),
    node: await freePort(),
  };
  // Every latchkey gets the same settings; only the issuer (its own origin) and the store differ.
  const shared = {
    LATCHKEY_IDENTITY: 'dev',
    LATCHKEY_CI_ISSUERS: `${ciIssuer.issuer}=repository_owner_id`,
    LATCHKEY_CI_POLICIES: JSON.stringify([ciPolicy]),
  };
  const settings = (port: number) => ({ LATCHKEY_ISSUER: `http://127.0.0.1:${port}`, LATCHKEY_STORE: 'kv', ...shared });
  // The grace window as the server reads it from these settings.
  const graceMs = parseConfig(settings(ports.latchkey)).ttl.refreshGrace * 1000;
  await writeFile(join(work, 'config.capnp'), config(work, ports, settings));
  const doDir = join(work, 'do');
  await mkdir(doDir);
  await mkdir(join(work, 'do-delayed'));
  await mkdir(join(work, 'do-floor'));
  workerd = spawn(WORKERD, ['serve', join(work, 'config.capnp')], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  workerd.stdout?.on('data', keepLog);
  workerd.stderr?.on('data', keepLog);
  const origins = {
    latchkey: `http://127.0.0.1:${ports.latchkey}`,
    latchkeyDelayed: `http://127.0.0.1:${ports.latchkeyDelayed}`,
    openauth: `http://127.0.0.1:${ports.openauth}`,
    oauthProvider: `http://127.0.0.1:${ports.oauthProvider}`,
    floor: `http://127.0.0.1:${ports.floor}`,
  };
  nodeServer = await startNodeLatchkey(ROOT, ports.node, shared);
  await waitFor(`${origins.latchkey}/healthz`);
  await waitFor(`${origins.latchkeyDelayed}/healthz`);
  await waitFor(`${origins.openauth}/.well-known/oauth-authorization-server`);
  await waitFor(`${origins.oauthProvider}/__bench/counts`);

  const connect = (origin: string) => {
    const made = client(origin, CONNECTIONS);
    clients.push(made);
    return made.call;
  };
  const latchkey = latchkeySide('latchkey (KV + DO)', origins.latchkey, connect(origins.latchkey));
  const delayed = latchkeySide('latchkey (KV + DO, delayed)', origins.latchkeyDelayed, connect(origins.latchkeyDelayed));
  const onNode = latchkeySide('latchkey (Node + memory)', nodeServer.origin, connect(nodeServer.origin));
  const openauth = openauthSide(origins.openauth, connect(origins.openauth));
  const oauthProvider = oauthProviderSide(origins.oauthProvider, connect(origins.oauthProvider));
  const floor = floorSide(origins.floor, connect(origins.floor));

  // ---- The rotation race first: its grace window runs out while the counts and the latency model are measured.
  const races: Race[] = [await raceRefreshes(latchkey, RACERS), await raceRefreshes(onNode, RACERS)];

  // ---- Store round trips per operation, before the load, on a quiet store.
  const ops = await latchkeyOperations(latchkey, ciIssuer);
  const loginOps = await perOperation(origins.latchkey, doDir, 5, ops.login, true);
  const sessionOps = await perOperation(
    origins.latchkey,
    doDir,
    1,
    async () => {
      const session = await latchkey.login();
      for (let index = 0; index < 10; index++) session.refresh = await latchkey.refresh(session.refresh);
    },
    true,
  );
  const refreshOps = await perOperation(origins.latchkey, doDir, 20, ops.refresh, true);
  await ops.jwtCheck(); // the session's record is now in the isolate's cache, as on a warm isolate
  const keyOps = await perOperation(origins.latchkey, doDir, 50, ops.keyCheck, true);
  const jwtOps = await perOperation(origins.latchkey, doDir, 50, ops.jwtCheck, true);
  const ciOps =
    typeof ops.ciExchange === 'string' ? ops.ciExchange : await perOperation(origins.latchkey, doDir, 20, ops.ciExchange, true);

  const peerOps = async (side: Side, validate: (tokens: Tokens) => Operation) => {
    const tokens = await side.login();
    await validate(tokens)(); // JWKS or keys fetched, code paths compiled
    const refresh = async () => {
      tokens.refresh = await side.refresh(tokens.refresh);
    };
    return {
      refresh: await perOperation(side.origin, doDir, 20, refresh),
      validate: await perOperation(side.origin, doDir, 50, validate(tokens)),
    };
  };
  const verify = (tokens: Tokens) => async () => {
    expectOk('openauth /verify', await openauth.call('/verify', { headers: { authorization: `Bearer ${tokens.access}` } }));
  };
  const validate = (tokens: Tokens) => async () => {
    expectOk(
      'workers-oauth-provider /api/me',
      await oauthProvider.call('/api/me', { headers: { authorization: `Bearer ${tokens.access}` } }),
    );
  };
  const openauthOps = await peerOps(openauth, verify);
  const oauthProviderOps = await peerOps(oauthProvider, validate);

  // ---- The latency model: each operation one at a time, on latchkey and on its delayed twin.
  // A goal is judged on the rounded count: a few ms of noise on the delay is not a round trip.
  type Modelled = { name: string; key: keyof Operations; times: number; counted: PerOperation | string; goal?: Goal };
  type Goal = { says: string; met: (paid: number) => boolean };
  const delayedOps = await latchkeyOperations(delayed, ciIssuer);
  const modelled: Modelled[] = [
    { name: 'device login (whole flow)', key: 'login', times: 3, counted: loginOps },
    {
      name: 'refresh',
      key: 'refresh',
      times: 10,
      counted: refreshOps,
      goal: { says: 'one round trip', met: (paid) => Math.round(paid) <= 1 },
    },
    {
      name: 'API-key check (`/v1/me`)',
      key: 'keyCheck',
      times: 20,
      counted: keyOps,
      goal: { says: 'at most one', met: (paid) => Math.round(paid) <= 1 },
    },
    {
      name: 'JWT check (`/v1/me`, session cache warm)',
      key: 'jwtCheck',
      times: 20,
      counted: jwtOps,
      goal: { says: 'none', met: (paid) => Math.round(paid) === 0 },
    },
    { name: 'CI exchange', key: 'ciExchange', times: 10, counted: ciOps },
  ];
  const latencies: (Modelled & { plain: number; slowed: number })[] = [];
  for (const row of modelled) {
    const plainOp = ops[row.key];
    const slowedOp = delayedOps[row.key];
    if (typeof plainOp !== 'function' || typeof slowedOp !== 'function') {
      latencies.push({ ...row, plain: Number.NaN, slowed: Number.NaN });
      continue;
    }
    // The unmeasured first run of `sequential` warms the JWT check's session cache just before.
    latencies.push({ ...row, plain: await sequential(row.times, plainOp), slowed: await sequential(row.times, slowedOp) });
  }

  // ---- The rotation race's second step, once its grace window is over.
  const reuses: Reuse[] = [];
  for (const race of races) reuses.push(await reuseAfterGrace(race, graceMs));

  // ---- Throughput and latency, interleaved. The GET rows go first: in workerd the Durable
  // Objects live in latchkey's own isolate, and the thousands the refresh rows leave behind
  // would weigh on its checks, which in production they would not.
  const openauthTokens = await openauth.login();
  const oauthProviderTokens = await oauthProvider.login();
  const jwtSession = await latchkey.login();
  const got = await rounds(
    {
      latchkeyJwt: getRoute(latchkey.call, '/v1/me', jwtSession.access),
      latchkeyKey: getRoute(latchkey.call, '/v1/me', ops.apiKey),
      openauthVerify: getRoute(openauth.call, '/verify', openauthTokens.access),
      oauthProviderValidate: getRoute(oauthProvider.call, '/api/me', oauthProviderTokens.access),
    },
    PER_BLOCK,
  );

  const latchkeyChains = await refreshChains(latchkey);
  const chains = {
    latchkey: latchkeyChains,
    node: await refreshChains(onNode),
    openauth: await refreshChains(openauth),
    oauthProvider: await refreshChains(oauthProvider),
    floor: await refreshChains(floor),
  };
  // Only latchkey has Durable Objects on this disk: every database made from here on is one of its refreshes'.
  const filesBeforeRefresh = await objectFiles(doDir);
  const refreshed = await rounds(chains, REFRESH_PER_BLOCK, { node: nodeServer.pid });
  const filesPerRefresh = ((await objectFiles(doDir)) - filesBeforeRefresh) / latchkeyChains.refreshes;
  const seconds = (performance.now() - started) / 1000;

  // ---- Report.
  const R = refreshed as Record<'latchkey' | 'node' | 'openauth' | 'oauthProvider' | 'floor', Measured>;
  const G = got as Record<'latchkeyJwt' | 'latchkeyKey' | 'openauthVerify' | 'oauthProviderValidate', Measured>;
  const out: string[] = [];
  out.push(
    `Side by side in one workerd serve: latchkey's production bundle (KV + Durable Object on local disk), workers-oauth-provider 1.2.3, openauth 0.4.3, one in-memory KV service; and latchkey under Node ${process.version} on its memory store. Median of ${ROUNDS} interleaved rounds; ${CONNECTIONS} keep-alive connections; ${fmt(seconds)} s in all.\n`,
  );
  out.push(
    `| ${CHAINS} sequential refresh chains (${REFRESH_PER_BLOCK} refreshes a block) | req/s | server CPU per refresh | p50 | p99 |`,
  );
  out.push('| --- | ---: | ---: | ---: | ---: |');
  for (const [name, m] of [
    ['workers-oauth-provider', R.oauthProvider],
    ['openauth', R.openauth],
    ['latchkey (KV + DO)', R.latchkey],
    ['latchkey, same app on Node + memory store (node CPU)', R.node],
    ['floor: a Worker doing only one Durable Object compare-and-set per refresh (no token)', R.floor],
  ] as const) {
    out.push(`| ${name} | ${fmt(rate(m))} | ${fmt(median(m.cpuMs), 2)} ms | ${fmt(p(m, 50), 1)} ms | ${fmt(p(m, 99), 1)} ms |`);
  }

  // A goal of null: a reference row, issue 18 sets no goal for it.
  const rows: [string, number, number | null][] = [
    ['refresh vs workers-oauth-provider', ratio(R.latchkey, R.oauthProvider), 1.5],
    ['refresh vs openauth', ratio(R.latchkey, R.openauth), 1.2],
    ['refresh, latchkey on Node + memory vs workers-oauth-provider', ratio(R.node, R.oauthProvider), null],
    ['refresh, latchkey on Node + memory vs openauth', ratio(R.node, R.openauth), null],
    ['refresh, latchkey on KV + DO vs the same app on Node + memory', ratio(R.latchkey, R.node), null],
    ['refresh, latchkey on KV + DO vs the floor (one durable compare-and-set, nothing else)', ratio(R.latchkey, R.floor), null],
    [
      'the floor vs workers-oauth-provider: the most any durable, guaranteed rotation reaches here',
      ratio(R.floor, R.oauthProvider),
      null,
    ],
    ['the floor vs openauth: the same', ratio(R.floor, R.openauth), null],
    ['`GET /v1/me`, JWT vs openauth `client.verify`', ratio(G.latchkeyJwt, G.openauthVerify), 1.0],
    ['`GET /v1/me`, API key vs workers-oauth-provider validation', ratio(G.latchkeyKey, G.oauthProviderValidate), 1.5],
  ];
  out.push('\n| latchkey / peer, same run | ratio | goal (issue 18) | |');
  out.push('| --- | ---: | ---: | --- |');
  for (const [name, value, goal] of rows) {
    const judged = goal === null ? ['reference', ''] : [`>= ${goal.toFixed(1)}x`, verdict(value >= goal)];
    out.push(`| ${name} | **${fmt(value, 2)}x** | ${judged[0]} | ${judged[1]} |`);
  }

  out.push(
    `\n| GET under ${CONNECTIONS} connections (${PER_BLOCK} requests a block) | req/s | p50 | p99 | p99 / openauth verify p99 | goal |`,
  );
  out.push('| --- | ---: | ---: | ---: | ---: | --- |');
  const openauthP99 = p(G.openauthVerify, 99);
  for (const [name, m, judged] of [
    ['latchkey `/v1/me`, JWT', G.latchkeyJwt, true],
    ['latchkey `/v1/me`, API key', G.latchkeyKey, true],
    ['openauth `/verify` (client.verify)', G.openauthVerify, false],
    ['workers-oauth-provider `/api/me` (validation)', G.oauthProviderValidate, false],
  ] as const) {
    const relative = p(m, 99) / openauthP99;
    out.push(
      `| ${name} | ${fmt(rate(m))} | ${fmt(p(m, 50), 1)} ms | ${fmt(p(m, 99), 1)} ms | ${fmt(relative, 2)}x | ${judged ? `<= 1.5x, ${verdict(relative <= 1.5)}` : ''} |`,
    );
  }

  out.push(
    '\n| store round trips per operation, counted at the bindings | Durable Object calls | KV calls | objects addressed (distinct, / operations) | object databases created | calls by method | goal (issue 18) | |',
  );
  out.push('| --- | ---: | ---: | ---: | ---: | --- | --- | --- |');
  const opRow = (name: string, ops: PerOperation, goal: string, met?: boolean) =>
    out.push(
      `| ${name} | ${trips(ops.durableObject)} | ${trips(ops.kv)} | ${trips(ops.objects)} | ${trips(ops.files)} | ${ops.calls} | ${goal} | ${met === undefined ? '' : verdict(met)} |`,
    );
  opRow('latchkey device login (whole flow)', loginOps, '');
  opRow('latchkey refresh', refreshOps, 'DO calls 1, objects created 0', refreshOps.durableObject <= 1 && refreshOps.files === 0);
  opRow('latchkey API-key check (`/v1/me`)', keyOps, 'at most 1 round trip (DO + KV)', keyOps.durableObject + keyOps.kv <= 1);
  opRow('latchkey JWT check (`/v1/me`, session cache warm)', jwtOps, 'none', jwtOps.durableObject + jwtOps.kv === 0);
  if (typeof ciOps === 'string') out.push(`| latchkey CI exchange | ${ciOps} | | | | | | |`);
  else opRow('latchkey CI exchange', ciOps, '');
  opRow('openauth refresh', openauthOps.refresh, '');
  opRow('openauth `client.verify`', openauthOps.validate, '');
  opRow('workers-oauth-provider refresh', oauthProviderOps.refresh, '');
  opRow('workers-oauth-provider validation', oauthProviderOps.validate, '');

  out.push(
    `\n| latency model: one at a time, ${DELAY_MS} ms before every Durable Object call | DO calls counted | p50, no delay | p50, delayed | added | added / ${DELAY_MS} ms = round trips in sequence | goal (issue 18) | |`,
  );
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |');
  for (const { name, counted, plain, slowed, goal } of latencies) {
    const paid = (slowed - plain) / DELAY_MS;
    const doCalls = typeof counted === 'string' ? counted : trips(counted.durableObject);
    out.push(
      `| latchkey ${name} | ${doCalls} | ${fmt(plain, 1)} ms | ${fmt(slowed, 1)} ms | ${fmt(slowed - plain, 1)} ms | ${fmt(paid, 2)} | ${goal?.says ?? ''} | ${goal && Number.isFinite(paid) ? verdict(goal.met(paid)) : ''} |`,
    );
  }

  out.push(
    `\n| rotation guarantee: ${RACERS} concurrent refreshes of one token | successes | distinct successors | failures | after the ${fmt(graceMs / 1000)} s grace window: spent token again / its successor | goal (issue 18) | |`,
  );
  out.push('| --- | ---: | ---: | --- | --- | --- | --- |');
  races.forEach((race, index) => {
    const reuse = reuses[index] as Reuse;
    const failures = race.failures.length === 0 ? 'none' : race.failures.join(', ');
    out.push(
      `| ${race.side.name} | ${race.successes}/${race.concurrent} | ${race.successors.size} | ${failures} | ${reuse.spentAgain} / ${reuse.successorAfter} (waited ${fmt(reuse.waitedMs / 1000, 1)} s more) | one successor; reuse revokes the family | ${verdict(oneSuccessor(race) && reuse.met)} |`,
    );
  });

  out.push('\n| Durable Objects | counted | goal (issue 18) | |');
  out.push('| --- | ---: | --- | --- |');
  out.push(
    `| object databases (SQLite files) created per refresh, during the refresh rows | ${fmt(filesPerRefresh, 2)} | 0 | ${verdict(filesPerRefresh === 0)} |`,
  );
  out.push(`| objects addressed per refresh (distinct over 20 refreshes / 20) | ${trips(refreshOps.objects)} | | |`);
  out.push(
    `| per session, a device login and 10 refreshes: objects addressed / databases created | ${sessionOps.objects} / ${sessionOps.files} | a small constant | |`,
  );
  out.push(`| object databases on disk at the end of the run | ${await objectFiles(doDir)} | | |`);
  console.log(out.join('\n'));
} finally {
  for (const made of clients) made.close();
  stopServers();
  await ciIssuer?.stop();
  await rm(work, { recursive: true, force: true });
}
