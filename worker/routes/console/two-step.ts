/**
 * Two-step sign-in at /console/two-step (issue #22): a person's own factors, reached from
 * the You page. Every post is CSRF-checked first (consolePost); adding or removing a factor
 * and making recovery codes want a recent sign-in, since each changes what signing in
 * asks for. A person acts on their own record only (`mfa:<owner>`), so another person's
 * factor id answers as one that does not exist.
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import {
  confirmTotp,
  FactorId,
  finishWebauthnEnrollment,
  listFactors,
  pendingTotpSecret,
  removeFactor,
  replaceRecoveryCodes,
  startTotpEnrollment,
  startWebauthnEnrollment,
} from '../../accounts/factors.ts';
import { sessionOwner } from '../../accounts/sessions.ts';
import { recordSecondFactor } from '../../accounts/web-sessions.ts';
import type { AppEnv } from '../../app.ts';
import { backTo, type ConsoleUser, consolePost, firstPostOf, newFormId, signedInRecently } from '../../http/console.ts';
import { parseInput } from '../../http/form.ts';
import { qrSvg } from '../../mfa/qr-svg.ts';
import { generateRecoveryCodes } from '../../mfa/recovery-codes.ts';
import { otpauthUri } from '../../mfa/totp.ts';
import { relyingParty } from '../../mfa/webauthn.ts';
import { consolePage } from '../../pages/console/layout.ts';
import { enrollPasskeyPage, enrollTotpPage, recoveryCodesPage, twoStepPage } from '../../pages/console/two-step.ts';
import { TWO_STEP_PAGE } from '../../policy/roles.ts';
import { signInPage } from '../sign-in.ts';
import { consoleSection, pageUser } from './env.ts';

export const twoStepConsole = consoleSection();

const TITLE = 'Two-step sign-in';
const owner = (user: ConsoleUser) => sessionOwner(user.principal);

/**
 * The "confirm it's you" page when the sign-in is older than the gate allows, or, for a
 * person with an authenticator, was made without a code: a browser signed in on the first
 * step alone before two-step sign-in was turned on stays signed in, and must not be the one
 * to remove the authenticator, add another, or make codes. Null when the sign-in will do.
 */
async function unlessRecent(c: Context<AppEnv>, user: ConsoleUser, what: string) {
  if (await signedInRecently(c, user)) return null;
  return signInPage(c, TWO_STEP_PAGE, `${what} needs a recent sign-in. Sign in again, then do it again.`);
}

/** Whether this browser's sign-in gave a second factor (what adding one wants once the person has one). */
const proven = (user: ConsoleUser) => user.session.mfaAt !== null;

/**
 * A factor begun here while the person had none, finished after they added one elsewhere:
 * this browser gave no second factor, so it adds none (factors.ts mayAddHere).
 */
const unproven = (c: Context<AppEnv>, what: string) =>
  signInPage(
    c,
    TWO_STEP_PAGE,
    `${what} needs a sign-in that gave your second factor now that you have one. Sign in again, then add it again.`,
  );

/** The answer to a reload of a page that answered a post: nothing done twice, nothing shown twice. */
function alreadyDone(c: Context<AppEnv>, user: ConsoleUser) {
  return consolePage(c, {
    user,
    title: 'Already done',
    at: { page: 'you' },
    status: 409,
    body: html`<p>This form was sent already; nothing more was done. What it showed is not shown again.</p>
<p><a href="${TWO_STEP_PAGE}">Back to two-step sign-in</a></p>`,
  });
}

twoStepConsole.get(TWO_STEP_PAGE, async (c) => {
  const user = pageUser(c);
  const factors = await listFactors(c.var.services, owner(user));
  return consolePage(c, {
    user,
    title: TITLE,
    at: { page: 'you' },
    body: twoStepPage({ csrf: user.csrf, formId: newFormId(), factors }),
  });
});

async function enrollmentAnswer(
  c: Context<AppEnv>,
  user: ConsoleUser,
  enrollment: { id: string; secret: string },
  error: string | null,
) {
  const account = user.principal.email ?? user.principal.sub;
  const uri = otpauthUri({ issuer: c.var.services.config.branding.productName, account, secret: enrollment.secret });
  return consolePage(c, {
    user,
    title: 'Add an authenticator app',
    at: { page: 'you' },
    status: error ? 400 : 201,
    body: enrollTotpPage({
      csrf: user.csrf,
      ...enrollment,
      uri,
      qr: qrSvg(uri, 'QR code to scan with your authenticator app'),
      error,
    }),
  });
}

twoStepConsole.post(`${TWO_STEP_PAGE}/totp`, async (c) => {
  const { form, user } = await consolePost(c);
  const stale = await unlessRecent(c, user, 'Adding an authenticator app');
  if (stale) return stale;
  if (!(await firstPostOf(c, user, form.form_id))) return alreadyDone(c, user);
  return enrollmentAnswer(c, user, await startTotpEnrollment(c.var.services, owner(user)), null);
});

