import { Hono } from 'hono';
import type { AppEnv } from '../app.ts';
import { assertCsrf, startWebSession } from '../http/browser.ts';
import { readForm } from '../http/form.ts';
import { devSignIn } from '../identity/dev.ts';
import { resolvePerson } from '../identity/users.ts';
import { STYLESHEET } from '../pages/layout.ts';

/** Signing a person in (the `dev` provider's form), then back to the page that asked. */
export const signInRoutes = new Hono<AppEnv>();

/** Only our own pages may be returned to: never an absolute or protocol-relative URL. */
export function safeReturnPath(value: string | undefined): string {
  if (value && /^\/(device|oauth\/authorize)(\?|$)/.test(value) && !value.includes('\\')) return value;
  return '/device';
}

signInRoutes.post('/signin', async (c) => {
  const form = await readForm(c);
  await assertCsrf(c, form.csrf);
  const upstream = devSignIn(c.var.services.config, { email: form.email });
  await startWebSession(c, await resolvePerson(c.var.services, upstream));
  return c.redirect(safeReturnPath(form.return_to), 303);
});

signInRoutes.get('/assets/latchkey.css', (c) => {
  c.header('Cache-Control', 'public, max-age=3600');
  c.header('Content-Type', 'text/css; charset=utf-8');
  return c.body(STYLESHEET);
});
