/**
 * The console's You page: the person's sessions (each sign-in of a CLI or another client),
 * their signed-in browsers, their orgs and the invitations waiting for them.
 */
import { html } from 'hono/html';
import type { Invitation, OrgList, SessionInfo } from '../../../shared/schemas.ts';
import type { ActiveWebSession } from '../../accounts/web-sessions.ts';
import type { Fragment } from '../layout.ts';
import { orgPath, postButton, when } from './layout.ts';

/** What the page shows; `email: null` is a person without a verified email, who has no orgs or invitations. */
export type YouView = {
  csrf: string;
  email: string | null;
  sessions: SessionInfo[];
  browsers: ActiveWebSession[];
  thisBrowser: string;
  orgs: OrgList['orgs'];
  invitations: Invitation[];
  clientName: (id: string) => string;
};

const seconds = (ms: number) => Math.floor(ms / 1000);
const noEmail = html`<p class="muted">Your account has no verified email address. Orgs name their members and invitations by verified email, so you cannot join or create an org until your identity provider vouches for one.</p>`;

/** A session's state as a person reads it. */
export function sessionState(session: SessionInfo): string {
  if (session.revoked === 'logout') return 'ended (signed out)';
  if (session.revoked === 'admin') return 'ended by an admin';
  if (session.revoked === 'reuse') return 'ended (a refresh token was reused)';
  if (session.revoked) return `ended (${session.revoked})`;
  return 'live';
}

/** The table of sessions with a Revoke button on each live one; the You page's and the operator page's. */
export function sessionsTable(input: {
  csrf: string;
  sessions: SessionInfo[];
  clientName: (id: string) => string;
  label: string;
  /** Where a session's Revoke button posts, with its hidden fields. */
  revoke: (session: SessionInfo) => { action: string; fields?: Record<string, string> };
}): Fragment {
  const { csrf, sessions, clientName, label } = input;
  if (sessions.length === 0) return html`<p class="muted">No sessions.</p>`;
  return html`<div class="table-wrap"><table class="stack" aria-label="${label}">
<thead><tr><th scope="col">Device</th><th scope="col">Client</th><th scope="col">Address</th><th scope="col">User agent</th><th scope="col">Signed in</th><th scope="col">Last used</th><th scope="col">Org</th><th scope="col">Two-step</th><th scope="col">State</th><th scope="col"><span class="skip">Action</span></th></tr></thead>
<tbody>${sessions.map(
    (session) => html`<tr data-session="${session.id}">
<td data-label="Device">${session.device_name ?? 'unnamed'}<br><code class="muted">${session.id}</code></td>
<td data-label="Client">${clientName(session.client_id)}</td>
<td data-label="Address">${session.address ?? 'unknown'}</td>
<td data-label="User agent">${session.user_agent ?? 'unknown'}</td>
<td data-label="Signed in">${when(session.created_at)}</td>
<td data-label="Last used">${when(session.last_used_at)}</td>
<td data-label="Org">${session.org ?? 'any of yours'}</td>
<td data-label="Two-step">${session.mfa_at === null ? 'no' : html`yes, ${when(session.mfa_at)}`}</td>
<td data-label="State">${sessionState(session)}</td>
<td>${
      session.revoked
        ? ''
        : postButton({
            csrf,
            ...input.revoke(session),
            label: 'Revoke',
            ariaLabel: `Revoke session ${session.device_name ?? session.id}`,
          })
    }</td>
</tr>`,
  )}</tbody></table></div>`;
}

function browsersTable(view: YouView): Fragment {
  return html`<div class="table-wrap"><table class="stack" aria-label="Signed-in browsers">
<thead><tr><th scope="col">Signed in</th><th scope="col">Address</th><th scope="col">User agent</th><th scope="col"><span class="skip">Action</span></th></tr></thead>
<tbody>${view.browsers.map((browser) => {
    const here = browser.publicId === view.thisBrowser;
    return html`<tr data-browser="${browser.publicId}"${here ? html` class="this-one"` : ''}>
<td data-label="Signed in">${when(seconds(browser.createdAt))}${here ? html` <span class="badge">this browser</span>` : ''}${browser.mfaAt === null ? '' : html` <span class="badge" data-two-step>with a second factor</span>`}</td>
<td data-label="Address">${browser.address ?? 'unknown'}</td>
<td data-label="User agent">${browser.userAgent ?? 'unknown'}</td>
<td>${postButton({
      csrf: view.csrf,
      action: `/console/browsers/${browser.publicId}/end`,
      label: here ? 'Sign out this browser' : 'Sign out that browser',
      secondary: true,
      ...(here
        ? {}
        : {
            ariaLabel: `Sign out that browser, signed in at ${when(seconds(browser.createdAt))} from ${browser.address ?? 'an unknown address'}`,
          }),
    })}</td>
</tr>`;
  })}</tbody></table></div>`;
}

