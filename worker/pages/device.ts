/** The device verification pages (RFC 8628 §3.3): sign in, enter the code, consent, result. */
import { html } from 'hono/html';
import type { Fragment } from './layout.ts';

const SCOPE_TEXT: Record<string, string> = {
  read: 'read your account and the data it can see',
  write: 'make changes on your behalf',
  admin: 'administer your organisations',
};

const errorBox = (message: string | null) => (message ? html`<p class="error" role="alert">${message}</p>` : '');

export function signInForm(input: { csrf: string; userCode: string; error: string | null }): Fragment {
  return html`${errorBox(input.error)}
<p>Sign in to approve a device. This server uses the <strong>dev</strong> sign-in: any email is accepted.</p>
<form method="post" action="/device/sign-in">
<input type="hidden" name="csrf" value="${input.csrf}">
<input type="hidden" name="user_code" value="${input.userCode}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required>
<button type="submit">Sign in</button>
</form>`;
}

export function enterCodeForm(input: { csrf: string; email: string | null; userCode: string; error: string | null }): Fragment {
  return html`${errorBox(input.error)}
<p>Enter the code shown on your device.</p>
<form method="post" action="/device/verify">
<input type="hidden" name="csrf" value="${input.csrf}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" type="text" class="code" value="${input.userCode}" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="32" placeholder="XXXX-XXXX" required>
<button type="submit">Continue</button>
</form>
<p class="muted">Signed in as ${input.email ?? 'unknown'}.</p>`;
}

export type ConsentView = {
  csrf: string;
  userCode: string;
  clientName: string;
  scope: string;
  address: string | null;
  userAgent: string | null;
  email: string | null;
};

export function consentForm(view: ConsentView): Fragment {
  const scopes = view.scope.split(' ').filter(Boolean);
  return html`<p>A device is asking to sign in as <strong>${view.email ?? 'you'}</strong>. Check that this code matches the one on its screen:</p>
<p class="code-box" id="user-code">${view.userCode}</p>
<dl>
<dt>Client</dt><dd id="client-name">${view.clientName}</dd>
<dt>From address</dt><dd id="requester-address">${view.address ?? 'unknown'}</dd>
<dt>Program</dt><dd id="requester-agent">${view.userAgent ?? 'unknown'}</dd>
</dl>
<p>It will be able to:</p>
<ul id="scopes">${scopes.map((scope) => html`<li><strong>${scope}</strong> — ${SCOPE_TEXT[scope] ?? scope}</li>`)}</ul>
<form method="post" action="/device/decision">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="user_code" value="${view.userCode}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>
<p class="muted">If you did not start this sign-in, choose Deny.</p>`;
}

export function resultMessage(message: string): Fragment {
  return html`<p id="result">${message}</p>`;
}
