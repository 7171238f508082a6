/**
 * Bench only: @openauthjs/openauth used as a library, as its Cloudflare guide shows: the
 * issuer on KV (CloudflareStorage), and a resource route that checks an access token with
 * the library's client (`client.verify`, JWKS fetched once from the issuer and cached).
 *
 * - `/authorize`, `/token`, `/.well-known/*`: the issuer. Its one provider, `bench`,
 *   signs in a fresh user at once (the identity step is not what is measured).
 * - `GET /verify`: the Bearer token through `client.verify`, the subject as JSON.
 * - `GET /__bench/counts`: KV calls since start-up.
 */
import { createClient } from '@openauthjs/openauth/client';
import { issuer } from '@openauthjs/openauth/issuer';
import { CloudflareStorage } from '@openauthjs/openauth/storage/cloudflare';
import { createSubjects } from '@openauthjs/openauth/subject';
import { type Counts, countingKv, countsJson, newCounts } from './counting.ts';

type Env = { OPENAUTH_KV: KVNamespace };
type User = { email: string };

/** A Standard Schema validator that accepts any object with an email: the subject's shape. */
const user = {
  '~standard': {
    version: 1 as const,
    vendor: 'latchkey-bench',
    validate: (value: unknown) =>
      typeof value === 'object' && value !== null && typeof (value as User).email === 'string'
        ? { value: value as User }
        : { issues: [{ message: 'not a user' }] },
  },
};
const subjects = createSubjects({ user });

const counts: Counts = newCounts();

function build(env: Env) {
  const app = issuer({
    storage: CloudflareStorage({ namespace: countingKv(env.OPENAUTH_KV, counts) as never }),
    subjects,
    providers: {
      bench: {
        type: 'bench',
        init(routes, ctx) {
          routes.get('/authorize', (c) => ctx.success(c, { email: `${crypto.randomUUID()}@example.com` }));
        },
      },
    },
    success: (ctx, value) => ctx.subject('user', { email: value.email }),
  });
  return app;
}

let app: ReturnType<typeof build> | undefined;
let client: ReturnType<typeof createClient> | undefined;

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    app ??= build(env);
    const url = new URL(request.url);
    if (url.pathname === '/__bench/counts') return Response.json(countsJson(counts));
    if (url.pathname !== '/verify') return app.fetch(request, env, ctx);

    const issuerApp = app;
    // The issuer is this Worker: the client reaches it without a network hop, as a Service Binding would.
    client ??= createClient({
      clientID: 'bench',
      issuer: url.origin,
      fetch: (input, init) => Promise.resolve(issuerApp.fetch(new Request(input, init), env, ctx)),
    });
    const token = (request.headers.get('authorization') ?? '').replace(/^Bearer /, '');
    const verified = await client.verify(subjects, token);
    if (verified.err) return Response.json({ error: 'invalid_token' }, { status: 401 });
    return Response.json(verified.subject.properties);
  },
};