twoStepConsole.post(`${TWO_STEP_PAGE}/totp/:id/confirm`, async (c) => {
  const { form, user } = await consolePost(c);
  const id = parseInput(FactorId, c.req.param('id'));
  const outcome = await confirmTotp(c.var.services, owner(user), id, (form.code ?? '').slice(0, 64), proven(user));
  if (outcome === 'unproven') return unproven(c, 'Adding an authenticator app');
  if (outcome === 'ok') {
    // The code from the authenticator was typed in this browser: it proved the second factor.
    await recordSecondFactor(c.var.services, user.session.key, 'otp');
    return backTo(c, TWO_STEP_PAGE, 'totp-added');
  }
  const secret = await pendingTotpSecret(c.var.services, owner(user), id);
  if (secret === null) {
    return consolePage(c, {
      user,
      title: TITLE,
      at: { page: 'you' },
      status: 404,
      body: html`<p class="error" role="alert">That authenticator is not waiting to be confirmed: it was confirmed, removed, or not confirmed within 15 minutes. Add it again.</p>
<p><a href="${TWO_STEP_PAGE}">Back to two-step sign-in</a></p>`,
    });
  }
  const error =
    outcome === 'limited'
      ? 'Too many wrong codes. Wait 15 minutes, then try again.'
      : 'That code is not right. Check the app’s clock and type the code it shows now.';
  return enrollmentAnswer(c, user, { id, secret }, error);
});

/** The issuer as WebAuthn's relying party: a passkey made here answers only to this origin. */
const issuerAsRelyingParty = (c: Context<AppEnv>) =>
  relyingParty(c.var.services.config.issuer, c.var.services.config.branding.productName);

/** A message page of the passkey flow, with the way back. */
function passkeyAnswer(c: Context<AppEnv>, user: ConsoleUser, status: 400 | 404 | 409, message: string) {
  return consolePage(c, {
    user,
    title: 'Add a passkey or security key',
    at: { page: 'you' },
    status,
    body: html`<p class="error" role="alert">${message}</p>
<p><a href="${TWO_STEP_PAGE}">Back to two-step sign-in</a></p>`,
  });
}

/**
 * Begins adding a passkey: the registration's options, whose challenge is kept for this
 * browser sign-in alone and taken by the confirm below (once, within 5 minutes).
 */
twoStepConsole.post(`${TWO_STEP_PAGE}/passkey`, async (c) => {
  const { form, user } = await consolePost(c);
  const stale = await unlessRecent(c, user, 'Adding a passkey');
  if (stale) return stale;
  if (!(await firstPostOf(c, user, form.form_id))) return alreadyDone(c, user);
  const person = { name: user.principal.email ?? user.principal.sub };
  const options = await startWebauthnEnrollment(c.var.services, owner(user), user.session.key, issuerAsRelyingParty(c), person);
  return consolePage(c, {
    user,
    title: 'Add a passkey or security key',
    at: { page: 'you' },
    status: 201,
    body: enrollPasskeyPage({ csrf: user.csrf, options, error: null }),
  });
});

twoStepConsole.post(`${TWO_STEP_PAGE}/passkey/confirm`, async (c) => {
  const { form, user } = await consolePost(c);
  const name =
    (form.name ?? '')
      .replace(/\p{Cc}/gu, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 60) || 'Passkey';
  const services = c.var.services;
  const rp = issuerAsRelyingParty(c);
  const posted = form.response ?? '';
  const added = await finishWebauthnEnrollment(services, owner(user), user.session.key, rp, posted, name, proven(user));
  if (added.outcome === 'unproven') return unproven(c, 'Adding a passkey');
  if (added.outcome === 'ok') {
    // The passkey was made in this browser: it proved the second factor here.
    await recordSecondFactor(services, user.session.key, added.amr);
    return backTo(c, TWO_STEP_PAGE, 'passkey-added');
  }
  if (added.outcome === 'expired')
    return passkeyAnswer(
      c,
      user,
      404,
      'No passkey is waiting to be added in this browser: it was added, or not within 5 minutes. Add it again.',
    );
  if (added.outcome === 'full')
    return passkeyAnswer(c, user, 409, 'That passkey is yours already, or you have as many as you may.');
  return passkeyAnswer(
    c,
    user,
    400,
    'Your browser’s answer did not check out for this site, so nothing was added. Add the passkey again.',
  );
});

twoStepConsole.post(`${TWO_STEP_PAGE}/recovery`, async (c) => {
  const { form, user } = await consolePost(c);
  const stale = await unlessRecent(c, user, 'Making recovery codes');
  if (stale) return stale;
  if (!(await firstPostOf(c, user, form.form_id))) return alreadyDone(c, user);
  const codes = generateRecoveryCodes();
  await replaceRecoveryCodes(c.var.services, owner(user), codes);
  return consolePage(c, { user, title: 'Your recovery codes', at: { page: 'you' }, status: 201, body: recoveryCodesPage(codes) });
});

twoStepConsole.post(`${TWO_STEP_PAGE}/:id/remove`, async (c) => {
  const { user } = await consolePost(c);
  const id = parseInput(FactorId, c.req.param('id'));
  const stale = await unlessRecent(c, user, 'Removing a sign-in factor');
  if (stale) return stale;
  await removeFactor(c.var.services, user.principal, owner(user), id);
  return backTo(c, TWO_STEP_PAGE, 'factor-removed');
});
