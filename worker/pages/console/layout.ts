/**
 * The console's frame around every page: the navigation (You, the person's orgs, the
 * operator page), an org's tabs, a notice after a finished action, and the sign-out form.
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { ConsoleUser } from '../../http/console.ts';
import { brandOf, type Fragment, renderPage } from '../layout.ts';

export type OrgTab = 'overview' | 'members' | 'keys' | 'policies' | 'sso' | 'audit';

export type ConsoleView = {
  user: ConsoleUser;
  title: string;
  /** Which top-level page this is; an org's page names the org and its tab. */
  at: { page: 'you' | 'operator' | 'new-org' } | { page: 'org'; org: string; tab: OrgTab };
  body: Fragment;
  status?: 200 | 201 | 400 | 403 | 404 | 409;
};

/**
 * What a finished action says on the next page. The URL carries only a key of this table,
 * so a link from elsewhere cannot put its own words on the page.
 */
export const NOTICES = {
  'session-revoked': 'The session was ended. Its tokens are refused from the next request.',
  'browser-ended': 'That browser is signed out.',
  'invitation-accepted': 'Invitation accepted: you are a member now.',
  'invitation-declined': 'Invitation declined.',
  'org-created': 'Org created. You are its owner.',
  'project-created': 'Project created.',
  'mfa-required':
    'The org now requires two-step sign-in: its sessions without a second factor ended, and members without one are refused until they add one and sign in again.',
  'mfa-not-required': 'The org no longer requires two-step sign-in.',
  'invitation-sent': 'Invitation created.',
  'invitation-resent': 'Invitation sent again, with a new expiry.',
  'invitation-withdrawn': 'Invitation withdrawn.',
  'member-changed': 'Role changed.',
  'member-removed': 'Member removed; the sessions they signed in for this org ended.',
  'key-revoked': 'Key revoked. It is refused from the next request.',
  'policy-created': 'Trust policy created.',
  'policy-deleted': 'Trust policy deleted.',
  'totp-added': 'Authenticator app added: signing in now asks for its code.',
  'passkey-added': 'Passkey added: signing in now asks you to use it (or a code).',
  'factor-removed': 'Sign-in factor removed.',
  'sso-saved': 'SSO connection saved. Its client secret is kept sealed and is not shown again.',
  'sso-enabled': 'SSO is enabled for this org.',
  'sso-disabled': 'SSO is disabled for this org; people sign in as before.',
  'sso-enforced': "SSO is enforced: people of the org's verified domains sign in only through it.",
  'sso-unenforced': 'SSO is no longer enforced.',
  'sso-removed': 'SSO connection removed; its client secret is deleted.',
} as const;
export type Notice = keyof typeof NOTICES;

const TABS: [OrgTab, string][] = [
  ['overview', 'Overview'],
  ['members', 'Members'],
  ['keys', 'API keys'],
  ['policies', 'CI trust'],
  ['sso', 'SSO'],
  ['audit', 'Audit trail'],
];

const current = (yes: boolean) => (yes ? html` aria-current="page"` : '');

export const orgPath = (org: string, tab: OrgTab = 'overview') =>
  tab === 'overview' ? `/console/orgs/${org}` : `/console/orgs/${org}/${tab}`;

export function consolePage(c: Context, view: ConsoleView) {
  const { user, at } = view;
  const asked = c.req.query('notice');
  // An own key only: `constructor` or `__proto__` would show what every object inherits.
  const notice = asked !== undefined && Object.hasOwn(NOTICES, asked) ? NOTICES[asked as Notice] : null;
  const nav = html`<a class="skip" href="#main">Skip to content</a>
<nav class="top" aria-label="Console"><div>
<span class="brand">${brandOf(c).productName}</span>
<a href="/console"${current(at.page === 'you')}>You</a>
${user.operator ? html`<a href="/console/operator"${current(at.page === 'operator')}>Operator</a>` : ''}
<form method="post" action="/console/signout"><input type="hidden" name="csrf" value="${user.csrf}"><button type="submit" class="secondary">Sign out ${user.principal.email ?? ''}</button></form>
</div></nav>`;
  const tabs =
    at.page === 'org'
      ? html`<p class="muted">Org <strong>${at.org}</strong></p>
<nav class="tabs" aria-label="Org">${TABS.map(([tab, label]) => html`<a href="${orgPath(at.org, tab)}"${current(at.tab === tab)}>${label}</a>`)}</nav>`
      : '';
  const body = html`<div id="main" tabindex="-1"></div>${tabs}${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}${view.body}`;
  return renderPage(c, view.status ?? 200, view.title, body, { console: { nav } });
}

/** A form that posts to the console with the CSRF token; `fields` are hidden inputs. */
export function postButton(input: {
  csrf: string;
  action: string;
  label: string;
  fields?: Record<string, string>;
  secondary?: boolean;
  /** Names what the button acts on for people using a screen reader ("Revoke key ci-deploy"). */
  ariaLabel?: string;
}): Fragment {
  return html`<form method="post" action="${input.action}" class="inline"><input type="hidden" name="csrf" value="${input.csrf}">${Object.entries(
    input.fields ?? {},
  ).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
  )}<button type="submit"${input.secondary ? html` class="secondary"` : ''}${input.ariaLabel ? html` aria-label="${input.ariaLabel}"` : ''}>${input.label}</button></form>`;
}

/** Seconds since the epoch as an ISO time a person can read (UTC). */
export const when = (seconds: number | null) =>
  seconds === null ? 'never' : new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
