/**
 * An org's SSO connection in the console: what it is (issuer, client id, tested, enabled,
 * enforced), the redirect URI to register with the provider, the form that sets it (the
 * client secret in a password field, never written back into a page), the test sign-in,
 * and the switches, each offered only when the rules would take it (enabling once tested,
 * enforcing once enabled).
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { SsoConnectionInfo } from '../../../shared/schemas.ts';
import type { OrgRecord } from '../../accounts/orgs.ts';
import type { ConsoleUser } from '../../http/console.ts';
import { consolePage, orgPath, postButton, when } from './layout.ts';

type Status = 200 | 400 | 403 | 404 | 409;
const ssoPath = (org: string) => orgPath(org, 'sso');

export type SsoPageView = {
  user: ConsoleUser;
  org: OrgRecord;
  connection: SsoConnectionInfo | null;
  redirectUri: string;
  /** What was typed into the form, kept after a refusal (never the secret). */
  values?: { issuer?: string; client_id?: string };
  error?: string;
  status?: Status;
};

function state(connection: SsoConnectionInfo) {
  return html`<div class="table-wrap"><table id="sso-connection">
<tbody>
<tr><th scope="row">Issuer</th><td><code>${connection.issuer}</code></td></tr>
<tr><th scope="row">Client id</th><td><code>${connection.client_id}</code></td></tr>
<tr><th scope="row">Tested</th><td id="sso-tested-at">${connection.tested_at === null ? 'not yet' : html`${when(connection.tested_at)} by ${connection.tested_by ?? ''}`}</td></tr>
<tr><th scope="row">Enabled</th><td id="sso-enabled">${connection.enabled ? 'yes' : 'no'}</td></tr>
<tr><th scope="row">Enforced</th><td id="sso-enforced">${connection.enforced ? 'yes' : 'no'}</td></tr>
<tr><th scope="row">Just-in-time membership</th><td id="sso-jit-role">${connection.jit_role === null ? 'off' : `new people join as ${connection.jit_role}`}</td></tr>
<tr><th scope="row">Set up</th><td>${when(connection.created_at)} by ${connection.created_by}</td></tr>
</tbody></table></div>`;
}

function switches(user: ConsoleUser, org: string, connection: SsoConnectionInfo) {
  const action = `${ssoPath(org)}/switch`;
  const button = (to: string, label: string, secondary = false) =>
    postButton({ csrf: user.csrf, action, label, fields: { to }, secondary });
  const test = postButton({
    csrf: user.csrf,
    action: `${ssoPath(org)}/test`,
    label: 'Test sign-in',
    secondary: connection.tested_at !== null,
  });
  return html`<p>${test}
${connection.tested_at !== null && !connection.enabled ? button('enable', 'Enable SSO') : ''}
${connection.enabled && !connection.enforced ? button('enforce', 'Require SSO for all members') : ''}
${connection.enforced ? button('unenforce', 'Stop requiring SSO', true) : ''}
${connection.enabled ? button('disable', 'Disable SSO', true) : ''}</p>
${connection.tested_at === null ? html`<p class="muted">A test sign-in through the provider must work before SSO can be enabled.</p>` : ''}
<form method="post" action="${ssoPath(org)}/remove" class="inline" data-confirm="Remove the SSO connection? Its client secret is deleted."><input type="hidden" name="csrf" value="${user.csrf}"><button type="submit" class="secondary">Remove connection</button></form>`;
}

export function ssoPage(c: Context, view: SsoPageView) {
  const { user, org, connection } = view;
  const values = view.values ?? { issuer: connection?.issuer, client_id: connection?.client_id };
  const body = html`<p>People with an email in this org's verified domains can sign in through the org's own OpenID provider
(Okta, Entra, Google Workspace, Auth0, any other). Register this redirect URI for latchkey's client at the provider:
<code id="sso-redirect-uri">${view.redirectUri}</code></p>
${view.error ? html`<p class="error" role="alert" id="sso-error">${view.error}</p>` : ''}
${connection ? html`${state(connection)}${switches(user, org.slug, connection)}` : html`<p id="sso-none">This org has no SSO connection yet.</p>`}
<h2>${connection ? 'Change the connection' : 'Set up a connection'}</h2>
<form method="post" action="${ssoPath(org.slug)}">
<input type="hidden" name="csrf" value="${user.csrf}">
<label for="sso-issuer">Issuer URL</label>
<input id="sso-issuer" name="issuer" type="text" inputmode="url" required value="${values.issuer ?? ''}" placeholder="https://acme.okta.com" autocomplete="off">
<label for="sso-client-id">Client id</label>
<input id="sso-client-id" name="client_id" type="text" required value="${values.client_id ?? ''}" autocomplete="off">
<label for="sso-client-secret">Client secret${connection ? html` <span class="muted">(leave empty to keep the current one; a new issuer or client id needs one)</span>` : ''}</label>
<input id="sso-client-secret" name="client_secret" type="password" autocomplete="new-password"${connection ? '' : html` required`}>
<label for="sso-jit-role-choice">Just-in-time membership <span class="muted">(people of the verified domains who sign in through it and are not members join with this role)</span></label>
<select id="sso-jit-role-choice" name="jit_role">
${(['', 'member', 'admin'] as const).map(
  (role) =>
    html`<option value="${role}"${(connection?.jit_role ?? '') === role ? html` selected` : ''}>${role === '' ? 'off' : role}</option>`,
)}
</select>
<button type="submit">Save</button>
</form>`;
  return consolePage(c, {
    user,
    title: 'SSO',
    at: { page: 'org', org: org.slug, tab: 'sso' },
    body,
    ...(view.status ? { status: view.status } : {}),
  });
}

/** After "Test sign-in": the provider's page to open. A link, since it is another origin than the console's forms may lead to. */
export function ssoTestPage(c: Context, view: { user: ConsoleUser; org: OrgRecord; url: string; minutes: number }) {
  const body = html`<p>Sign in at the org's provider within ${view.minutes} minutes. Its answer comes back to latchkey, which
records that the connection works.</p>
<p><a id="sso-test-link" class="button" href="${view.url}">Sign in at the provider</a></p>
<p><a href="${ssoPath(view.org.slug)}">Back to SSO</a></p>`;
  return consolePage(c, {
    user: view.user,
    title: 'Test SSO sign-in',
    at: { page: 'org', org: view.org.slug, tab: 'sso' },
    body,
  });
}
