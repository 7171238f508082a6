/**
 * Hono middleware: `app.use('/api/*', latchkey(verifier, { scope: 'read' }))`, then
 * `c.var.principal` in the handlers. Refusals answer 401/403 (503 when the issuer cannot be
 * reached) with the RFC 6750 challenge and a JSON `{ error, error_description }` body.
 */
import type { MiddlewareHandler } from 'hono';
import { requireScope } from './checks.ts';
import { VerifyError } from './errors.ts';
import type { Principal } from './principal.ts';
import type { Verifier } from './verifier.ts';

export type LatchkeyEnv = { Variables: { principal: Principal } };

export function latchkey(verifier: Verifier, options: { scope?: string | string[] } = {}): MiddlewareHandler<LatchkeyEnv> {
  const scopes = options.scope === undefined ? [] : Array.isArray(options.scope) ? options.scope : options.scope.split(' ');
  return async function latchkeyAuth(c, next) {
    try {
      const principal = await verifier.verify(c.req.header('authorization'));
      if (scopes.length) requireScope(principal, ...scopes);
      c.set('principal', principal);
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      return c.json(error.toJSON(), error.status, {
        'WWW-Authenticate': error.challenge,
        'Cache-Control': 'no-store',
      });
    }
    await next();
  };
}

/** Renders a VerifyError a handler threw (from requireScope and the like) as the middleware does. */
export function verifyErrorResponse(error: VerifyError): Response {
  return new Response(JSON.stringify(error.toJSON()), {
    status: error.status,
    headers: { 'content-type': 'application/json', 'www-authenticate': error.challenge, 'cache-control': 'no-store' },
  });
}
