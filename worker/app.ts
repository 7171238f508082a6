/**
 * createApp(config, deps) -> Hono. Wires routes and the one error renderer; nothing else.
 * Built once per isolate by an entry file.
 */
import { Hono } from 'hono';
import { html } from 'hono/html';
import { OAuthError } from '../shared/errors.ts';
import type { Config } from './config.ts';
import { renderPage } from './pages/layout.ts';
import { auditRoutes } from './routes/audit.ts';
import { authorizeRoutes } from './routes/authorize.ts';
import { deviceAuthorizationRoutes } from './routes/device-authorization.ts';
import { devicePageRoutes } from './routes/device-page.ts';
import { discoveryRoutes } from './routes/discovery.ts';
import { healthRoutes } from './routes/health.ts';
import { introspectRoutes } from './routes/introspect.ts';
import { meRoutes } from './routes/me.ts';
import { orgRoutes } from './routes/orgs.ts';
import { revokeRoutes } from './routes/revoke.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { signInRoutes } from './routes/sign-in.ts';
import { tokenRoutes } from './routes/token.ts';
import { trustPolicyRoutes } from './routes/trust-policies.ts';
import { type Deps, type Services, servicesLoader } from './services.ts';
import { StoreError } from './store/store.ts';

export type AppEnv = { Variables: { services: Services; deps: Deps; requestId: string } };

/** Seconds a client should wait before retrying when the store is down. */
const STORE_RETRY_AFTER_SECONDS = 5;

export function createApp(config: Config, deps: Deps): Hono<AppEnv> {
  const services = servicesLoader(config, deps);
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    c.set('deps', deps);
    // Names the request in audit entries; the caller sees it, to quote when asking why.
    // A UUID costs one native call. Set on the finished response, error pages included;
    // every Response here is built by the app, so its headers are mutable.
    const requestId = `req_${crypto.randomUUID()}`;
    c.set('requestId', requestId);
    await next();
    c.res.headers.set('X-Request-Id', requestId);
  });
  app.route('/', healthRoutes);
  app.use(async (c, next) => {
    c.set('services', await services());
    await next();
  });
  for (const routes of [
    discoveryRoutes,
    deviceAuthorizationRoutes,
    devicePageRoutes,
    signInRoutes,
    authorizeRoutes,
    tokenRoutes,
    revokeRoutes,
    introspectRoutes,
    meRoutes,
    trustPolicyRoutes,
    orgRoutes,
    sessionRoutes,
    auditRoutes,
  ]) {
    app.route('/', routes);
  }

  app.notFound((c) => {
    c.header('Cache-Control', 'no-store');
    return c.json({ error: 'not_found', error_description: 'no such endpoint (or not with this method)' }, 404);
  });
  app.onError((error, c) => {
    const known = toOAuthError(error);
    if (!known) console.error(`latchkey: unhandled ${error.name} on ${c.req.method} ${new URL(c.req.url).pathname}`);
    const rendered = known ?? new OAuthError('server_error', 'internal error');
    for (const [name, value] of Object.entries(rendered.headers)) c.header(name, value);
    // RFC 6750 §3: every refused Bearer credential gets a challenge, not only a missing one.
    if (rendered.code === 'invalid_token' && !rendered.headers['WWW-Authenticate']) {
      c.header('WWW-Authenticate', 'Bearer realm="latchkey", error="invalid_token"');
    }
    const status = rendered.status as 400;
    const path = new URL(c.req.url).pathname;
    if ((path.startsWith('/device') || path.startsWith('/signin') || path.startsWith('/oauth/authorize')) && c.get('services')) {
      const page = Math.min(status, 503) as 400;
      return renderPage(
        c,
        page,
        'Something went wrong',
        html`<p class="error" role="alert">${rendered.message}</p>
<p><a href="/device">Start again</a></p>`,
      );
    }
    c.header('Cache-Control', 'no-store');
    return c.json(rendered.toJSON(), status);
  });
  return app;
}

function toOAuthError(error: Error): OAuthError | null {
  if (error instanceof OAuthError) return error;
  if (error instanceof StoreError) {
    return new OAuthError('temporarily_unavailable', 'the store is not answering; retry shortly', {
      headers: { 'Retry-After': String(STORE_RETRY_AFTER_SECONDS) },
    });
  }
  // Hono's own HTTPException (e.g. a malformed request it rejects itself) stays 4xx.
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new OAuthError('invalid_request', 'malformed request', { status });
  }
  return null;
}
