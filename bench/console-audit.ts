/**
 * The console's heaviest page, an org's audit trail with 200 entries
 * (GET /console/orgs/{org}/audit?limit=200: every entry read, the whole chain re-hashed
 * and checked, 200 rows rendered), as a ratio to GET /healthz in the same run.
 *
 * The production bundle under a raw `workerd serve` (test/fixtures/workerd-serve.ts:
 * Durable Objects on local disk, KV in memory; never wrangler dev, whose proxy adds its
 * own millisecond). The trail is filled through the real API (an org and its projects),
 * the page is read with a signed-in admin's console cookie. One request at a time, the two
 * routes alternating (which goes first alternating too), so drift on a noisy machine hits
 * both alike; the time of a request is from sending it to its last byte over loopback.
 */

import { deviceLogin, FormBrowser } from '../test/fixtures/oauth-client.ts';
import { startWorkerdServe } from '../test/fixtures/workerd-serve.ts';

const PAIRS = Number(process.env.BENCH_ROUNDS ?? 300);
const WARM_UP = 30;
const ENTRIES = 200;
const ORG = 'bench';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const percentile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * q))] as number;

const served = await startWorkerdServe({ LATCHKEY_IDENTITY: 'dev', LATCHKEY_SESSION_CACHE: '0' });
try {
  const base = served.url;
  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };

  // The admin signs in to the console first: a sign-in is itself audited in the orgs the person is in.
  const browser = new FormBrowser(base);
  const signIn = await browser.request('/console');
  if ((await browser.submitSignIn(signIn.html, 'admin@bench.example')).status !== 303) throw new Error('console sign-in failed');
  const { access_token: token } = await deviceLogin(base, 'admin@bench.example');
  await api('POST', '/v1/orgs', token, { slug: ORG });
  const trailLength = async () => {
    let count = 0;
    for (let after: number | null = 0; after !== null; ) {
      const page = await api('GET', `/v1/orgs/${ORG}/audit?after=${after}&limit=200`, token);
      count += (page.entries as unknown[]).length;
      after = page.next_after as number | null;
    }
    return count;
  };
  for (let index = await trailLength(); index < ENTRIES; index++) {
    await api('POST', `/v1/orgs/${ORG}/projects`, token, { slug: `p${index}` });
  }
  const entries = await trailLength();
  if (entries !== ENTRIES) throw new Error(`the trail has ${entries} entries, not ${ENTRIES}`);

  const auditPath = `/console/orgs/${ORG}/audit?limit=200`;
  const check = await browser.request(auditPath);
  if (check.status !== 200 || !check.html.includes(`Chain verified: ${ENTRIES} entries`)) {
    throw new Error(`the audit page answered ${check.status}:\n${check.html.slice(0, 800)}`);
  }
  const rows = check.html.match(/<tr data-seq=/g)?.length ?? 0;
  if (rows !== ENTRIES) throw new Error(`the audit page shows ${rows} rows, not ${ENTRIES}`);

  /** Milliseconds from sending the request to the last byte of its answer. */
  const timed = async (request: () => Promise<{ status: number }>) => {
    const started = performance.now();
    const { status } = await request();
    const took = performance.now() - started;
    if (status !== 200) throw new Error(`answered ${status}`);
    return took;
  };
  const audit = () => timed(() => browser.request(auditPath));
  const healthz = () =>
    timed(async () => {
      const response = await fetch(`${base}/healthz`);
      await response.arrayBuffer();
      return response;
    });

  // For reference: the same 200 reads through the JSON API, with neither the chain check nor the page.
  const json = () =>
    timed(async () => {
      const response = await fetch(`${base}/v1/orgs/${ORG}/audit?limit=200`, { headers: { authorization: `Bearer ${token}` } });
      await response.arrayBuffer();
      return response;
    });

  for (let index = 0; index < WARM_UP; index++) {
    await audit();
    await healthz();
    await json();
  }
  const times = { audit: [] as number[], healthz: [] as number[], json: [] as number[] };
  const started = performance.now();
  for (let pair = 0; pair < PAIRS; pair++) {
    if (pair % 2 === 0) {
      times.audit.push(await audit());
      times.healthz.push(await healthz());
    } else {
      times.healthz.push(await healthz());
      times.audit.push(await audit());
    }
    if (pair % 4 === 0) times.json.push(await json());
  }
  const seconds = (performance.now() - started) / 1000;
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const ratio = median(times.audit) / median(times.healthz);
  process.stdout.write(
    `Console audit page under workerd serve: ${PAIRS} alternating pairs, one request at a time (${seconds.toFixed(1)} s)\n\n` +
      '| route | median | p90 |\n| --- | ---: | ---: |\n' +
      `| GET /console/orgs/${ORG}/audit?limit=200 (${ENTRIES} entries, chain checked) | ${ms(median(times.audit))} | ${ms(percentile(times.audit, 0.9))} |\n` +
      `| GET /healthz | ${ms(median(times.healthz))} | ${ms(percentile(times.healthz, 0.9))} |\n` +
      `| (reference) GET /v1/orgs/${ORG}/audit?limit=200, the same reads as JSON | ${ms(median(times.json))} | ${ms(percentile(times.json, 0.9))} |\n\n` +
      `audit page / healthz: **${ratio.toFixed(1)}x** the server time of /healthz\n`,
  );
} finally {
  await served.stop();
}
