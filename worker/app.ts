/**
 * createApp(config, deps) -> { fetch }. Wires routes and the one error renderer; nothing
 * else. Built once per isolate by an entry file.
 */
import { Hono } from 'hono';
import { html } from 'hono/html';
import { OAuthError } from '../shared/errors.ts';
import type { AccessTokenClaims } from '../shared/schemas.ts';
import type { Config } from './config.ts';
import type { ConsoleUser } from './http/console.ts';
import { newRequestId } from './http/request-id.ts';
import { renderPage } from './pages/layout.ts';
import { auditRoutes } from './routes/audit.ts';
import { authorizeRoutes } from './routes/authorize.ts';
import { consoleRoutes } from './routes/console/index.ts';
import { deviceAuthorizationRoutes } from './routes/device-authorization.ts';
import { devicePageRoutes } from './routes/device-page.ts';
import { discoveryRoutes } from './routes/discovery.ts';
import { domainRoutes } from './routes/domains.ts';
import { healthRoutes } from './routes/health.ts';
import { introspectRoutes } from './routes/introspect.ts';
import { invitationRoutes } from './routes/invitations.ts';
import { describeCredential, meRoutes } from './routes/me.ts';
import { orgRoutes } from './routes/orgs.ts';
import { revokeRoutes } from './routes/revoke.ts';
import { secondStepRoutes } from './routes/second-step.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { signInRoutes } from './routes/sign-in.ts';
import { ssoRoutes } from './routes/sso.ts';
import { tokenRoutes } from './routes/token.ts';
import { trustPolicyRoutes } from './routes/trust-policies.ts';
import { type Deps, type Services, servicesLoader } from './services.ts';
import { StoreError } from './store/store.ts';

export type AppEnv = {
  /** `consoleUser`: the signed-in person on a console page (routes/console/index.ts sets it). */
  /** `claims`: the verified Bearer credential of a /v1 route (http/caller.ts sets it), for a step-up check. */
  Variables: { services: Services; deps: Deps; requestId: string; consoleUser?: ConsoleUser; claims?: AccessTokenClaims };
};
export type App = { fetch: Hono<AppEnv>['fetch'] };

/** Seconds a client should wait before retrying when the store is down. */
const STORE_RETRY_AFTER_SECONDS = 5;

export function createApp(config: Config, deps: Deps): App {
  const services = servicesLoader(config, deps);
  const app = new Hono<AppEnv>();

  // GET /v1/me is answered before these middlewares (see checkCredential): whatever one
  // adds to every answer must be added there too.
  app.use(async (c, next) => {
    c.set('deps', deps);
    // Set on the finished response, error pages included; every Response here is built by
    // the app, so its headers are mutable.
    const requestId = newRequestId();
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
    secondStepRoutes,
    authorizeRoutes,
    tokenRoutes,
    revokeRoutes,
    introspectRoutes,
    meRoutes,
    trustPolicyRoutes,
    orgRoutes,
    domainRoutes,
    ssoRoutes,
    invitationRoutes,
    sessionRoutes,
    auditRoutes,
    consoleRoutes,
  ]) {
    app.route('/', routes);
  }

  app.notFound((c) => {
    c.header('Cache-Control', 'no-store');
    if (c.req.path.startsWith('/console') && c.get('services')) {
      return renderPage(
        c,
        404,
        'Not found',
        html`<p class="error" role="alert">There is no such page.</p><p><a href="/console">Back to the console</a></p>`,
      );
    }
    return c.json({ error: 'not_found', error_description: 'no such endpoint (or not with this method)' }, 404);
  });
  app.onError((error, c) => {
    // Hono's own reading of the path: it cannot throw, whatever the URL (see fetch below).
    const path = c.req.path;
    const rendered = renderedError(error, c.req.method, path);
    const pages = ['/device', '/signin', '/oauth/authorize', '/console'].find((prefix) => path.startsWith(prefix));
    if (pages && c.get('services')) {
      for (const [name, value] of Object.entries(errorHeaders(rendered))) c.header(name, value);
      const page = Math.min(rendered.status, 503) as 400;
      const back =
        pages === '/console' ? html`<a href="/console">Back to the console</a>` : html`<a href="/device">Start again</a>`;
      return renderPage(
        c,
        page,
        'Something went wrong',
        html`<p class="error" role="alert">${rendered.message}</p><p>${back}</p>`,
      );
    }
    return c.json(rendered.toJSON(), rendered.status as 400, errorHeaders(rendered));
  });
  return {
    async fetch(request, env, executionCtx) {
      try {
        // A request line or Host a runtime passes on but no URL parser reads (`Host:
        // 127.0.0.1:abc`) leaves request.url unreadable to every route: the app's own 400.
        if (!URL.canParse(request.url)) return malformedUrl();
        if (request.method === 'GET' && app.getPath(request, { env }) === '/v1/me') return await checkCredential(request);
        return await app.fetch(request, env, executionCtx);
      } catch (error) {
        // Nothing escapes to the runtime's bare 500: what the error handler itself could not
        // answer is still the app's JSON, with a request id.
        return plainError(renderedError(error as Error, request.method, 'the app'), newRequestId());
      }
    },
  };

  /**
   * GET /v1/me, answered before the router: every resource server's check of a credential
   * comes here, and in workerd the router's context and headers cost more than the
   * check's own work (measured in bench/key-and-jwt-validation.ts). Same path rule (the
   * app's own getPath), same check, same error renderer, same headers as any route.
   */
  async function checkCredential(request: Request): Promise<Response> {
    const requestId = newRequestId();
    try {
      const body = await describeCredential(await services(), request.headers.get('authorization'));
      return new Response(JSON.stringify(body), {
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-request-id': requestId },
      });
    } catch (error) {
      return plainError(renderedError(error as Error, 'GET', '/v1/me'), requestId);
    }
  }
}

/** An error answered outside the router (the credential check, a malformed request), as the router would. */
function plainError(rendered: OAuthError, requestId: string): Response {
  return new Response(JSON.stringify(rendered.toJSON()), {
    status: rendered.status,
    headers: { ...errorHeaders(rendered), 'content-type': 'application/json', 'x-request-id': requestId },
  });
}

function malformedUrl(): Response {
  return plainError(new OAuthError('invalid_request', 'the request URL (its Host or target) is malformed'), newRequestId());
}

/** What a failed request answers: its own error, or a logged, unnamed internal one. */
function renderedError(error: Error, method: string, path: string): OAuthError {
  const known = toOAuthError(error);
  if (!known) console.error(`latchkey: unhandled ${error.name} on ${method} ${path}`);
  return known ?? new OAuthError('server_error', 'internal error');
}

/** The error's own headers, never cached, and RFC 6750 §3's challenge on every refused Bearer credential. */
function errorHeaders(rendered: OAuthError): Record<string, string> {
  const headers: Record<string, string> = { ...rendered.headers, 'Cache-Control': 'no-store' };
  if (rendered.code === 'invalid_token') headers['WWW-Authenticate'] ??= 'Bearer realm="latchkey", error="invalid_token"';
  return headers;
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
