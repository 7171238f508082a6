/**
 * /signin/two-step: the code (or passkey) page between the first step of signing in and
 * the browser sign-in (http/second-step.ts). Reached only with a pending first step of this
 * browser. Also the passkey ceremony's script, which this page and the console's passkey
 * page load.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import type { AppEnv } from '../app.ts';
import { assertCsrf, csrfToken } from '../http/browser.ts';
import { readForm } from '../http/form.ts';
import {
  finishSecondStep,
  finishWithPasskey,
  passkeyRequest,
  pendingSecondStep,
  SECOND_STEP_PATH,
  type WaitingStep,
} from '../http/second-step.ts';
import { renderPage } from '../pages/layout.ts';
import { PASSKEY_SCRIPT, PASSKEY_SCRIPT_PATH } from '../pages/passkey-script.ts';
import { noSecondStep, secondStepForm } from '../pages/second-step.ts';

export const secondStepRoutes = new Hono<AppEnv>();

const TITLE = 'Two-step sign-in';
const WRONG = 'That code is not right, or it was used already. Try the next code your app shows.';
const WRONG_PASSKEY =
  'That passkey or security key is not one of yours, or its answer did not check out. Try again, or use a code.';
const STALE = 'That passkey request expired or was answered already. Try your passkey again.';
const LIMITED = 'Too many wrong codes. Wait 15 minutes, then try again.';

/** The step's page, with a new passkey request when the person has passkeys. */
async function stepPage(c: Context<AppEnv>, waiting: WaitingStep, status: 200 | 400 | 429, error: string | null) {
  const passkey = await passkeyRequest(c, waiting);
  const page = secondStepForm({ csrf: await csrfToken(c), email: waiting.pending.person.email, error, passkey });
  return renderPage(c, status, TITLE, page, passkey ? { script: PASSKEY_SCRIPT_PATH } : {});
}

secondStepRoutes.get(SECOND_STEP_PATH, async (c) => {
  const waiting = await pendingSecondStep(c);
  if (!waiting) return renderPage(c, 400, TITLE, noSecondStep);
  return stepPage(c, waiting, 200, null);
});

secondStepRoutes.post(SECOND_STEP_PATH, async (c) => {
  const form = await readForm(c);
  await assertCsrf(c, form.csrf);
  const waiting = await pendingSecondStep(c);
  if (!waiting) return renderPage(c, 400, TITLE, noSecondStep);
  const byPasskey = form.response !== undefined && form.code === undefined;
  const outcome = byPasskey
    ? await finishWithPasskey(c, waiting, form.response ?? '')
    : await finishSecondStep(c, waiting, (form.code ?? '').slice(0, 64));
  if (outcome === 'ok') {
    c.header('Cache-Control', 'no-store');
    return c.redirect(waiting.pending.returnTo, 303);
  }
  if (outcome === 'gone') return renderPage(c, 400, TITLE, noSecondStep);
  // The page is drawn from the record as it is now: a passkey post has just taken its challenge.
  const now = (await pendingSecondStep(c)) ?? waiting;
  if (outcome === 'limited') return stepPage(c, now, 429, LIMITED);
  return stepPage(c, now, 400, outcome === 'stale' ? STALE : byPasskey ? WRONG_PASSKEY : WRONG);
});

secondStepRoutes.get(PASSKEY_SCRIPT_PATH, (c) => {
  c.header('Cache-Control', 'public, max-age=3600');
  c.header('Content-Type', 'text/javascript; charset=utf-8');
  c.header('X-Content-Type-Options', 'nosniff');
  return c.body(PASSKEY_SCRIPT);
});
