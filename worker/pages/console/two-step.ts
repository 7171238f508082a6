/**
 * The console's Two-step sign-in page: the person's factors, adding an authenticator app
 * (its QR code, URI and secret, then a first code to confirm it), adding a passkey or
 * security key (the browser's ceremony, run by /assets/passkey.js), recovery codes shown
 * once on the page that made them, and removing a factor.
 */
import { html, raw } from 'hono/html';
import type { FactorView } from '../../accounts/factors.ts';
import { TWO_STEP_PAGE } from '../../policy/roles.ts';
import type { Fragment } from '../layout.ts';
import { PASSKEY_SCRIPT_PATH } from '../passkey-script.ts';
import { postButton } from './layout.ts';

const day = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
const errorBox = (message: string | null) => (message ? html`<p class="error" role="alert">${message}</p>` : '');

const used = (lastUsedAt: number | null) => (lastUsedAt === null ? 'never used' : `last used ${day(lastUsedAt)}`);

function factorRow(csrf: string, factor: FactorView): Fragment {
  const [kind, detail] =
    factor.kind === 'totp'
      ? ['Authenticator app', used(factor.lastUsedAt)]
      : factor.kind === 'webauthn'
        ? [`Passkey “${factor.name}”`, used(factor.lastUsedAt)]
        : ['Recovery codes', `${factor.left} of ${factor.total} left`];
  return html`<tr data-factor="${factor.id}" data-kind="${factor.kind}">
<td data-label="Factor">${kind}</td>
<td data-label="Added">${day(factor.createdAt)}</td>
<td data-label="State">${detail}</td>
<td>${postButton({ csrf, action: `${TWO_STEP_PAGE}/${factor.id}/remove`, label: 'Remove', secondary: true, ariaLabel: `Remove ${kind.toLowerCase()} added ${day(factor.createdAt)}` })}</td>
</tr>`;
}

export function twoStepPage(view: { csrf: string; formId: string; factors: FactorView[] }): Fragment {
  const { csrf, factors } = view;
  const hasRecovery = factors.some((factor) => factor.kind === 'recovery');
  const on = factors.some((factor) => factor.kind !== 'recovery');
  const state = on
    ? html`<p id="factors-on">Two-step sign-in is on: after your identity provider, signing in asks for a code or a passkey.</p>`
    : html`<p class="muted" id="no-factors">Two-step sign-in is off: signing in asks for nothing after your identity provider. Add an authenticator app or a passkey to turn it on.</p>`;
  const list =
    factors.length === 0
      ? state
      : html`${state}
<div class="table-wrap"><table class="stack" aria-label="Your sign-in factors">
<thead><tr><th scope="col">Factor</th><th scope="col">Added</th><th scope="col">State</th><th scope="col"><span class="skip">Action</span></th></tr></thead>
<tbody>${factors.map((factor) => factorRow(csrf, factor))}</tbody></table></div>`;
  return html`${list}
<section aria-labelledby="add-app"><h2 id="add-app">Authenticator app</h2>
<p class="muted">Any TOTP app (1Password, Google Authenticator, Authy, …): scan a QR code, then type its first code.</p>
${postButton({ csrf, action: `${TWO_STEP_PAGE}/totp`, label: 'Add an authenticator app', fields: { form_id: view.formId } })}</section>
<section aria-labelledby="add-passkey"><h2 id="add-passkey">Passkey or security key</h2>
<p class="muted">A passkey on this device or your phone, or a security key (YubiKey, Titan, …): signing in asks you to use it, in place of a code.</p>
${postButton({ csrf, action: `${TWO_STEP_PAGE}/passkey`, label: 'Add a passkey or security key', fields: { form_id: view.formId } })}</section>
<section aria-labelledby="recovery"><h2 id="recovery">Recovery codes</h2>
<p class="muted">Ten codes, each working once in place of a code from your app, for when it is lost (they are asked for only while you have an authenticator app or a passkey). They are shown once; ${hasRecovery ? 'making new ones ends the old ones.' : 'keep them somewhere safe.'}${on ? '' : ' Codes made while two-step sign-in is off end when you add an authenticator app or a passkey: make them after.'}</p>
${postButton({ csrf, action: `${TWO_STEP_PAGE}/recovery`, label: hasRecovery ? 'Replace recovery codes' : 'Generate recovery codes', fields: { form_id: view.formId } })}</section>`;
}

/** The page that answers "add an authenticator app" (and a wrong first code, again). */
export function enrollTotpPage(view: {
  csrf: string;
  id: string;
  secret: string;
  uri: string;
  qr: string;
  error: string | null;
}): Fragment {
  return html`${errorBox(view.error)}
<p>Scan this code with your authenticator app, then type the 6-digit code it shows. Until you do, nothing changes at sign-in.</p>
<figure id="totp-qr">${raw(view.qr)}</figure>
<p>Or add it by hand: <code id="totp-secret">${view.secret}</code> (time-based, 6 digits, every 30 seconds)</p>
<details><summary>The whole setup link</summary><p><code id="totp-uri">${view.uri}</code></p></details>
<form method="post" action="${TWO_STEP_PAGE}/totp/${view.id}/confirm">
<input type="hidden" name="csrf" value="${view.csrf}">
<label for="code">Code from the app</label>
<input id="code" name="code" type="text" class="code" inputmode="numeric" autocomplete="one-time-code" maxlength="16" required>
<button type="submit">Confirm</button>
</form>
<p><a href="${TWO_STEP_PAGE}">Cancel</a></p>`;
}

/** The one page the recovery codes are ever shown on. */
export function recoveryCodesPage(codes: string[]): Fragment {
  return html`<p>Your recovery codes. Each works once, in place of a code from your app. Save them now: they are not shown again, and any codes you had before no longer work.</p>
<ol id="recovery-codes">${codes.map((code) => html`<li><code>${code}</code></li>`)}</ol>
<p><a href="${TWO_STEP_PAGE}">Done</a></p>`;
}

/**
 * The page that answers "add a passkey": the registration's options ride on the form, and
 * the script runs the browser's ceremony when it is sent. Without a script or WebAuthn the
 * form stays hidden and the page says so.
 */
export function enrollPasskeyPage(view: { csrf: string; options: object; error: string | null }): Fragment {
  return html`${errorBox(view.error)}
<div data-passkey-box hidden>
<p>Name it, then choose “Create passkey”: your browser asks which device or key to use.</p>
<form method="post" action="${TWO_STEP_PAGE}/passkey/confirm" data-passkey="create" data-options="${JSON.stringify(view.options)}">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="response" value="">
<label for="passkey-name">Name</label>
<input id="passkey-name" name="name" type="text" maxlength="60" value="Passkey" autocomplete="off">
<button type="submit" id="passkey-create">Create passkey</button>
<p class="muted" data-passkey-status role="status"></p>
</form>
</div>
<noscript><p class="error">Adding a passkey needs JavaScript, which is off in this browser.</p></noscript>
<p><a href="${TWO_STEP_PAGE}">Cancel</a></p>
<script src="${PASSKEY_SCRIPT_PATH}" defer></script>`;
}