function orgsSection(view: YouView): Fragment {
  if (view.email === null) return noEmail;
  const list =
    view.orgs.length === 0
      ? html`<p class="muted">You are in no org yet. Create one, or accept an invitation below.</p>`
      : html`<div class="table-wrap"><table class="stack" aria-label="Your orgs">
<thead><tr><th scope="col">Org</th><th scope="col">Name</th><th scope="col">Your role</th></tr></thead>
<tbody>${view.orgs.map(
          (org) =>
            html`<tr data-org="${org.slug}"><td data-label="Org"><a href="${orgPath(org.slug)}">${org.slug}</a></td><td data-label="Name">${org.name}</td><td data-label="Your role">${org.role}</td></tr>`,
        )}</tbody></table></div>`;
  return html`${list}<p><a href="/console/orgs/new">Create an org</a></p>`;
}

function invitationsSection(view: YouView): Fragment {
  if (view.email === null) return noEmail;
  if (view.invitations.length === 0) return html`<p class="muted">No invitations are waiting for ${view.email}.</p>`;
  return html`<div class="table-wrap"><table class="stack" aria-label="Invitations for you">
<thead><tr><th scope="col">Org</th><th scope="col">Role</th><th scope="col">Invited by</th><th scope="col">Expires</th><th scope="col"><span class="skip">Answer</span></th></tr></thead>
<tbody>${view.invitations.map(
    (invitation) => html`<tr data-invitation="${invitation.id}">
<td data-label="Org">${invitation.org_name} <span class="muted">(${invitation.org})</span></td>
<td data-label="Role">${invitation.role}</td>
<td data-label="Invited by">${invitation.invited_by}</td>
<td data-label="Expires">${when(invitation.expires_at)}</td>
<td>${postButton({
      csrf: view.csrf,
      action: `/console/invitations/${invitation.id}/accept`,
      label: 'Accept',
      ariaLabel: `Accept the invitation to ${invitation.org} as ${invitation.role}`,
    })}${postButton({
      csrf: view.csrf,
      action: `/console/invitations/${invitation.id}/decline`,
      label: 'Decline',
      secondary: true,
      ariaLabel: `Decline the invitation to ${invitation.org}`,
    })}</td>
</tr>`,
  )}</tbody></table></div>`;
}

export function youBody(view: YouView): Fragment {
  return html`<p class="muted">Signed in as <strong>${view.email ?? 'an account without a verified email'}</strong>.</p>
<section aria-labelledby="invitations"><h2 id="invitations">Invitations</h2>${invitationsSection(view)}</section>
<section aria-labelledby="orgs"><h2 id="orgs">Your orgs</h2>${orgsSection(view)}</section>
<section aria-labelledby="sessions"><h2 id="sessions">Your sessions</h2>
<p class="muted">Each sign-in of the CLI or another client. Revoking one refuses its tokens from the next request.</p>
${sessionsTable({
  csrf: view.csrf,
  sessions: view.sessions,
  clientName: view.clientName,
  label: 'Your sessions',
  revoke: (session) => ({ action: `/console/sessions/${session.id}/revoke` }),
})}</section>
<section aria-labelledby="two-step"><h2 id="two-step">Two-step sign-in</h2>
<p class="muted">An authenticator app and recovery codes, asked for after your identity provider when you sign in here.</p>
<p><a href="/console/two-step">Set up two-step sign-in</a></p></section>
<section aria-labelledby="browsers"><h2 id="browsers">Signed-in browsers</h2>
<p class="muted">Where you are signed in to these pages. Signing out another browser ends its sign-in at once.</p>
${browsersTable(view)}</section>`;
}
