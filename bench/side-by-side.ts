/**
 * latchkey beside the libraries people would use instead, in ONE `workerd serve` process
 * (the binary under node_modules/workerd; no `wrangler dev` proxy in the path):
 *
 * - latchkey: its production bundle (`wrangler deploy --dry-run`, as `npm run build:worker`
 *   builds it), loaded byte for byte behind a wrapper that counts what reaches its bindings
 *   (bench/side-by-side/latchkey-counted.ts); its Durable Object on local disk (SQLite),
 *   as in production;
 * - @cloudflare/workers-oauth-provider and @openauthjs/openauth, used as libraries in small
 *   Workers (bench/side-by-side/*-worker.ts), bundled here with esbuild;
 * - all three on the same in-memory KV service (bench/side-by-side/kv-service.ts).
 *
 * Rows, each a ratio of latchkey to a peer measured in the same run, the median of
 * interleaved rounds (the order of the sides rotates each round): refresh (32 sequential
 * refresh chains) vs both peers; `GET /v1/me` with a JWT vs openauth's `client.verify`;
 * `GET /v1/me` with an API key vs workers-oauth-provider's token validation; p50/p99 of
 * each GET route under 32 keep-alive connections (the GET rows run first, the refresh rows
 * after them); workerd's CPU time per refresh, from /proc. Counted at the bindings, on a
 * quiet server before the load: Durable Object and KV round trips per operation (and which
 * calls), objects addressed, and object databases (SQLite files) created on disk by a
 * refresh and by a session. The goals are issue 18's; each says met or NOT met.
 *
 * BENCH_ROUNDS (default 5) and BENCH_REQUESTS (GET requests per block per route, default
 * 2000; a refresh block is a quarter of it) shorten or lengthen the run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { GITHUB, octoRepoPolicy } from '../test/fixtures/ci-claims.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../test/fixtures/fake-ci-issuer.ts';
import { freePort } from '../test/fixtures/free-port.ts';
import { deviceLogin } from '../test/fixtures/oauth-client.ts';
import { type Block, block, type Call, client, median, percentile } from './side-by-side/load.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const WORKERD = join(ROOT, 'node_modules/workerd/bin/workerd');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_BLOCK = Number(process.env.BENCH_REQUESTS ?? 2000);
const REFRESH_PER_BLOCK = Math.max(32, Math.floor(PER_BLOCK / 4));
const CONNECTIONS = 32;
const CHAINS = 32;
// A block never runs longer than this, whatever its count; a request fails after 10 s.
const BLOCK_SECONDS = 60;
const COMPATIBILITY_DATE = '2025-09-01';
const REDIRECT_URI = 'http://127.0.0.1/callback';
const CI_AUDIENCE = 'https://latchkey.test';

const work = await mkdtemp(join(tmpdir(), 'latchkey-side-by-side-'));
let workerd: ChildProcess | undefined;
let ciIssuer: FakeCiIssuer | undefined;
const clients: { close: () => void }[] = [];

/** Stops workerd's whole process group; safe to call twice, and from 'exit'. */
function stopWorkerd() {
  if (workerd?.pid && workerd.exitCode === null && workerd.signalCode === null) {
    try {
      process.kill(-workerd.pid, 'SIGTERM');
    } catch {}
  }
}
process.on('exit', stopWorkerd);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopWorkerd();
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

type Ports = { latchkey: number; openauth: number; oauthProvider: number };

