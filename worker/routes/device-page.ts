import { type Context, Hono } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import { UserCodeInput } from '../../shared/schemas.ts';
import { chosenOrg, orgChoices } from '../accounts/org-choice.ts';
import { establishRefusal, signInSubject } from '../accounts/sessions.ts';
import { type ActiveWebSession, approvalRefusal } from '../accounts/web-sessions.ts';
import type { AppEnv } from '../app.ts';
import { decideDeviceAuthorization, findPendingByUserCode, type PendingAuthorization } from '../grants/device-code.ts';
import { addressBucket, type GuessLimit, returnGuess, takeGuess } from '../grants/user-code-guesses.ts';
import { assertCsrf, csrfToken, readWebSession, requireWebSession } from '../http/browser.ts';
import { readForm, readQuery } from '../http/form.ts';
import { consentForm, enterCodeForm, notMemberMessage, resultMessage } from '../pages/device.ts';
import { renderPage } from '../pages/layout.ts';
import { approvalMessage, signInPage } from './sign-in.ts';

/** The verification pages a person opens from `verification_uri` (RFC 8628 §3.3). */
export const devicePageRoutes = new Hono<AppEnv>();

devicePageRoutes.get('/device', async (c) => {
  const typed = (readQuery(c).user_code ?? '').slice(0, 32);
  const csrf = await csrfToken(c);
  const session = await readWebSession(c);
  if (!session) {
    const returnTo = typed ? `/device?user_code=${encodeURIComponent(typed)}` : '/device';
    return signInPage(c, returnTo);
  }
  // Another site can send a signed-in browser here (a link, a popup) with any code: a lookup
  // then would spend the person's guesses without their act. Such a visit (the browser says
  // so in Sec-Fetch-Site) is only shown the code to confirm; the lookup waits for the
  // form's CSRF-checked POST. A visit the person made (typed, opened by the CLI) looks up.
  const fromElsewhere = ['cross-site', 'same-site'].includes(c.req.header('sec-fetch-site') ?? '');
  if (typed === '' || fromElsewhere)
    return renderPage(c, 200, 'Connect a device', enterCodeForm({ csrf, email: session.email, userCode: typed, error: null }));
  return verifyCode(c, session, typed, csrf);
});

devicePageRoutes.post('/device/verify', async (c) => {
  const form = await readForm(c);
  await assertCsrf(c, form.csrf);
  const session = await requireWebSession(c);
  return verifyCode(c, session, (form.user_code ?? '').slice(0, 32), await csrfToken(c));
});

devicePageRoutes.post('/device/decision', async (c) => {
  const form = await readForm(c);
  await assertCsrf(c, form.csrf);
  const session = await requireWebSession(c);
  const code = UserCodeInput.safeParse(form.user_code ?? '');
  if (!code.success || (form.decision !== 'approve' && form.decision !== 'deny')) {
    throw new OAuthError('invalid_request', 'the form was incomplete; start again from the code');
  }
  const approve = form.decision === 'approve';
  // The device gets a token that acts as the person on the JSON API: approving wants the
  // same recent sign-in as the console's sensitive acts, or a stale sign-in would reach them here.
  const refusal = approve ? await approvalRefusal(c.var.services, session) : null;
  if (refusal) {
    const again = `/device?user_code=${encodeURIComponent(code.data)}`;
    return signInPage(c, again, approvalMessage('Approving a device', refusal));
  }
  // A code posted here is a guess like one typed on the page: counted the same way.
  const pending = await countedLookup(c, session, code.data);
  if (pending === 'limited') return tooManyGuesses(c);
  // Anyone may deny; approving a sign-in for an org (the device's, or one picked here) takes a member of it.
  const org = approve && pending ? chosenOrg(pending.found.value.org, form.org) : null;
  const refused = org ? await establishRefusal(c.var.services, org, session) : null;
  if (refused && org) return refusedFor(c, session.email, org, refused);
  const decided = pending
    ? await decideDeviceAuthorization(c.var.services, code.data, pending, {
        approve,
        subject: signInSubject(session),
        org,
      })
    : null;
  if (!decided) {
    return renderPage(
      c,
      400,
      'Code expired',
      resultMessage('This code is no longer waiting for approval. Start the sign-in again on your device.'),
    );
  }
  return approve
    ? renderPage(
        c,
        200,
        'Device approved',
        resultMessage(`${decided.clientName} is now signed in. You can close this tab and return to your terminal.`),
      )
    : renderPage(c, 200, 'Request denied', resultMessage(`${decided.clientName} was not signed in. You can close this tab.`));
});

/** The page for a sign-in the org refuses: not a member, or two-step sign-in required there. */
const refusedFor = (c: Context<AppEnv>, email: string | null, org: string, refused: OAuthError) =>
  refused.code === 'mfa_required'
    ? renderPage(c, 403, 'Two-step sign-in required', resultMessage(`${refused.message}.`))
    : renderPage(c, 403, 'Not a member', notMemberMessage(email, org));

/**
 * Looks up a code a person typed or posted. Wrong guesses are limited per browser session
 * and per address (RFC 8628 §5.1); a code's 34 bits only hold if guessing stays slow. Each
 * guess is counted before the lookup, so concurrent ones cannot all slip under the limit;
 * a right one gives its count back. A malformed code (null) counts too.
 */
async function countedLookup(
  c: Context<AppEnv>,
  session: ActiveWebSession,
  normalized: string | null,
): Promise<PendingAuthorization | null | 'limited'> {
  const services = c.var.services;
  const { config } = services;
  const address = addressBucket(services.clientAddress(c.req.raw));
  // Per person, not per browser session: signing in again must not buy more guesses.
  const limits: GuessLimit[] = [
    { name: `ucp:${session.sub}`, limit: config.limits.userCodeAttempts },
    { name: `uca:${address}`, limit: config.limits.addressAttempts },
  ];
  const taken = await takeGuess(services, limits);
  if (!taken) return 'limited';
  const pending = normalized === null ? null : await findPendingByUserCode(services, normalized);
  if (pending) await returnGuess(services, taken);
  return pending;
}

const tooManyGuesses = (c: Context<AppEnv>) =>
  renderPage(
    c,
    429,
    'Too many attempts',
    resultMessage('Too many wrong codes. Wait 15 minutes, then start again on your device.'),
  );

async function verifyCode(c: Context<AppEnv>, session: ActiveWebSession, typed: string, csrf: string) {
  const services = c.var.services;
  const code = UserCodeInput.safeParse(typed);
  const pending = await countedLookup(c, session, code.success ? code.data : null);
  if (pending === 'limited') return tooManyGuesses(c);
  if (!pending) {
    const error = code.success
      ? 'That code is wrong or has expired. Check the code on your device.'
      : 'Codes look like BCDF-GHJK: eight letters.';
    return renderPage(c, 400, 'Connect a device', enterCodeForm({ csrf, email: session.email, userCode: typed, error }));
  }
  const { value } = pending.found;
  const refused = value.org ? await establishRefusal(services, value.org, session) : null;
  if (refused && value.org) return refusedFor(c, session.email, value.org, refused);
  return renderPage(
    c,
    200,
    'Approve this device?',
    consentForm({
      csrf,
      action: '/device/decision',
      hidden: { user_code: value.userCode },
      userCode: value.userCode,
      returnsTo: null,
      clientName: value.clientName,
      scope: value.scope,
      address: value.requester.address,
      userAgent: value.requester.userAgent,
      email: session.email,
      org: value.org,
      orgChoices: await orgChoices(services, value.org, session.email),
    }),
  );
}
