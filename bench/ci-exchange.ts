/**
 * CI exchanges per second with a warm JWKS cache, as a ratio to `GET /v1/me` (a JWT check
 * plus its revocation reads) measured in the same run, on the same server. Each exchange
 * spends its token's `jti`, so the tokens are signed before the clock starts. Blocks of
 * both kinds alternate, and the ratio is the median of the rounds' ratios, so drift on a
 * noisy machine hits both sides alike. Targets: LATCHKEY_BENCH_TARGETS (default
 * node-memory and workerd-kv; the latter through `wrangler dev`, whose proxy adds a fixed
 * cost per request to both sides).
 */
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../shared/schemas.ts';
import { GITHUB, octoRepoPolicy } from '../test/fixtures/ci-claims.ts';
import { startFakeCiIssuer } from '../test/fixtures/fake-ci-issuer.ts';
import { deviceLogin } from '../test/fixtures/oauth-client.ts';
import { startWorker, TARGETS, type Target } from '../test/fixtures/worker-server.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_BLOCK = Number(process.env.BENCH_REQUESTS ?? 400);
const CONCURRENCY = 8;
const AUDIENCE = 'https://latchkey.test';

const targets = (process.env.LATCHKEY_BENCH_TARGETS ?? 'node-memory,workerd-kv').split(',') as Target[];
for (const target of targets) if (!TARGETS.includes(target)) throw new Error(`unknown target ${target}`);

/** Runs `count` requests, `CONCURRENCY` at a time; requests per second. */
async function throughput(count: number, request: (index: number) => Promise<Response>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const index = next++;
        const response = await request(index);
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`request ${index} answered ${response.status}`);
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

console.log(`CI exchange vs /v1/me: ${ROUNDS} rounds of ${PER_BLOCK} requests each, ${CONCURRENCY} at a time\n`);
console.log('| target | exchange req/s | /v1/me req/s | exchange / me |\n| --- | ---: | ---: | ---: |');
for (const target of targets) {
  const issuer = await startFakeCiIssuer();
  const policy = octoRepoPolicy(issuer.issuer, AUDIENCE, {
    id: 'bench',
    grant: { project: 'web', scopes: ['read'] },
  });
  const server = await startWorker(
    { LATCHKEY_CI_ISSUERS: `${issuer.issuer}=repository_owner_id`, LATCHKEY_CI_POLICIES: JSON.stringify([policy]) },
    { target },
  );
  try {
    const user = await deviceLogin(server.url, 'bench@example.com');
    const tokens = await Promise.all(Array.from({ length: (ROUNDS + 1) * PER_BLOCK }, () => issuer.sign(GITHUB.branchPush)));
    let used = 0;
    const exchange = () =>
      fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: TOKEN_EXCHANGE_GRANT,
          subject_token: tokens[used++] as string,
          subject_token_type: TOKEN_TYPE.idToken,
          audience: 'web',
        }),
      });
    const me = () => fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${user.access_token}` } });
    // Warm-up: the JWKS is fetched here, and both paths are compiled.
    await throughput(PER_BLOCK, exchange);
    await throughput(PER_BLOCK, me);
    const fetchesBefore = issuer.jwksFetches();
    const exchanges: number[] = [];
    const mes: number[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const a = await throughput(PER_BLOCK, exchange);
      const b = await throughput(PER_BLOCK, me);
      exchanges.push(a);
      mes.push(b);
      ratios.push(a / b);
    }
    if (issuer.jwksFetches() !== fetchesBefore) throw new Error('the JWKS was fetched again during the run: cache not warm');
    console.log(`| ${target} | ${median(exchanges).toFixed(0)} | ${median(mes).toFixed(0)} | ${median(ratios).toFixed(2)}x |`);
  } finally {
    await server.stop();
    await issuer.stop();
  }
}
