import { type Context, Hono } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import { AUTHORIZATION_CODE_GRANT, AuthorizeRequest } from '../../shared/schemas.ts';
import { chosenOrg, orgChoices } from '../accounts/org-choice.ts';
import { establishRefusal, signInSubject } from '../accounts/sessions.ts';
import { approvalRefusal } from '../accounts/web-sessions.ts';
import type { AppEnv } from '../app.ts';
import { findClient, isRegisteredRedirect } from '../clients.ts';
import { issueAuthorizationCode, savePendingRequest, takePendingRequest } from '../grants/authorization-code.ts';
import { assertCsrf, csrfToken, readWebSession, requireWebSession } from '../http/browser.ts';
import { requesterOf } from '../http/caller.ts';
import { parseInput, readForm, readQuery } from '../http/form.ts';
import { consentForm } from '../pages/device.ts';
import { renderPage } from '../pages/layout.ts';
import { approvalMessage, signInPage } from './sign-in.ts';

/**
 * Browser login (RFC 6749 §4.1 + RFC 7636 + RFC 8252): sign in, the same consent page as
 * the device flow, then back to the client's loopback redirect with a code and `state`.
 */
export const authorizeRoutes = new Hono<AppEnv>();

authorizeRoutes.get('/oauth/authorize', async (c) => {
  const services = c.var.services;
  const query = readQuery(c);
  // Until client and redirect URI are known good, errors are shown, never redirected (§4.1.2.1).
  const client = findClient(services.config, query.client_id ?? '', AUTHORIZATION_CODE_GRANT);
  if (!query.redirect_uri || !isRegisteredRedirect(client, query.redirect_uri)) {
    throw new OAuthError(
      'invalid_request',
      'redirect_uri must be a registered loopback address (http://127.0.0.1:PORT/callback)',
    );
  }
  const redirectUri = query.redirect_uri;
  let request: AuthorizeRequest;
  try {
    request = parseInput(AuthorizeRequest, query);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    return redirectWith(c, redirectUri, { error: error.code, error_description: error.message, state: query.state });
  }

  const csrf = await csrfToken(c);
  const session = await readWebSession(c);
  const returnTo = `/oauth/authorize?${new URL(c.req.url).searchParams}`;
  if (!session) return signInPage(c, returnTo);
  // The client gets a token that acts as the person on the JSON API: the consent wants the
  // same recent sign-in as the console's sensitive acts (the request is bound to this sign-in).
  const refusal = await approvalRefusal(services, session);
  if (refusal) return signInPage(c, returnTo, approvalMessage('Approving an app', refusal));
  const org = request.org ?? null;
  // A sign-in for an org is approved only by a member of it; the client hears so at once.
  const refused = org ? await establishRefusal(services, org, session) : null;
  if (refused) {
    return redirectWith(c, redirectUri, { error: refused.code, error_description: refused.message, state: request.state });
  }
  const scope = request.scope || client.defaultScope;
  const requester = requesterOf(c);
  const id = await savePendingRequest(services, {
    clientId: client.id,
    clientName: client.name,
    redirectUri,
    codeChallenge: request.code_challenge,
    state: request.state ?? null,
    scope,
    webSession: session.key,
    requester,
    org,
  });
  return renderPage(
    c,
    200,
    'Approve this sign-in?',
    consentForm({
      csrf,
      action: '/oauth/authorize/decision',
      hidden: { request: id },
      userCode: null,
      returnsTo: new URL(redirectUri).origin,
      clientName: client.name,
      scope,
      address: requester.address,
      userAgent: requester.userAgent,
      email: session.email,
      org,
      orgChoices: await orgChoices(services, org, session.email),
    }),
    { formAction: new URL(redirectUri).origin },
  );
});

authorizeRoutes.post('/oauth/authorize/decision', async (c) => {
  const services = c.var.services;
  const form = await readForm(c);
  await assertCsrf(c, form.csrf);
  const session = await requireWebSession(c);
  // A consent page left open past the recent sign-in is not approved from: nothing is taken.
  if (form.decision === 'approve' && (await approvalRefusal(services, session))) {
    throw new OAuthError('access_denied', 'your sign-in is no longer recent; start the sign-in again from the app', {
      status: 403,
    });
  }
  const pending = await takePendingRequest(services, form.request ?? '', session.key);
  if (!pending) throw new OAuthError('invalid_request', 'this sign-in request expired or was already answered; start again');
  const state = pending.state ?? undefined;
  if (form.decision !== 'approve') {
    return redirectWith(c, pending.redirectUri, {
      error: 'access_denied',
      error_description: 'the person denied the request',
      state,
    });
  }
  const org = chosenOrg(pending.org, form.org);
  const refused = org ? await establishRefusal(services, org, session) : null;
  if (refused) return redirectWith(c, pending.redirectUri, { error: refused.code, error_description: refused.message, state });
  const code = await issueAuthorizationCode(services, {
    clientId: pending.clientId,
    clientName: pending.clientName,
    redirectUri: pending.redirectUri,
    codeChallenge: pending.codeChallenge,
    scope: pending.scope,
    requester: pending.requester,
    org,
    subject: signInSubject(session),
  });
  return redirectWith(c, pending.redirectUri, { code, state });
});

/** RFC 9207: every response carries `iss`, so a client can tell which server answered. */
function redirectWith(c: Context<AppEnv>, redirectUri: string, params: Record<string, string | undefined>) {
  const target = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) target.searchParams.set(name, value);
  target.searchParams.set('iss', c.var.services.config.base);
  c.header('Cache-Control', 'no-store');
  c.header('Referrer-Policy', 'no-referrer');
  return c.redirect(target.href, 303);
}
