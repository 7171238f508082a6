/**
 * Credential validation on `GET /v1/me` under `workerd serve` (the workerd binary that
 * comes with wrangler; no `wrangler dev` proxy in the path), each as a ratio to a
 * bench-only baseline route in the same workerd (bench/workerd/entry.ts):
 *
 * - an API key vs one store read and nothing else (goal >= 0.8x);
 * - a JWT access token vs jose's `jwtVerify` and nothing else (goal >= 0.8x);
 * - store reads per validation, counted at the bindings (goal: at most one for a key, which
 *   an isolate reuses for LATCHKEY_SESSION_CACHE as it does a session; zero for a JWT and
 *   for a malformed key).
 *
 * A JWT's check consults its session record so that a revoked session is refused. By
 * default an isolate trusts a record it read for 1 s and every revocation waits that long
 * before answering (accounts/isolate-cache.ts), so checks cost no read while a session
 * ended anywhere is still refused from the first request after the answer. The JWT row is
 * measured twice: by default, and with LATCHKEY_SESSION_CACHE=0 (a read on every check,
 * revocations answer at once); the time a session revocation takes to answer is printed.
 *
 * State: a Durable Object namespace on local disk (as in production, SQLite-backed), and
 * KV served by a small in-memory service, since workerd has no KV of its own. Blocks of
 * the two sides alternate and the ratio is the median of the rounds' ratios, so drift on a
 * noisy machine hits both alike.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/fixtures/free-port.ts';
import { deviceLogin } from '../test/fixtures/oauth-client.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const WORKERD = join(ROOT, 'node_modules/workerd/bin/workerd');
// This machine's neighbours make single rounds swing by 20 %; the median of many holds.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
// Blocks of ~0.5 s: shorter ones let one scheduler hiccup decide a round.
const PER_BLOCK = Number(process.env.BENCH_REQUESTS ?? 3000);
const CONCURRENCY = 8;

const bundle = await mkdtemp(join(tmpdir(), 'latchkey-workerd-bench-'));
execFileSync(
  join(ROOT, 'node_modules/.bin/wrangler'),
  ['deploy', '--dry-run', '--config', 'bench/workerd/wrangler.toml', '--outdir', bundle],
  {
    cwd: ROOT,
    stdio: 'ignore',
  },
);

/** One workerd serving the bundle with the given extra text bindings; stopped by `stop`. */
async function serve(vars: Record<string, string>) {
  const dir = await mkdtemp(join(bundle, 'run-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;

  // workerd's KV binding speaks HTTP to a service: GET, PUT and DELETE on /<key>.
  const KV_SERVICE = `const data = new Map();
export default {
  async fetch(request) {
    const key = decodeURIComponent(new URL(request.url).pathname.slice(1));
    if (request.method === 'GET') return data.has(key) ? new Response(data.get(key)) : new Response(null, { status: 404 });
    if (request.method === 'PUT') { data.set(key, await request.text()); return new Response(null); }
    if (request.method === 'DELETE') { data.delete(key); return new Response(null); }
    return new Response(null, { status: 405 });
  },
};
`;
  await writeFile(join(dir, 'kv.js'), KV_SERVICE);
  await writeFile(
    join(dir, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "latchkey", worker = .latchkey),
    (name = "kv", worker = (modules = [(name = "kv.js", esModule = embed "kv.js")], compatibilityDate = "2025-09-01")),
    (name = "do-disk", disk = (path = "${join(dir, 'do')}", writable = true)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "latchkey")],
);
const latchkey :Workerd.Worker = (
  modules = [(name = "entry.js", esModule = embed "../entry.js")],
  compatibilityDate = "2025-09-01",
  bindings = [
    (name = "LATCHKEY_ISSUER", text = "${base}"),
    (name = "LATCHKEY_IDENTITY", text = "dev"),
    (name = "LATCHKEY_STORE", text = "kv"),
    (name = "LATCHKEY_KV", kvNamespace = "kv"),
    (name = "LATCHKEY_ATOMIC", durableObjectNamespace = "AtomicStore"),
${Object.entries(vars)
  .map(([name, value]) => `    (name = "${name}", text = "${value}"),\n`)
  .join('')}  ],
  durableObjectNamespaces = [(className = "AtomicStore", uniqueKey = "latchkey-bench-atomic", enableSql = true)],
  durableObjectStorage = (localDisk = "do-disk"),
);
`,
  );
  await mkdir(join(dir, 'do'));

  let logs = '';
  const workerd = spawn(WORKERD, ['serve', join(dir, 'config.capnp')], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  workerd.stdout?.on('data', (chunk) => {
    logs += chunk;
  });

  workerd.stderr?.on('data', (chunk) => {
    logs += chunk;
  });
  const stop = async () => {
    if (workerd.exitCode === null) process.kill(-(workerd.pid as number), 'SIGTERM');
  };
  for (let attempt = 0; ; attempt++) {
    const ready = await fetch(`${base}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (attempt > 100 || workerd.exitCode !== null) {
      await stop();
      throw new Error(`workerd did not start:\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return { base, stop };
}

/** Signs in, makes an org and an API key, and seeds the baseline routes. */
async function prepare(base: string) {
  const post = (path: string, bearer: string, body: unknown) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (response) => {
      if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as Record<string, unknown>;
    });
  const { access_token: jwt } = await deviceLogin(base, 'bench@example.com');
  const me = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${jwt}` } });
  const sid = String(((await me.json()) as { session_id: string }).session_id);
  await post('/v1/orgs', jwt, { slug: 'bench' });
  const apiKey = String((await post('/v1/orgs/bench/keys', jwt, { name: 'bench', role: 'member' })).key);
  const malformed = `${apiKey.slice(0, -1)}${apiKey.endsWith('A') ? 'B' : 'A'}`;
  const seeded = await fetch(`${base}/__bench/seed`);
  if (!seeded.ok) throw new Error(`seed: ${seeded.status}`);
  return { jwt, apiKey, malformed, sid };
}