async function config(dir: string, ports: Ports, ci: { issuers: string; policies: string }) {
  const text = (name: string, value: string) => `(name = ${JSON.stringify(name)}, text = ${JSON.stringify(value)})`;
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "latchkey", worker = .latchkey),
    (name = "openauth", worker = .openauth),
    (name = "oauth-provider", worker = .oauthProvider),
    (name = "kv", worker = (modules = [(name = "kv.js", esModule = embed "kv.js")], compatibilityDate = "${COMPATIBILITY_DATE}")),
    (name = "do-disk", disk = (path = ${JSON.stringify(join(dir, 'do'))}, writable = true)),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [
    (name = "latchkey", address = "127.0.0.1:${ports.latchkey}", http = (), service = "latchkey"),
    (name = "openauth", address = "127.0.0.1:${ports.openauth}", http = (), service = "openauth"),
    (name = "oauth-provider", address = "127.0.0.1:${ports.oauthProvider}", http = (), service = "oauth-provider"),
  ],
);
const latchkey :Workerd.Worker = (
  modules = [
    (name = "entry.js", esModule = embed "latchkey-counted.js"),
    (name = "cloudflare.js", esModule = embed "latchkey/cloudflare.js"),
  ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  bindings = [
    ${text('LATCHKEY_ISSUER', `http://127.0.0.1:${ports.latchkey}`)},
    ${text('LATCHKEY_IDENTITY', 'dev')},
    ${text('LATCHKEY_STORE', 'kv')},
    ${text('LATCHKEY_CI_ISSUERS', ci.issuers)},
    ${text('LATCHKEY_CI_POLICIES', ci.policies)},
    (name = "LATCHKEY_KV", kvNamespace = "kv"),
    (name = "LATCHKEY_ATOMIC", durableObjectNamespace = "AtomicStore"),
  ],
  durableObjectNamespaces = [(className = "AtomicStore", uniqueKey = "latchkey-side-by-side-atomic", enableSql = true)],
  durableObjectStorage = (localDisk = "do-disk"),
  # CI exchange fetches the fake CI issuer's keys from 127.0.0.1.
  globalOutbound = "loopback",
);
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

/** workerd's CPU time so far (user + system, all threads), in milliseconds. */
let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}
async function workerdCpuMs(): Promise<number> {
  const stat = await readFile(`/proc/${workerd?.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1000;
}

/** Durable Object databases on disk: one SQLite file per object that ever stored anything. */
async function objectFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((name) => name.endsWith('.sqlite')).length;
}

// ---------------------------------------------------------------- sides

type Tokens = { access: string; refresh: string };
const form = (params: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(params).toString(),
});
const json = (body: string) => JSON.parse(body) as Record<string, unknown>;

function expectOk(what: string, reply: { status: number; body: string }) {
  if (reply.status < 200 || reply.status > 299) throw new Error(`${what} answered ${reply.status}: ${reply.body.slice(0, 300)}`);
  return json(reply.body);
}

/** A side's refresh grant: one request, the chain's next refresh token out. */
type Side = {
  name: string;
  origin: string;
  call: Call;
  login: () => Promise<Tokens>;
  refresh: (token: string) => Promise<string>;
};

function latchkeySide(origin: string, call: Call): Side {
  return {
    name: 'latchkey (KV + DO)',
    origin,
    call,
    login: async () => {
      const tokens = await deviceLogin(origin, `bench-${randomBytes(6).toString('hex')}@example.com`);
      return { access: String(tokens.access_token), refresh: String(tokens.refresh_token) };
    },
    refresh: async (token) => {
      const reply = await call(
        '/oauth/token',
        form({ grant_type: 'refresh_token', refresh_token: token, client_id: 'latchkey-cli' }),
      );
      return String(expectOk('latchkey refresh', reply).refresh_token);
    },
  };
}

function openauthSide(origin: string, call: Call): Side {
  return {
    name: 'openauth',
    origin,
    call,
    login: async () => {
      const start = await fetch(
        `${origin}/authorize?${new URLSearchParams({ client_id: 'bench', redirect_uri: REDIRECT_URI, response_type: 'code', provider: 'bench' })}`,
        { redirect: 'manual' },
      );
      const cookie = start.headers
        .getSetCookie()
        .map((line) => line.split(';')[0])
        .join('; ');
      const signedIn = await fetch(new URL(start.headers.get('location') ?? '', origin), {
        redirect: 'manual',
        headers: { cookie },
      });
      const code = new URL(signedIn.headers.get('location') ?? '', origin).searchParams.get('code');
      if (!code) throw new Error(`openauth sign-in: ${signedIn.status} ${await signedIn.text()}`);
      const reply = await call(
        '/token',
        form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: 'bench' }),
      );
      const tokens = expectOk('openauth code exchange', reply);
      return { access: String(tokens.access_token), refresh: String(tokens.refresh_token) };
    },
    refresh: async (token) => {
      const reply = await call('/token', form({ grant_type: 'refresh_token', refresh_token: token }));
      return String(expectOk('openauth refresh', reply).refresh_token);
    },
  };
}

function oauthProviderSide(origin: string, call: Call): Side {
  let clientId: string | undefined;
  return {
    name: 'workers-oauth-provider',
    origin,
    call,
    login: async () => {
      clientId ??= String(expectOk('client', await call('/__bench/client', { method: 'POST' })).client_id);
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT_URI,
        scope: 'read',
        state: 'bench',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      const authorized = await fetch(`${origin}/authorize?${query}`, { redirect: 'manual' });
      const code = new URL(authorized.headers.get('location') ?? '', origin).searchParams.get('code');
      if (!code) throw new Error(`workers-oauth-provider authorize: ${authorized.status} ${await authorized.text()}`);
      const reply = await call(
        '/oauth/token',
        form({
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT_URI,
          client_id: clientId,
          code_verifier: verifier,
        }),
      );
      const tokens = expectOk('workers-oauth-provider code exchange', reply);
      return { access: String(tokens.access_token), refresh: String(tokens.refresh_token) };
    },
    refresh: async (token) => {
      const reply = await call(
        '/oauth/token',
        form({ grant_type: 'refresh_token', refresh_token: token, client_id: clientId ?? '' }),
      );
      return String(expectOk('workers-oauth-provider refresh', reply).refresh_token);
    },
  };
}

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

// ---------------------------------------------------------------- measure

type Measured = { blocks: Block[]; cpuMs: number[] };
type Run = (count: number) => Promise<Block>;

/** Interleaved rounds over `runs`: the order rotates each round; workerd's CPU per block is kept. */
async function rounds(runs: Record<string, Run>, count: number): Promise<Record<string, Measured>> {
  const names = Object.keys(runs);
  const measured: Record<string, Measured> = Object.fromEntries(names.map((name) => [name, { blocks: [], cpuMs: [] }]));
  for (const name of names) await (runs[name] as Run)(Math.max(CONNECTIONS, Math.floor(count / 4))); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (let index = 0; index < names.length; index++) {
      const name = names[(index + round) % names.length] as string;
      const cpuBefore = await workerdCpuMs();
      const result = await (runs[name] as Run)(count);
      const cpu = (await workerdCpuMs()) - cpuBefore;
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

const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const trips = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(2));

type CountsReply = { kv: number; durableObject: number; objects: number; byMethod: Record<string, number> };
const counts = async (origin: string) => (await (await fetch(`${origin}/__bench/counts`)).json()) as CountsReply;

/** Store round trips per operation, counted at `origin`'s bindings, and object databases created on disk. */
async function perOperation(origin: string, doDir: string, times: number, operation: () => Promise<void>) {
  const before = await counts(origin);
  const filesBefore = await objectFiles(doDir);
  for (let index = 0; index < times; index++) await operation();
  const after = await counts(origin);
  const filesAfter = await objectFiles(doDir);
  return {
    durableObject: (after.durableObject - before.durableObject) / times,
    kv: (after.kv - before.kv) / times,
    objects: (after.objects - before.objects) / times,
    files: (filesAfter - filesBefore) / times,
    // e.g. `durableObject.consume 1, kv.get 2`: which calls, per operation.
    calls: Object.entries(after.byMethod)
      .map(([name, count]) => [name, (count - (before.byMethod[name] ?? 0)) / times] as const)
      .filter(([, count]) => count > 0)
      .map(([name, count]) => `${name.replace('durableObject.', 'DO ').replace('kv.', 'KV ')} ${trips(count)}`)
      .join(', '),
  };
}

try {
  // Build: the production bundle, the wrapper and the peers.
  const started = performance.now();
  buildLatchkey(join(work, 'latchkey'));
  await bundle('latchkey-counted.ts', join(work, 'latchkey-counted.js'), [productionBundle]);
  await bundle('openauth-worker.ts', join(work, 'openauth.js'));
  await bundle('oauth-provider-worker.ts', join(work, 'oauth-provider.js'));
  await bundle('kv-service.ts', join(work, 'kv.js'));

  // CI exchange needs a trusted issuer and a policy; the issuer is a Node server on 127.0.0.1.
  ciIssuer = await startFakeCiIssuer();
  const ciPolicy = octoRepoPolicy(ciIssuer.issuer, CI_AUDIENCE, { id: 'bench', grant: { project: 'web', scopes: ['read'] } });
  const ports: Ports = { latchkey: await freePort(), openauth: await freePort(), oauthProvider: await freePort() };
  await writeFile(
    join(work, 'config.capnp'),
    await config(work, ports, {
      issuers: `${ciIssuer.issuer}=repository_owner_id`,
      policies: JSON.stringify([ciPolicy]),
    }),
  );
  const doDir = join(work, 'do');
  await mkdir(doDir);
  workerd = spawn(WORKERD, ['serve', join(work, 'config.capnp')], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  workerd.stdout?.on('data', keepLog);
  workerd.stderr?.on('data', keepLog);
  const origins = {
    latchkey: `http://127.0.0.1:${ports.latchkey}`,
    openauth: `http://127.0.0.1:${ports.openauth}`,
    oauthProvider: `http://127.0.0.1:${ports.oauthProvider}`,
  };
  await waitFor(`${origins.latchkey}/healthz`);
  await waitFor(`${origins.openauth}/.well-known/oauth-authorization-server`);
  await waitFor(`${origins.oauthProvider}/__bench/counts`);

  const connect = (origin: string) => {
    const made = client(origin, CONNECTIONS);
    clients.push(made);
    return made.call;
  };
  const latchkey = latchkeySide(origins.latchkey, connect(origins.latchkey));
  const openauth = openauthSide(origins.openauth, connect(origins.openauth));
  const oauthProvider = oauthProviderSide(origins.oauthProvider, connect(origins.oauthProvider));

  // ---- Store round trips per operation, before the load, on a quiet store.
  const refreshOnce = (side: Side, tokens: Tokens) => async () => {
    tokens.refresh = await side.refresh(tokens.refresh);
  };
  const loginOps = await perOperation(origins.latchkey, doDir, 5, async () => {
    await latchkey.login();
  });
  const sessionFilesBefore = await objectFiles(doDir);
  const session = await latchkey.login();
  const refreshOps = await perOperation(origins.latchkey, doDir, 20, refreshOnce(latchkey, session));
  const sessionObjects = (await objectFiles(doDir)) - sessionFilesBefore;

  const owner = await latchkey.login();
  const postJson = async (path: string, body: unknown) =>
    expectOk(
      path,
      await latchkey.call(path, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.access}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );
  await postJson('/v1/orgs', { slug: 'bench' });
  const apiKey = String((await postJson('/v1/orgs/bench/keys', { name: 'bench', role: 'member' })).key);
  const me = (bearer: string) => async () => {
    expectOk('/v1/me', await latchkey.call('/v1/me', { headers: { authorization: `Bearer ${bearer}` } }));
  };
  await me(owner.access)(); // the session's record is now in the isolate's cache, as on a warm isolate
  const keyOps = await perOperation(origins.latchkey, doDir, 50, me(apiKey));
  const jwtOps = await perOperation(origins.latchkey, doDir, 50, me(owner.access));

  let ciOps: Awaited<ReturnType<typeof perOperation>> | string;
  try {
    const exchange = async () => {
      const subject = await (ciIssuer as FakeCiIssuer).sign(GITHUB.branchPush);
      const reply = await latchkey.call(
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
    await exchange(); // the issuer's keys are fetched here, once
    ciOps = await perOperation(origins.latchkey, doDir, 20, exchange);
  } catch (error) {
    ciOps = `not measured: ${(error as Error).message.slice(0, 200)}`;
  }

  const peerOps = async (side: Side, validate: (tokens: Tokens) => () => Promise<void>) => {
    const tokens = await side.login();
    await validate(tokens)(); // JWKS or keys fetched, code paths compiled
    return {
      refresh: await perOperation(side.origin, doDir, 20, refreshOnce(side, tokens)),
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

  // ---- Throughput and latency, interleaved. The GET rows go first: in workerd the Durable
  // Objects live in latchkey's own isolate, and the thousands the refresh rows leave behind
  // would weigh on its checks, which in production they would not.
  const openauthTokens = await openauth.login();
  const oauthProviderTokens = await oauthProvider.login();
  const jwtSession = await latchkey.login();
  const got = await rounds(
    {
      latchkeyJwt: getRoute(latchkey.call, '/v1/me', jwtSession.access),
      latchkeyKey: getRoute(latchkey.call, '/v1/me', apiKey),
      openauthVerify: getRoute(openauth.call, '/verify', openauthTokens.access),
      oauthProviderValidate: getRoute(oauthProvider.call, '/api/me', oauthProviderTokens.access),
    },
    PER_BLOCK,
  );

  const latchkeyChains = await refreshChains(latchkey);
  const chains = {
    latchkey: latchkeyChains,
    openauth: await refreshChains(openauth),
    oauthProvider: await refreshChains(oauthProvider),
  };
  // Only latchkey has Durable Objects: every database made from here on is one of its refreshes'.
  const filesBeforeRefresh = await objectFiles(doDir);
  const refreshed = await rounds(chains, REFRESH_PER_BLOCK);
  const filesPerRefresh = ((await objectFiles(doDir)) - filesBeforeRefresh) / latchkeyChains.refreshes;
  const seconds = (performance.now() - started) / 1000;

  // ---- Report.
  const R = refreshed as Record<'latchkey' | 'openauth' | 'oauthProvider', Measured>;
  const G = got as Record<'latchkeyJwt' | 'latchkeyKey' | 'openauthVerify' | 'oauthProviderValidate', Measured>;
  const out: string[] = [];
  out.push(
    `Side by side in one workerd serve: latchkey's production bundle (KV + Durable Object on local disk), workers-oauth-provider 1.2.3, openauth 0.4.3, one in-memory KV service. Median of ${ROUNDS} interleaved rounds; ${CONNECTIONS} keep-alive connections; ${fmt(seconds)} s in all.\n`,
  );
  out.push(
    `| ${CHAINS} sequential refresh chains (${REFRESH_PER_BLOCK} refreshes a block) | req/s | workerd CPU per refresh | p50 | p99 |`,
  );
  out.push('| --- | ---: | ---: | ---: | ---: |');
  for (const [name, m] of [
    ['workers-oauth-provider', R.oauthProvider],
    ['openauth', R.openauth],
    ['latchkey (KV + DO)', R.latchkey],
  ] as const) {
    out.push(`| ${name} | ${fmt(rate(m))} | ${fmt(median(m.cpuMs), 2)} ms | ${fmt(p(m, 50), 1)} ms | ${fmt(p(m, 99), 1)} ms |`);
  }

  const rows: [string, number, number][] = [
    ['refresh vs workers-oauth-provider', ratio(R.latchkey, R.oauthProvider), 1.5],
    ['refresh vs openauth', ratio(R.latchkey, R.openauth), 1.2],
    ['`GET /v1/me`, JWT vs openauth `client.verify`', ratio(G.latchkeyJwt, G.openauthVerify), 1.0],
    ['`GET /v1/me`, API key vs workers-oauth-provider validation', ratio(G.latchkeyKey, G.oauthProviderValidate), 1.5],
  ];
  out.push('\n| latchkey / peer, same run | ratio | goal (issue 18) | |');
  out.push('| --- | ---: | ---: | --- |');
  for (const [name, value, goal] of rows)
    out.push(`| ${name} | **${fmt(value, 2)}x** | >= ${goal.toFixed(1)}x | ${verdict(value >= goal)} |`);

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
    '\n| store round trips per operation, counted at the bindings | Durable Object calls | KV calls | objects addressed | object databases created | calls by method | goal (issue 18) | |',
  );
  out.push('| --- | ---: | ---: | ---: | ---: | --- | --- | --- |');
  const opRow = (name: string, ops: Awaited<ReturnType<typeof perOperation>>, goal: string, met?: boolean) =>
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

  out.push('\n| Durable Objects (object SQLite databases on disk) | counted | goal (issue 18) | |');
  out.push('| --- | ---: | --- | --- |');
  out.push(
    `| created per refresh, during the refresh rows | ${fmt(filesPerRefresh, 2)} | 0 | ${verdict(filesPerRefresh === 0)} |`,
  );
  out.push(`| per session: a device login and its first 20 refreshes | ${fmt(sessionObjects)} | a small constant | |`);
  out.push(`| on disk at the end of the run | ${await objectFiles(doDir)} | | |`);
  console.log(out.join('\n'));
} finally {
  for (const made of clients) made.close();
  stopWorkerd();
  await ciIssuer?.stop();
  await rm(work, { recursive: true, force: true });
}
