/**
 * Bench only: @cloudflare/workers-oauth-provider used as a library, in its one-Worker
 * shape (`OAuthProvider`): it owns the token endpoint and checks the Bearer token of every
 * request under `/api` (one KV read, props decrypted) before the API handler runs.
 *
 * - `POST /__bench/client`: a public client (PKCE, no secret), as a CLI would be.
 * - `GET /authorize`: parses the request and completes it for a fresh user at once (the
 *   sign-in and consent pages are the application's, not what is measured).
 * - `POST /oauth/token`: the library's code exchange and refresh (rotating refresh tokens).
 * - `GET /api/me`: the validated token's props as JSON.
 * - `GET /__bench/counts`: KV calls since start-up.
 */
import { type OAuthHelpers, OAuthProvider } from '@cloudflare/workers-oauth-provider';
import { type Counts, countingKv, countsJson, newCounts } from './counting.ts';

type Env = { OAUTH_KV: KVNamespace; OAUTH_PROVIDER: OAuthHelpers };

const counts: Counts = newCounts();

const api = {
  fetch(_request: Request, _env: Env, ctx: ExecutionContext & { props?: unknown }) {
    return Response.json(ctx.props ?? null);
  },
};

const authorize = {
  async fetch(request: Request, env: Env) {
    const url = new URL(request.url);
    const oauth = env.OAUTH_PROVIDER;
    if (url.pathname === '/__bench/client' && request.method === 'POST') {
      const client = await oauth.createClient({
        redirectUris: ['http://127.0.0.1/callback'],
        clientName: 'latchkey bench',
        tokenEndpointAuthMethod: 'none',
        grantTypes: ['authorization_code', 'refresh_token'],
        responseTypes: ['code'],
      });
      return Response.json({ client_id: client.clientId });
    }
    if (url.pathname === '/authorize') {
      const parsed = await oauth.parseAuthRequest(request);
      const userId = crypto.randomUUID();
      const { redirectTo } = await oauth.completeAuthorization({
        request: parsed,
        userId,
        metadata: {},
        scope: parsed.scope,
        props: { userId, email: `${userId}@example.com` },
      });
      return new Response(null, { status: 302, headers: { location: redirectTo } });
    }
    return new Response('not found', { status: 404 });
  },
};

let provider: OAuthProvider<Env> | undefined;
let wrappedKv: KVNamespace | undefined;

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> | Response {
    const url = new URL(request.url);
    if (url.pathname === '/__bench/counts') return Response.json(countsJson(counts));
    // The resource is this Worker's own /api, on whatever loopback port the bench chose.
    provider ??= new OAuthProvider<Env>({
      apiRoute: '/api',
      apiHandler: api,
      defaultHandler: authorize,
      authorizeEndpoint: '/authorize',
      tokenEndpoint: '/oauth/token',
      scopesSupported: ['read'],
      resourceMetadata: { resource: `${url.origin}/api`, authorization_servers: [url.origin] },
    });
    wrappedKv ??= countingKv(env.OAUTH_KV, counts);
    return provider.fetch(request, { ...env, OAUTH_KV: wrappedKv }, ctx);
  },
};
