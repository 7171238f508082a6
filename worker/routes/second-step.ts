/**
 * /signin/two-step: the code page between the first step of signing in and the browser
 * sign-in (http/second-step.ts). Reached only with a pending first step of this browser.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app.ts';
import { assertCsrf, csrfToken } from '../http/browser.ts';
import { readForm } from '../http/form.ts';
import { finishSecondStep, pendingSecondStep, SECOND_STEP_PATH } from '../http/second-step.ts';
import { renderPage } from '../pages/layout.ts';
import { noSecondStep, secondStepForm } from '../pages/second-step.ts';

export const secondStepRoutes = new Hono<AppEnv>();

const TITLE = 'Two-step sign-in';
const WRONG = 'That code is not right, or it was used already. Try the next code your app shows.';
const LIMITED = 'Too many wrong codes. Wait 15 minutes, then try again.';

secondStepRoutes.get(SECOND_STEP_PATH, async (c) => {
  const waiting = await pendingSecondStep(c);
  if (!waiting) return renderPage(c, 400, TITLE, noSecondStep);
  return renderPage(
    c,
    200,
    TITLE,
    secondStepForm({ csrf: await csrfToken(c), email: waiting.pending.person.email, error: null }),
  );
});

secondStepRoutes.post(SECOND_STEP_PATH, async (c) => {
  const form = await readForm(c);
  await assertCsrf(c, form.csrf);
  const waiting = await pendingSecondStep(c);
  if (!waiting) return renderPage(c, 400, TITLE, noSecondStep);
  const outcome = await finishSecondStep(c, waiting, (form.code ?? '').slice(0, 64));
  if (outcome === 'ok') {
    c.header('Cache-Control', 'no-store');
    return c.redirect(waiting.pending.returnTo, 303);
  }
  if (outcome === 'gone') return renderPage(c, 400, TITLE, noSecondStep);
  const error = outcome === 'limited' ? LIMITED : WRONG;
  const page = secondStepForm({ csrf: await csrfToken(c), email: waiting.pending.person.email, error });
  return renderPage(c, outcome === 'limited' ? 429 : 400, TITLE, page);
});
