/**
 * The second step of signing in: a code from the person's authenticator app, or one of
 * their recovery codes, in one field that says nothing of which the person has; and, for
 * a person with a passkey or security key, a button that uses it (shown by
 * /assets/passkey.js where the browser can).
 */
import { html } from 'hono/html';
import type { Fragment } from './layout.ts';

/** The passkey part of the page: the request's options ride on the form for the script. */
function passkeyForm(csrf: string, options: object): Fragment {
  return html`<section data-passkey-box hidden aria-labelledby="use-passkey"><h2 id="use-passkey">Passkey or security key</h2>
<form method="post" action="/signin/two-step" data-passkey="get" data-options="${JSON.stringify(options)}">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="response" value="">
<button type="submit" id="passkey-button">Use your passkey or security key</button>
<p class="muted" data-passkey-status role="status"></p>
</form>
<p class="muted">Or enter a code:</p></section>`;
}

export function secondStepForm(input: {
  csrf: string;
  email: string | null;
  error: string | null;
  /** navigator.credentials.get's options when the person has passkeys. */
  passkey?: object | null;
}): Fragment {
  return html`${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
${input.passkey ? passkeyForm(input.csrf, input.passkey) : ''}
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
