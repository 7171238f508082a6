/**
 * Runs Acme's API on Node: `ACME_ISSUER=https://auth.acme.dev PORT=8788 node server.ts`.
 * On Workers, Deno or Bun, export `acmeApi(…)` (a Hono app) from the runtime's entry instead.
 */
import { serve } from '@hono/node-server';
import { acmeApi } from './app.ts';

const env = process.env;
const port = Number(env.PORT ?? 8788);
if (!env.ACME_ISSUER) throw new Error('set ACME_ISSUER to the Acme deployment of latchkey (https://auth.acme.dev)');

const app = acmeApi({
  issuer: env.ACME_ISSUER,
  resource: env.ACME_API_URL ?? `http://127.0.0.1:${port}`,
  // Acme's prefixes (deployment/wrangler.jsonc), and latchkey's for keys made before the rebrand.
  apiKeyPrefixes: (env.ACME_API_KEY_PREFIXES ?? 'rsk_live_,rsk_test_,rsp_live_,rsp_test_,lk_live_,lk_test_').split(','),
  keyCacheSeconds: Number(env.ACME_KEY_CACHE_SECONDS ?? 30),
});

serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, (info) => {
  console.log(`acme api listening on http://127.0.0.1:${info.port}`);
});
