/**
 * @latchkey/verify on a resource server's hot paths, against a real latchkey in this process
 * (createApp over a memory store, on loopback), each as a ratio from the same run:
 *
 * - the JWT path, `verifier.verify('Bearer …')`, vs bare `jose.jwtVerify` with a local key set
 *   holding the same JWKS and the same checks (goal >= 0.9x: the verifier's header parsing,
 *   key cache and principal cost at most a tenth);
 * - the API-key path with a warm cache vs one `GET /v1/me` call, what a resource server pays
 *   without the cache.
 *
 * Blocks of the two sides alternate and the ratio is the median of the rounds' ratios, so
 * drift on a noisy machine hits both alike. BENCH_ROUNDS and BENCH_REQUESTS scale it.
 */
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { createVerifier } from '../packages/verify/src/index.ts';
import { apiJsonCall, ok } from '../test/fixtures/api-call.ts';
import { startInProcess } from '../test/fixtures/in-process.ts';
import { deviceLogin } from '../test/fixtures/oauth-client.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
const PER_BLOCK = Number(process.env.BENCH_REQUESTS ?? 2000);
const ME_PER_BLOCK = Math.max(20, Math.floor(PER_BLOCK / 10));

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const app = await startInProcess();
try {
  const token = (await deviceLogin(app.base, 'bench@example.com')).access_token;
  await ok(apiJsonCall(app.base, 'POST', '/v1/orgs', token, { slug: 'bench' }));
  const key = String((await ok(apiJsonCall(app.base, 'POST', '/v1/orgs/bench/keys', token, { name: 'b', role: 'member' }))).key);
  const jwks = (await (await fetch(`${app.base}/.well-known/jwks.json`)).json()) as JSONWebKeySet;

  const verifier = createVerifier({ issuer: app.base, audience: app.base, now: app.now });
  const localKeys = createLocalJWKSet(jwks);
  const header = `Bearer ${token}`;
  const keyHeader = `Bearer ${key}`;
  const bare = () =>
    jwtVerify(token, localKeys, {
      issuer: app.base,
      audience: app.base,
      algorithms: ['EdDSA', 'ES256'],
      typ: 'at+jwt',
      currentDate: new Date(app.now()),
      clockTolerance: 5,
    });
  const me = async () => {
    const response = await fetch(`${app.base}/v1/me`, { headers: { authorization: keyHeader } });
    if (response.status !== 200) throw new Error(`/v1/me answered ${response.status}`);
    await response.json();
  };

  /** Mean ms per call over a block of `n` sequential calls. */
  async function block(n: number, call: () => Promise<unknown>): Promise<number> {
    const started = performance.now();
    for (let i = 0; i < n; i++) await call();
    return (performance.now() - started) / n;
  }

  // Warm up: JIT, the verifier's JWKS and its key cache, the server's own caches.
  await block(500, () => verifier.verify(header));
  await block(500, bare);
  await block(200, () => verifier.verify(keyHeader));
  await block(50, me);

  const jwtRatios: number[] = [];
  const keyRatios: number[] = [];
  const times = { verifier: [] as number[], jose: [] as number[], cached: [] as number[], me: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const first = round % 2 === 0;
    const a = first ? await block(PER_BLOCK, () => verifier.verify(header)) : await block(PER_BLOCK, bare);
    const b = first ? await block(PER_BLOCK, bare) : await block(PER_BLOCK, () => verifier.verify(header));
    const [ours, jose] = first ? [a, b] : [b, a];
    times.verifier.push(ours);
    times.jose.push(jose);
    jwtRatios.push(jose / ours);

    const cached = await block(PER_BLOCK, () => verifier.verify(keyHeader));
    const asked = await block(ME_PER_BLOCK, me);
    times.cached.push(cached);
    times.me.push(asked);
    keyRatios.push(asked / cached);
  }

  const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;
  const jwtRatio = median(jwtRatios);
  console.log(
    '## @latchkey/verify (bench/verifier.ts)\n\n' +
      `${ROUNDS} rounds, ${PER_BLOCK} calls a block (${ME_PER_BLOCK} for /v1/me), sequential, in process\n\n` +
      '| path | median per call |\n| --- | ---: |\n' +
      `| verifier.verify(JWT) | ${us(median(times.verifier))} |\n` +
      `| jose.jwtVerify, local key set (baseline) | ${us(median(times.jose))} |\n` +
      `| verifier.verify(API key), warm cache | ${us(median(times.cached))} |\n` +
      `| GET /v1/me with the key (baseline) | ${us(median(times.me))} |\n\n` +
      `JWT path / bare jose.jwtVerify: **${jwtRatio.toFixed(2)}x** (goal >= 0.9x)${jwtRatio >= 0.9 ? '' : ' — BELOW GOAL'}\n` +
      `API key, warm cache / one /v1/me call: **${median(keyRatios).toFixed(0)}x** faster\n`,
  );
} finally {
  app.close();
}
