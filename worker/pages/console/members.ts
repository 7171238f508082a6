/**
 * An org's members and pending invitations. Whoever may see the members sees both; whoever
 * may change them also gets a role form and a remove button per member, resend and withdraw
 * per invitation, and the invite form.
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import { type Invitation, ROLES, type Role } from '../../../shared/schemas.ts';
import type { OrgRecord } from '../../accounts/orgs.ts';
import type { ConsoleUser } from '../../http/console.ts';
import { consolePage, postButton, when } from './layout.ts';

/** The lengths an invitation can be given here, in days (the API takes any number of seconds in its bounds). */
const EXPIRY_DAYS = [1, 3, 7, 14, 30];

const roleOptions = (selected: Role) =>
  ROLES.map((role) => html`<option value="${role}"${role === selected ? html` selected` : ''}>${role}</option>`);

const memberPath = (org: string, email: string) => `/console/orgs/${org}/members/${encodeURIComponent(email)}`;

export function membersPage(
  c: Context,
  view: { user: ConsoleUser; org: OrgRecord; mayManage: boolean; invitations: Invitation[] },
) {
  const { user, org, mayManage } = view;
  const csrf = user.csrf;
  const members = Object.entries(org.members).sort(([a], [b]) => a.localeCompare(b));
  const memberRows = members.map(([email, role], index) => {
    const actions = mayManage
      ? html`<td data-label="Actions"><form method="post" action="${memberPath(org.slug, email)}/role">
<input type="hidden" name="csrf" value="${csrf}">
<label for="role-${index}" class="visually-hidden">Role of ${email}</label>
<select id="role-${index}" name="role">${roleOptions(role)}</select>
<button type="submit" aria-label="Change role of ${email}">Change role</button>
</form>
<form method="post" action="${memberPath(org.slug, email)}/remove" data-confirm="Remove ${email} from ${org.slug}?">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit" class="secondary" aria-label="Remove ${email}">Remove</button>
</form></td>`
      : '';
    return html`<tr><td data-label="Email">${email}${email === user.principal.email?.toLowerCase() ? html` <span class="muted">(you)</span>` : ''}</td><td data-label="Role"><span class="badge">${role}</span></td>${actions}</tr>`;
  });
  const invitationRows = view.invitations.map((invitation) => {
    const actions = mayManage
      ? html`<td data-label="Actions">${postButton({
          csrf,
          action: `/console/orgs/${org.slug}/invitations/${invitation.id}/resend`,
          label: 'Resend',
          ariaLabel: `Resend the invitation of ${invitation.email}`,
        })}<form method="post" action="/console/orgs/${org.slug}/invitations/${invitation.id}/withdraw" class="inline" data-confirm="Withdraw the invitation of ${invitation.email}?">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit" class="secondary" aria-label="Withdraw the invitation of ${invitation.email}">Withdraw</button>
</form></td>`
      : '';
    return html`<tr><td data-label="Email">${invitation.email}</td><td data-label="Role">${invitation.role}</td><td data-label="Expires">${when(invitation.expires_at)}</td><td data-label="Invited by">${invitation.invited_by}</td>${actions}</tr>`;
  });
  const invitations = view.invitations.length
    ? html`<div class="table-wrap"><table class="stack" aria-label="Pending invitations">
<thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Expires</th><th scope="col">Invited by</th>${mayManage ? html`<th scope="col">Actions</th>` : ''}</tr></thead>
<tbody>${invitationRows}</tbody>
</table></div>`
    : html`<p class="muted">No pending invitations.</p>`;
  const inviteForm = mayManage
    ? html`<form method="post" action="/console/orgs/${org.slug}/invitations">
<fieldset><legend>Invite someone</legend>
<input type="hidden" name="csrf" value="${csrf}">
<label for="invite-email">Email</label>
<input id="invite-email" name="email" type="email" required maxlength="254" autocomplete="off">
<label for="invite-role">Role</label>
<select id="invite-role" name="role">${roleOptions('member')}</select>
<label for="invite-expires">Expires after</label>
<select id="invite-expires" name="expires_in">${EXPIRY_DAYS.map(
        (days) =>
          html`<option value="${String(days * 86400)}"${days === 7 ? html` selected` : ''}>${days} ${days === 1 ? 'day' : 'days'}</option>`,
      )}</select>
<p class="muted">They join when they accept, signed in with that email, on their own console page or with <code>latchkey invitations accept</code>.</p>
<button type="submit">Send invitation</button>
</fieldset>
</form>`
    : '';
  const body = html`<h2>Members</h2>
<div class="table-wrap"><table class="stack" aria-label="Members">
<thead><tr><th scope="col">Email</th><th scope="col">Role</th>${mayManage ? html`<th scope="col">Actions</th>` : ''}</tr></thead>
<tbody>${memberRows}</tbody>
</table></div>
<h2>Pending invitations</h2>
${invitations}
${inviteForm}`;
  return consolePage(c, { user, title: `Members of ${org.name}`, at: { page: 'org', org: org.slug, tab: 'members' }, body });
}
