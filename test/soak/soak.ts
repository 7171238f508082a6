/**
 * `npm run soak -- [--minutes 10] [--rate 40]`: mixed, realistic traffic at a fixed rate
 * against two servers at once, workerd (the production bundle under a raw `workerd
 * serve`, Durable Objects on disk) and Node + Redis, for a while. Per window (a minute;
 * 5 s in runs under three minutes): p50/p99 per route, the server's memory (RSS), the
 * store's size, errors. Fails if anything errs, if memory or a route's p99 drifts upward
 * from the first third of the run to the last, or if anything expires late: a device code
 * not approved must be `expired_token` by its TTL (+1 s), and a revoked session's token
 * must be refused once the revocation answered.
 *
 * The mix, per request slot: API-key and JWT checks on /v1/me (35% each), refreshes
 * (15%), CI exchanges (5%), device logins (5%, three requests and an approval each), and
 * session revocations (5%).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { GITHUB, octoRepoPolicy } from '../fixtures/ci-claims.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { deviceLogin, exchangeIdToken, pollToken, postForm, refresh, startDeviceLogin } from '../fixtures/oauth-client.ts';
import { startWorker } from '../fixtures/worker-server.ts';
import { startWorkerdServe } from '../fixtures/workerd-serve.ts';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '10' }, rate: { type: 'string', default: '40' } },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
if (!(minutes > 0) || !(rate > 0)) throw new Error('--minutes and --rate take positive numbers');
const WINDOW_MS = minutes >= 3 ? 60_000 : 5_000;
const DEVICE_TTL_S = 20;
const ROUTES = ['key check', 'JWT check', 'refresh', 'CI exchange', 'login', 'revoke'] as const;
type Route = (typeof ROUTES)[number];
const MIX: [Route, number][] = [
  ['key check', 35],
  ['JWT check', 35],
  ['refresh', 15],
  ['CI exchange', 5],
  ['login', 5],
  ['revoke', 5],
];

type Window = { latencies: Record<Route, number[]>; errors: string[]; late: string[]; rssMb: number; storeMb: number };
type Session = { access: string; refresh: string };
type Target = {
  name: string;
  url: string;
  memory: () => Promise<number>;
  storeSize: () => Promise<number>;
  stop: () => Promise<void>;
};

async function rssMb(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir, { recursive: true }).catch(() => [] as string[])) {
    total += await stat(join(dir, name)).then(
      (info) => (info.isFile() ? info.size : 0),
      () => 0,
    );
  }
  return total;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
};

async function soak(target: Target, issuer: FakeCiIssuer): Promise<Window[]> {
  const owner = await deviceLogin(target.url, 'owner@soak.example');
  await ok(apiCall(target.url, 'POST', '/v1/orgs', owner.access_token, { slug: 'soak' }));
  const apiKey = String((await ok(apiCall(target.url, 'POST', '/v1/orgs/soak/keys', owner.access_token, { name: 'soak' }))).key);
  const sessions: Session[] = [];
  for (let index = 0; index < 8; index++) {
    const login = await deviceLogin(target.url, `person${index}@soak.example`);
    sessions.push({ access: login.access_token, refresh: login.refresh_token });
  }
  const windows: Window[] = [];
  const fresh = (): Window => ({
    latencies: Object.fromEntries(ROUTES.map((route) => [route, []])) as unknown as Record<Route, number[]>,
    errors: [],
    late: [],
    rssMb: 0,
    storeMb: 0,
  });
  let current = fresh();
  const started = performance.now();
  const end = started + minutes * 60_000;
  const pending: Promise<void>[] = [];
  const timed = async (route: Route, run: () => Promise<string | null>) => {
    const window = current;
    const sent = performance.now();
    const problem = await run().catch((error: Error) => `${error.message}`);
    window.latencies[route].push(performance.now() - sent);
    if (problem) window.errors.push(`${route}: ${problem.slice(0, 200)}`);
  };
  const expect = (what: string, status: number, wanted: number) => (status === wanted ? null : `${what} answered ${status}`);
  const pick = () => sessions[Math.floor(Math.random() * sessions.length)] as Session;

  const operations: Record<Route, () => Promise<string | null>> = {
    'key check': async () =>
      expect('/v1/me', (await fetch(`${target.url}/v1/me`, { headers: { authorization: `Bearer ${apiKey}` } })).status, 200),
    'JWT check': async () =>
      expect(
        '/v1/me',
        (await fetch(`${target.url}/v1/me`, { headers: { authorization: `Bearer ${pick().access}` } })).status,
        200,
      ),
    refresh: async () => {
      const session = pick();
      const rotated = await refresh(target.url, session.refresh);
      if (rotated.status !== 200) return `refresh answered ${rotated.status} ${JSON.stringify(rotated.json)}`;
      session.refresh = String(rotated.json.refresh_token);
      session.access = String(rotated.json.access_token);
      return null;
    },
    'CI exchange': async () => {
      const reply = await exchangeIdToken(target.url, await issuer.sign(GITHUB.branchPush), { audience: 'web' });
      return expect('exchange', reply.status, 200);
    },
    login: async () => {
      const login = await deviceLogin(target.url, `new${Math.floor(Math.random() * 1e9)}@soak.example`);
      sessions.push({ access: login.access_token, refresh: login.refresh_token });
      return null;
    },
    revoke: async () => {
      if (sessions.length <= 4) return null;
      const [session] = sessions.splice(Math.floor(Math.random() * sessions.length), 1) as [Session];
      const revoked = await postForm(`${target.url}/oauth/revoke`, { token: session.refresh, client_id: 'latchkey-cli' });
      if (revoked.status !== 200) return `revoke answered ${revoked.status}`;
      // LATCHKEY_SESSION_CACHE=0 here: once the revocation answered, the token is refused.
      const after = await fetch(`${target.url}/v1/me`, { headers: { authorization: `Bearer ${session.access}` } });
      if (after.status !== 401) current.late.push(`a revoked session's token answered ${after.status}`);
      return null;
    },
  };

  // Device codes left unapproved: each must have expired by its TTL (+1 s).
  const expiries = (async () => {
    while (performance.now() < end - (DEVICE_TTL_S + 2) * 1000) {
      const code = await startDeviceLogin(target.url).catch(() => null);
      if (code) {
        await sleep((DEVICE_TTL_S + 1) * 1000);
        const polled = await pollToken(target.url, code.device_code);
        if (polled.json.error !== 'expired_token')
          current.late.push(`a device code ${DEVICE_TTL_S + 1} s old answered ${String(polled.json.error)}`);
      }
      await sleep(5000);
    }
  })();

  const total = MIX.reduce((sum, [, weight]) => sum + weight, 0);
  let slot = 0;
  let windowEnds = started + WINDOW_MS;
  while (performance.now() < end) {
    const due = started + (slot * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (performance.now() >= windowEnds && windowEnds < end) {
      current.rssMb = await target.memory();
      current.storeMb = (await target.storeSize()) / 1024 / 1024;
      windows.push(current);
      current = fresh();
      windowEnds += WINDOW_MS;
    }
    let roll = Math.random() * total;
    const route: Route = MIX.find(([, weight]) => (roll -= weight) < 0)?.[0] ?? 'key check';
    pending.push(timed(route, operations[route]));
    if (pending.length > 2000) await Promise.all(pending.splice(0));
    slot++;
  }
  await Promise.all(pending);
  await expiries;
  current.rssMb = await target.memory();
  current.storeMb = (await target.storeSize()) / 1024 / 1024;
  windows.push(current);
  return windows;
}

function report(name: string, windows: Window[]): string[] {
  const problems: string[] = [];
  const seconds = WINDOW_MS / 1000;
  const lines = [
    `\n${name}: ${rate} requests/s, ${minutes} min, windows of ${seconds} s (p50 / p99 in ms)`,
    `| window | ${ROUTES.join(' | ')} | RSS MB | store MB | errors |`,
    `| ---: | ${ROUTES.map(() => '---:').join(' | ')} | ---: | ---: | ---: |`,
  ];
  windows.forEach((window, index) => {
    const cells = ROUTES.map((route) => {
      const values = window.latencies[route];
      return values.length ? `${percentile(values, 50).toFixed(1)} / ${percentile(values, 99).toFixed(1)}` : '-';
    });
    lines.push(
      `| ${(index + 1) * seconds} s | ${cells.join(' | ')} | ${window.rssMb.toFixed(0)} | ${window.storeMb.toFixed(1)} | ${window.errors.length} |`,
    );
    problems.push(...window.errors.slice(0, 3), ...window.late);
  });
  // Drift: the last third against the first (the first window left out: warm-up), each
  // third the median of its windows' figures, so one window's pause (a collection, a
  // checkpoint) is not a trend; it takes two windows a third or more to judge.
  const body = windows.slice(1);
  const third = Math.floor(body.length / 3);
  const [first, last] = [body.slice(0, third), body.slice(-third)];
  if (third >= 2) {
    const median = (part: Window[], figure: (window: Window) => number | null) =>
      percentile(
        part.map(figure).filter((value): value is number => value !== null),
        50,
      );
    const memory = (part: Window[]) => median(part, (window) => window.rssMb);
    if (memory(last) > memory(first) * 1.5 + 20)
      problems.push(`memory drifts up: ${memory(first).toFixed(0)} MB → ${memory(last).toFixed(0)} MB`);
    for (const route of ROUTES) {
      // A window's p99 of fewer than 20 requests is one request's luck: left out.
      const p99 = (part: Window[]) =>
        median(part, (window) => (window.latencies[route].length >= 20 ? percentile(window.latencies[route], 99) : null));
      const [was, is] = [p99(first), p99(last)];
      if (Number.isNaN(was) || Number.isNaN(is)) continue;
      if (is > was * 2 + 25) problems.push(`${route} p99 drifts up: ${was.toFixed(1)} ms → ${is.toFixed(1)} ms`);
    }
  }
  lines.push(
    problems.length ? `${name}: FAILED\n  ${problems.join('\n  ')}` : `${name}: no errors, nothing expired late, no upward drift`,
  );
  console.log(lines.join('\n'));
  return problems;
}

const issuer = await startFakeCiIssuer();
const vars = {
  LATCHKEY_DEVICE_CODE_TTL: `${DEVICE_TTL_S}s`,
  LATCHKEY_SESSION_CACHE: '0',
  LATCHKEY_CI_ISSUERS: `${issuer.issuer}=repository_owner_id`,
  LATCHKEY_CI_POLICIES: JSON.stringify([
    octoRepoPolicy(issuer.issuer, 'https://latchkey.test', { id: 'soak', grant: { project: 'web', scopes: ['read'] } }),
  ]),
};
const targets: Target[] = [];
let failed = true;
try {
  const workerd = await startWorkerdServe(vars);
  targets.push({
    name: 'workerd (KV + Durable Objects)',
    url: workerd.url,
    memory: () => rssMb(workerd.pid),
    storeSize: () => bytesUnder(workerd.stateDir),
    stop: workerd.stop,
  });
  const node = await startWorker(vars, { target: 'node-redis' });
  const redis = node.redis;
  targets.push({
    name: 'Node + Redis',
    url: node.url,
    memory: () => rssMb(node.pid),
    storeSize: async () => Number(/used_memory:(\d+)/.exec(String(await redis?.command(['INFO', 'memory'])))?.[1] ?? 0),
    stop: node.stop,
  });
  const results = await Promise.all(targets.map((target) => soak(target, issuer)));
  const problems = targets.flatMap((target, index) => report(target.name, results[index] as Window[]));
  failed = problems.length > 0;
} finally {
  for (const target of targets) await target.stop();
  await issuer.stop();
}
process.exitCode = failed ? 1 : 0;