/** Throughput and read counts against one running workerd. */
function measure(base: string) {
  const get =
    (path: string, bearer: string, status = 200) =>
    async () => {
      const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${bearer}` } });
      await response.arrayBuffer();
      if (response.status !== status) throw new Error(`${path} answered ${response.status}`);
    };

  /** `count` requests, CONCURRENCY at a time; requests per second. */
  async function throughput(count: number, request: () => Promise<void>): Promise<number> {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < count) await request();
      }),
    );
    return count / ((performance.now() - started) / 1000);
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

  async function compare(subject: () => Promise<void>, baseline: () => Promise<void>) {
    await throughput(PER_BLOCK / 2, subject); // warm-up: compile both paths
    await throughput(PER_BLOCK / 2, baseline);
    const ratios: number[] = [];
    const rates: [number[], number[]] = [[], []];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which side goes first, so neither always runs on a warmer machine.
      const first = round % 2 === 0;
      const a = first ? await throughput(PER_BLOCK, subject) : 0;
      const b = await throughput(PER_BLOCK, baseline);
      const s = first ? a : await throughput(PER_BLOCK, subject);
      rates[0].push(s);
      rates[1].push(b);
      ratios.push(s / b);
    }
    return { subject: median(rates[0]), baseline: median(rates[1]), ratio: median(ratios) };
  }

  async function readsPer(request: () => Promise<void>, times = 100): Promise<number> {
    const counts = async () => (await (await fetch(`${base}/__bench/counts`)).json()) as { reads: number; writes: number };
    const before = await counts();
    for (let index = 0; index < times; index++) await request();
    const after = await counts();
    return (after.reads - before.reads) / times;
  }

  return { get, compare, readsPer };
}

const fixed = (value: number) => value.toFixed(0);
const verdict = (ratio: number, goal: number) => (ratio >= goal ? 'met' : 'NOT met');
const results = { key: [] as string[], token: [] as string[], reads: [] as string[], revoke: [] as string[] };
/** Ends the session through POST /v1/sessions/{sid}/revoke; milliseconds until the answer. */
async function revokeTime(base: string, jwt: string, sid: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${base}/v1/sessions/${sid}/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${jwt}` },
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`revoke answered ${response.status}`);
  return performance.now() - started;
}
try {
  // The API-key rows do not depend on the session cache: measured once, in the first run.
  for (const [label, vars, first] of [
    ['default: LATCHKEY_SESSION_CACHE=1s', {}, true],
    ['LATCHKEY_SESSION_CACHE=0', { LATCHKEY_SESSION_CACHE: '0' }, false],
  ] as const) {
    const workerd = await serve(vars);
    try {
      const { jwt, apiKey, malformed, sid } = await prepare(workerd.base);
      const { get, compare, readsPer } = measure(workerd.base);
      if (first) {
        const key = await compare(get('/v1/me', apiKey), get('/__bench/store-read', ''));
        results.key.push(
          `| API key | ${fixed(key.subject)} | one store read | ${fixed(key.baseline)} | **${key.ratio.toFixed(2)}x** | >= 0.8x, ${verdict(key.ratio, 0.8)} |`,
        );
      }
      const token = await compare(get('/v1/me', jwt), get('/__bench/jose-verify', jwt));
      results.token.push(
        `| JWT (${label}) | ${fixed(token.subject)} | jose jwtVerify | ${fixed(token.baseline)} | **${token.ratio.toFixed(2)}x** | >= 0.8x, ${verdict(token.ratio, 0.8)} |`,
      );
      if (first)
        results.reads.push(
          `| API key (default: LATCHKEY_SESSION_CACHE=1s) | ${await readsPer(get('/v1/me', apiKey))} | at most 1 |`,
        );
      results.reads.push(`| JWT (${label}) | ${await readsPer(get('/v1/me', jwt))} | 0 |`);
      if (first) {
        results.reads.push(
          `| malformed key | ${await readsPer(get('/v1/me', malformed, 401))} | 0 |`,
          `| (baseline route) | ${await readsPer(get('/__bench/store-read', ''))} | 1 |`,
        );
      }
      const took = await revokeTime(workerd.base, jwt, sid);
      const refused = (await fetch(`${workerd.base}/v1/me`, { headers: { authorization: `Bearer ${jwt}` } })).status === 401;
      results.revoke.push(`| ${label} | ${took.toFixed(0)} ms | ${refused ? 'refused' : 'ADMITTED'} |`);
    } finally {
      await workerd.stop();
    }
  }

  console.log(
    `Validation on GET /v1/me under workerd serve: median of ${ROUNDS} alternating rounds of ${PER_BLOCK} requests, ${CONCURRENCY} at a time\n`,
  );
  console.log('| credential | /v1/me req/s | baseline | baseline req/s | ratio | goal |');
  console.log('| --- | ---: | --- | ---: | ---: | --- |');
  console.log([...results.key, ...results.token].join('\n'));
  console.log('\n| store reads per validation | counted | goal |\n| --- | ---: | ---: |');
  console.log(results.reads.join('\n'));
  console.log('\n| session revocation | answered after | the token on the next request |\n| --- | ---: | --- |');
  console.log(results.revoke.join('\n'));
} finally {
  await rm(bundle, { recursive: true, force: true });
}
