import { Hono } from 'hono';
import { html } from 'hono/html';
import { OAuthError } from '../../shared/errors.ts';
import type { SsoTestStart } from '../../shared/schemas.ts';
import { removeConnection, showConnection, writeConnection } from '../accounts/sso-connections.ts';
import { finishSsoSignIn, type SsoOutcome, startTestSignIn } from '../accounts/sso-sign-in.ts';
import type { AppEnv } from '../app.ts';
import { browserId } from '../http/browser.ts';
import { auditSource, caller, orgParam } from '../http/caller.ts';
import { readBody, readQuery } from '../http/form.ts';
import { finishFirstStep } from '../http/second-step.ts';
import { requireStepUpIn } from '../http/step-up.ts';
import { resolvePerson } from '../identity/users.ts';
import { renderPage } from '../pages/layout.ts';
import { safeReturnPath } from './sign-in.ts';

/**
 * An org's SSO connection (accounts/sso-connections.ts): read it, make or change it, test
 * it with a sign-in at its provider (which comes back to /sso/callback), remove it.
 */
export const ssoRoutes = new Hono<AppEnv>();

ssoRoutes.get('/v1/orgs/:org/sso', async (c) => c.json(await showConnection(c.var.services, await caller(c), orgParam(c))));

/** Who signs in where: a person with a second factor proves it recently before changing it (README, Step-up). */
const SSO_STEP_UP = "change the org's single sign-on";

ssoRoutes.put('/v1/orgs/:org/sso', async (c) => {
  const principal = await caller(c);
  await requireStepUpIn(c, principal, orgParam(c), 'domains:write', SSO_STEP_UP);
  const written = await writeConnection(c.var.services, principal, orgParam(c), () => readBody(c), auditSource(c, principal));
  return c.json(written.connection, written.created ? 201 : 200);
});

ssoRoutes.delete('/v1/orgs/:org/sso', async (c) => {
  const principal = await caller(c);
  await requireStepUpIn(c, principal, orgParam(c), 'domains:write', SSO_STEP_UP);
  return c.json(await removeConnection(c.var.services, principal, orgParam(c), auditSource(c, principal)));
});

ssoRoutes.post('/v1/orgs/:org/sso/test', async (c) => {
  const principal = await caller(c);
  const body: SsoTestStart = await startTestSignIn(c.var.services, principal, orgParam(c), auditSource(c, principal));
  return c.json(body, 201);
});

/**
 * The org's provider sends the browser back here: after a test, a page says how it went;
 * after a person's sign-in, the first step is done and the second (if they have a factor)
 * or the browser sign-in follows, as after the deployment's own provider.
 */
ssoRoutes.get('/sso/callback', async (c) => {
  const services = c.var.services;
  c.header('Cache-Control', 'no-store');
  const query = readQuery(c);
  let outcome: SsoOutcome;
  try {
    outcome = await finishSsoSignIn(services, {
      state: query.state,
      code: query.code,
      error: query.error,
      requestId: c.var.requestId,
      browser: await browserId(c),
    });
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    const status = ([400, 403, 404, 409, 503] as const).find((known) => known === error.status) ?? 400;
    return renderPage(
      c,
      status,
      'Single sign-on failed',
      html`<p class="error" id="sso-failed" role="alert">The single sign-on did not work: ${error.message}</p>
<p><a href="/device">Start again</a></p>`,
    );
  }
  if (outcome.purpose === 'sign-in') {
    const { person } = outcome;
    return finishFirstStep(c, await resolvePerson(services, person), {
      authenticatedAt: person.authenticatedAt,
      amr: person.amr ?? ['pwd'],
      returnTo: safeReturnPath(outcome.returnTo),
    });
  }
  const { org, issuer, person } = outcome;
  return renderPage(
    c,
    200,
    'SSO connection tested',
    html`<p id="sso-tested" role="status">The SSO connection of org <strong>${org}</strong> works: ${issuer} signed in
<strong>${person.email}</strong>.</p>
<p>It can now be enabled: <code>latchkey sso enable --org ${org}</code>, or on the org's
<a href="/console/orgs/${org}/sso">SSO page</a>. You may close this tab.</p>`,
  );
});
