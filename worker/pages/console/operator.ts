/**
 * The operator page (LATCHKEY_OPERATORS only): the deployment's orgs, and any person's
 * sessions found by email, each with Revoke.
 */
import { html } from 'hono/html';
import type { SessionInfo } from '../../../shared/schemas.ts';
import type { OrgRecord } from '../../accounts/orgs.ts';
import type { Fragment } from '../layout.ts';
import { when } from './layout.ts';
import { sessionsTable } from './you.ts';

export type OperatorView = {
  csrf: string;
  orgs: OrgRecord[];
  /** The person whose sessions were asked for, and theirs; null before anyone was asked for. */
  lookup: { email: string; sessions: SessionInfo[] } | null;
  clientName: (id: string) => string;
};

function orgsTable(orgs: OrgRecord[]): Fragment {
  if (orgs.length === 0) return html`<p class="muted">No orgs are listed yet.</p>`;
  return html`<div class="table-wrap"><table class="stack" aria-label="All orgs">
<thead><tr><th scope="col">Org</th><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Members</th><th scope="col">Owners</th></tr></thead>
<tbody>${orgs.map((org) => {
    const owners = Object.entries(org.members).flatMap(([email, role]) => (role === 'owner' ? [email] : []));
    return html`<tr data-org="${org.slug}"><td data-label="Org"><code>${org.slug}</code></td><td data-label="Name">${org.name}</td><td data-label="Created">${when(Math.floor(org.createdAt / 1000))}</td><td data-label="Members">${Object.keys(org.members).length}</td><td data-label="Owners">${owners.join(', ')}</td></tr>`;
  })}</tbody></table></div>`;
}

export function operatorBody(view: OperatorView): Fragment {
  const { lookup } = view;
  return html`<p class="muted">You are an operator of this deployment (LATCHKEY_OPERATORS): above every org.</p>
<section aria-labelledby="sessions"><h2 id="sessions">End a person's session</h2>
<form method="get" action="/console/operator">
<label for="email">Email of the person</label>
<input type="email" id="email" name="email" required maxlength="254" autocomplete="off" value="${lookup?.email ?? ''}">
<button type="submit">List their sessions</button>
</form>
${
  lookup
    ? html`<h3>Sessions of ${lookup.email}</h3>${sessionsTable({
        csrf: view.csrf,
        sessions: lookup.sessions,
        clientName: view.clientName,
        label: `Sessions of ${lookup.email}`,
        revoke: (session) => ({
          action: `/console/operator/sessions/${session.id}/revoke`,
          fields: { email: lookup.email },
        }),
      })}`
    : ''
}
</section>
<section aria-labelledby="orgs"><h2 id="orgs">Orgs</h2>
<p class="muted">Every org created since the org registry was added, newest first; orgs created before it are not listed.</p>
${orgsTable(view.orgs)}</section>`;
}
