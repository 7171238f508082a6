/** The device verification pages (RFC 8628 §3.3): sign in, enter the code, consent, result. */
import { html } from 'hono/html';
import type { Fragment } from './layout.ts';

const SCOPE_TEXT: Record<string, string> = {
  read: 'read your account and the data it can see',
  write: 'make changes on your behalf',
  admin: 'administer your organisations',
};

const errorBox = (message: string | null) => (message ? html`<p class="error" role="alert">${message}</p>` : '');

export function signInForm(input: {
  csrf: string;
  returnTo: string;
  error: string | null;
  /** null: the dev provider's email form; else the upstream identity provider's host. */
  upstream: string | null;
  /** A signed-in person asked to prove who they are again: the upstream is asked to prompt. */
  reauthenticate?: boolean;
}): Fragment {
  // The email comes first (home-realm discovery): an org's verified domain leads to its own
  // provider; left empty, or anyone else's, to the deployment's.
  const fields = input.upstream
    ? html`<p>Sign in with your organisation’s account at <strong>${input.upstream}</strong>, or enter your work email if your organisation signs you in itself.</p>
<label for="email">Work email <span class="muted">(optional)</span></label>
<input id="email" name="email" type="email" autocomplete="email">
<button type="submit" id="continue">Continue</button>`
    : html`<p>This server uses the <strong>dev</strong> sign-in: any email is accepted.</p>
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required>
<button type="submit">Sign in</button>`;
  return html`${errorBox(input.error)}
<form method="post" action="/signin">
<input type="hidden" name="csrf" value="${input.csrf}">
<input type="hidden" name="return_to" value="${input.returnTo}">
${input.reauthenticate ? html`<input type="hidden" name="reauthenticate" value="1">` : ''}
${fields}
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
  /** Where the decision is posted, and the hidden fields that say what is decided. */
  action: string;
  hidden: Record<string, string>;
  /** The device flow's code to compare; null in browser login. */
  userCode: string | null;
  /** Browser login: where the answer goes back to. */
  returnsTo: string | null;
  clientName: string;
  scope: string;
  address: string | null;
  userAgent: string | null;
  email: string | null;
  /** The org the sign-in is for: its tokens act in that org only. Null: every org of the person. */
  org: string | null;
  /** With no org asked for, the person's orgs to choose one from (issue #23); empty: no choice shown. */
  orgChoices: string[];
};

export function consentForm(view: ConsentView): Fragment {
  const scopes = view.scope.split(' ').filter(Boolean);
  const intro = view.userCode
    ? html`<p>A device is asking to sign in as <strong>${view.email ?? 'you'}</strong>. Check that this code matches the one on its screen:</p>
<p class="code-box" id="user-code">${view.userCode}</p>`
    : html`<p>A program on this computer is asking to sign in as <strong>${view.email ?? 'you'}</strong>.</p>`;
  return html`${intro}
<dl>
<dt>Client</dt><dd id="client-name">${view.clientName}</dd>
${view.returnsTo ? html`<dt>Returns to</dt><dd id="returns-to">${view.returnsTo}</dd>` : ''}
<dt>From address</dt><dd id="requester-address">${view.address ?? 'unknown'}</dd>
<dt>Program</dt><dd id="requester-agent">${view.userAgent ?? 'unknown'}</dd>
${view.org ? html`<dt>For org</dt><dd id="org">${view.org} (it will act in this org only)</dd>` : ''}
</dl>
<p>It will be able to:</p>
<ul id="scopes">${scopes.map((scope) => html`<li><strong>${scope}</strong> — ${SCOPE_TEXT[scope] ?? scope}</li>`)}</ul>
<form method="post" action="${view.action}">
<input type="hidden" name="csrf" value="${view.csrf}">
${Object.entries(view.hidden).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
${view.org === null && view.orgChoices.length > 0 ? orgChoice(view.orgChoices) : ''}
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>
<p class="muted">If you did not start this sign-in, choose Deny.</p>`;
}

/**
 * Which org the sign-in is for, when the client named none: all of the person's orgs (the
 * default, as before), or one of them, whose tokens then act in that org only and which
 * that org's admins can see and end (DESIGN "Tenancy").
 */
function orgChoice(orgs: string[]): Fragment {
  return html`<fieldset id="org-choice"><legend>Which org is this sign-in for?</legend>
<label><input type="radio" name="org" value="" checked> All your orgs (it acts in each one you are in)</label>
${orgs.map((slug) => html`<label><input type="radio" name="org" value="${slug}"> <strong>${slug}</strong> only (its admins can see and end this session)</label>`)}
</fieldset>`;
}

/** A sign-in for an org is approved only by a member of it (the same words whether the org exists or not). */
export function notMemberMessage(email: string | null, org: string): Fragment {
  return html`<p id="result" role="alert">This sign-in is for the org <strong>${org}</strong>, and ${email ?? 'this account'} is not a member of it. Sign in with the account that is, or ask the org for an invitation.</p>`;
}

export function resultMessage(message: string): Fragment {
  return html`<p id="result">${message}</p>`;
}
