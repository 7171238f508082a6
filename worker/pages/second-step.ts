/**
 * The second step of signing in: a code from the person's authenticator app, or one of
 * their recovery codes. One field takes either, so the page says nothing of which
 * factors the person has.
 */
import { html } from 'hono/html';
import type { Fragment } from './layout.ts';

export function secondStepForm(input: { csrf: string; email: string | null; error: string | null }): Fragment {
  return html`${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
<p>Enter the 6-digit code your authenticator app shows for ${input.email ?? 'your account'}, or one of your recovery codes.</p>
<form method="post" action="/signin/two-step">
<input type="hidden" name="csrf" value="${input.csrf}">
<label for="code">Code</label>
<input id="code" name="code" type="text" class="code" inputmode="text" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" maxlength="32" required>
<button type="submit">Verify</button>
</form>
<p class="muted">Lost your authenticator? A recovery code works once, in the same field.</p>`;
}

export const noSecondStep = html`<p class="error" role="alert">No sign-in is waiting for a code in this browser: it expired, was finished, or was begun elsewhere.</p>
<p><a href="/console">Sign in again</a></p>`;
