import { Hono } from 'hono';
import { html } from 'hono/html';
import { OAuthError } from '../../shared/errors.ts';
import type { SsoTestStart } from '../../shared/schemas.ts';
import { removeConnection, showConnection, writeConnection } from '../accounts/sso-connections.ts';
import { finishSsoSignIn, startTestSignIn } from '../accounts/sso-sign-in.ts';
import type { AppEnv } from '../app.ts';
import { auditSource, caller, orgParam } from '../http/caller.ts';
import { readBody, readQuery } from '../http/form.ts';
import { renderPage } from '../pages/layout.ts';

/**
 * An org's SSO connection (accounts/sso-connections.ts): read it, make or change it, test
 * it with a sign-in at its provider (which comes back to /sso/callback), remove it.
 */
export const ssoRoutes = new Hono<AppEnv>();

ssoRoutes.get('/v1/orgs/:org/sso', async (c) => c.json(await showConnection(c.var.services, await caller(c), orgParam(c))));

ssoRoutes.put('/v1/orgs/:org/sso', async (c) => {
  const principal = await caller(c);
  const written = await writeConnection(c.var.services, principal, orgParam(c), () => readBody(c), auditSource(c, principal));
  return c.json(written.connection, written.created ? 201 : 200);
});

ssoRoutes.delete('/v1/orgs/:org/sso', async (c) => {
  const principal = await caller(c);
  return c.json(await removeConnection(c.var.services, principal, orgParam(c), auditSource(c, principal)));
});

ssoRoutes.post('/v1/orgs/:org/sso/test', async (c) => {
  const principal = await caller(c);
  const body: SsoTestStart = await startTestSignIn(c.var.services, principal, orgParam(c), auditSource(c, principal));
  return c.json(body, 201);
});

/** The org's provider sends the browser back here; the page says how the test went. */
ssoRoutes.get('/sso/callback', async (c) => {
  c.header('Cache-Control', 'no-store');
  const query = readQuery(c);
  try {
    const { org, issuer, person } = await finishSsoSignIn(c.var.services, {
      state: query.state,
      code: query.code,
      error: query.error,
      requestId: c.var.requestId,
    });
    return renderPage(
      c,
      200,
      'SSO connection tested',
      html`<p id="sso-tested" role="status">The SSO connection of org <strong>${org}</strong> works: ${issuer} signed in
<strong>${person.email}</strong>.</p>
<p>It can now be enabled: <code>latchkey sso enable --org ${org}</code>, or on the org's
<a href="/console/orgs/${org}/sso">SSO page</a>. You may close this tab.</p>`,
    );
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    const status = ([400, 403, 404, 409, 503] as const).find((known) => known === error.status) ?? 400;
    return renderPage(
      c,
      status,
      'SSO test failed',
      html`<p class="error" id="sso-failed" role="alert">The SSO test sign-in did not work: ${error.message}</p>`,
    );
  }
});
