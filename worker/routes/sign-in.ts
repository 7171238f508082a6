import { type Context, Hono } from 'hono';
import { html } from 'hono/html';
import { OAuthError } from '../../shared/errors.ts';
import { assertNotEnforcedElsewhere, canonicalEmail, realmOf } from '../accounts/sso-realm.ts';
import { startOrgSignIn } from '../accounts/sso-sign-in.ts';
import type { AppEnv } from '../app.ts';
import { assertCsrf, browserId, csrfToken } from '../http/browser.ts';
import { readForm, readQuery } from '../http/form.ts';
import { finishFirstStep } from '../http/second-step.ts';
import { devSignIn } from '../identity/dev.ts';
import { upstreamOrigin, upstreamProvider } from '../identity/providers.ts';
import { finishUpstreamSignIn, startUpstreamSignIn } from '../identity/upstream.ts';
import { resolvePerson } from '../identity/users.ts';
import { signInForm } from '../pages/device.ts';
import { renderPage } from '../pages/layout.ts';
import { STYLESHEET_PATH, stylesheet, stylesheetVersion } from '../pages/stylesheet.ts';

/**
 * Signing a person in — the dev provider's form or an upstream OpenID provider, or, for an
 * email in an org's verified domains with its SSO on, the org's own provider (home-realm
 * discovery; its answer comes to /sso/callback, routes/sso.ts) — then back to the page that asked.
 */
export const signInRoutes = new Hono<AppEnv>();

/**
 * Only our own pages may be returned to: never an absolute or protocol-relative URL, nor one
 * with a control character (no Location header can carry a line break: the redirect ending a
 * sign-in would throw).
 */
export function safeReturnPath(value: string | undefined): string {
  if (value && /^\/(device|oauth\/authorize|console)([/?]|$)/.test(value) && !/[\\\p{Cc}]/u.test(value)) return value;
  return '/device';
}

/** Why a browser sign-in must be made again before `act` (accounts/web-sessions.ts approvalRefusal). */
export const approvalMessage = (act: string, refusal: 'stale' | 'no-code') =>
  refusal === 'stale'
    ? `${act} signs it in as you, which needs a recent sign-in. Sign in again, then approve it.`
    : `${act} signs it in as you, which needs a sign-in with your second factor; this one began before you set it up. Sign in again, then approve it.`;

/**
 * The sign-in page any page shows to a browser without a session; `reason` says why a
 * signed-in person is asked again (the console's sensitive actions want a recent sign-in).
 */
export async function signInPage(c: Context<AppEnv>, returnTo: string, reason?: string) {
  const { config } = c.var.services;
  const upstream = upstreamOrigin(config);
  const form = signInForm({
    csrf: await csrfToken(c),
    returnTo,
    error: null,
    upstream: upstream?.host ?? null,
    reauthenticate: reason !== undefined,
  });
  const body = reason ? html`<p id="reauth" role="alert">${reason}</p>${form}` : form;
  // The form's post ends in a redirect to the upstream provider, which CSP must allow.
  return renderPage(c, 200, reason ? 'Confirm it’s you' : 'Sign in', body, upstream ? { formAction: upstream.origin } : {});
}

signInRoutes.post('/signin', async (c) => {
  const services = c.var.services;
  const form = await readForm(c);
  await assertCsrf(c, form.csrf);
  const returnTo = safeReturnPath(form.return_to);
  const reauthenticate = form.reauthenticate === '1';
  const typed = form.email?.trim() ?? '';
  // An address is at most 254 characters (RFC 5321 §4.5.3.1.3); a longer one is not looked up, nor sent to a provider.
  if (typed.length > 254 || (typed !== '' && !typed.includes('@')))
    throw new OAuthError('invalid_request', 'enter a valid email address');
  // Home-realm discovery: an email its org's verified domains cover, with the org's SSO on, goes there.
  const realm = typed === '' ? null : await realmOf(services, typed);
  if (realm?.connection) {
    const email = canonicalEmail(typed);
    const url = await startOrgSignIn(services, {
      org: realm.org,
      connectionId: realm.connection.id,
      email,
      returnTo,
      browser: await browserId(c),
      reauthenticate,
    });
    return orgSignInPage(c, realm.org, url);
  }
  const provider = upstreamProvider(services.config);
  if (provider) {
    return c.redirect(
      await startUpstreamSignIn(services, provider, { returnTo, browser: await browserId(c), reauthenticate }),
      303,
    );
  }
  const upstream = devSignIn(services.config, { email: form.email });
  await assertNotEnforcedElsewhere(services, upstream.email);
  // A person with a second factor is asked for it before any browser sign-in exists.
  return finishFirstStep(c, await resolvePerson(services, upstream), { amr: ['pwd'], returnTo });
});

/**
 * The way on to an org's provider: a link, not a redirect. The sign-in form may lead only to
 * this origin and the deployment's provider (CSP form-action, which Chromium applies to the
 * redirect after a post), and an org's provider is neither, nor known before the email is.
 */
function orgSignInPage(c: Context<AppEnv>, org: string, url: string) {
  const host = new URL(url).host;
  return renderPage(
    c,
    200,
    'Sign in with your organisation',
    html`<p id="sso-realm">Your email belongs to the org <strong>${org}</strong>, which signs its people in with its own
identity provider at <strong>${host}</strong>.</p>
<p><a id="sso-continue" class="button" href="${url}">Continue to ${org}’s sign-in</a></p>
<p class="muted"><a href="/device">Not you? Start again</a></p>`,
  );
}

signInRoutes.get('/signin/callback', async (c) => {
  const services = c.var.services;
  const query = readQuery(c);
  const provider = upstreamProvider(services.config);
  if (!provider) throw new OAuthError('invalid_request', 'this server signs people in without an upstream provider');
  const { person, returnTo } = await finishUpstreamSignIn(services, provider, {
    state: query.state,
    code: query.code,
    error: query.error,
    browser: await browserId(c),
  });
  // Its org's enforced SSO is the only way in for this email, whoever the deployment's provider says they are.
  await assertNotEnforcedElsewhere(services, person.email);
  return finishFirstStep(c, await resolvePerson(services, person), {
    authenticatedAt: person.authenticatedAt,
    amr: person.amr ?? ['pwd'],
    upstreamSecondFactor: person.secondFactor === true,
    returnTo: safeReturnPath(returnTo),
  });
});

signInRoutes.get(STYLESHEET_PATH, (c) => {
  const { accent } = c.var.services.config.branding;
  // Asked for another accent's `v` (a page from an isolate already on a new accent, during
  // a rollout, or anyone guessing it ahead), this answer is the wrong stylesheet for that
  // address: no cache may keep it there for the hour the right one would be kept.
  const v = c.req.query('v');
  c.header('Cache-Control', v === undefined || v === stylesheetVersion(accent) ? 'public, max-age=3600' : 'no-store');
  c.header('Content-Type', 'text/css; charset=utf-8');
  return c.body(stylesheet(accent));
});
