/**
 * The console's org pages: making an org, and an org's overview (its name, the viewer's
 * role, its projects, and for admins the form to add one; whether it requires two-step
 * sign-in, and for its owner the switch).
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { Role } from '../../../shared/schemas.ts';
import type { OrgRecord } from '../../accounts/orgs.ts';
import type { ConsoleUser } from '../../http/console.ts';
import { TWO_STEP_PAGE } from '../../policy/roles.ts';
import { consolePage, postButton, when } from './layout.ts';

export function newOrgPage(c: Context, user: ConsoleUser) {
  const body = user.principal.email
    ? html`<p>You become the new org’s owner. Its slug names it in URLs and on the command line and cannot change.</p>
<form method="post" action="/console/orgs">
<input type="hidden" name="csrf" value="${user.csrf}">
<label for="slug">Slug</label>
<input id="slug" name="slug" type="text" required maxlength="40" pattern="[a-z0-9]+(-[a-z0-9]+)*" autocomplete="off" spellcheck="false" aria-describedby="slug-help">
<p id="slug-help" class="muted">Lower-case letters, digits and single hyphens, up to 40 characters.</p>
<label for="name">Name <span class="muted">(optional)</span></label>
<input id="name" name="name" type="text" maxlength="100">
<button type="submit">Create org</button>
</form>`
    : html`<p class="error" role="alert">Only a person with a verified email can create an org, and your sign-in has none.</p>`;
  return consolePage(c, { user, title: 'New org', at: { page: 'new-org' }, body });
}

/**
 * Whether the org requires two-step sign-in, and for its owner the switch. Turning it on
 * wants the owner's own sign-in to have proven a second factor, so without one the page
 * says where to add it instead of offering a button that would be refused.
 */
function twoStepSection(view: { user: ConsoleUser; org: OrgRecord; mayChangeMfa: boolean }) {
  const { user, org } = view;
  const state = org.requireMfa
    ? html`<p>Required: members act in this org only from a sign-in that proved a second factor (an authenticator app or a recovery code). API keys are not affected.</p>`
    : html`<p>Not required: members may act in this org from a sign-in with one step.</p>`;
  if (!view.mayChangeMfa) return html`<h2>Two-step sign-in</h2>${state}`;
  const action = `/console/orgs/${org.slug}/mfa`;
  const change = org.requireMfa
    ? postButton({
        csrf: user.csrf,
        action,
        label: 'Stop requiring two-step sign-in',
        fields: { required: 'false' },
        secondary: true,
      })
    : user.principal.mfa
      ? html`<form method="post" action="${action}" class="inline" data-confirm="Require two-step sign-in in ${org.slug}? Its sessions without a second factor end now.">
<input type="hidden" name="csrf" value="${user.csrf}"><input type="hidden" name="required" value="true">
<button type="submit">Require two-step sign-in</button>
</form>
<p class="muted">Sessions signed in for this org without a second factor end at once; members without an authenticator are refused until they add one and sign in again.</p>`
      : html`<p class="muted">To require it of others, first sign in with two-step sign-in yourself: <a href="${TWO_STEP_PAGE}">add an authenticator</a>, then sign in again.</p>`;
  return html`<h2>Two-step sign-in</h2>${state}${change}`;
}

export function orgOverviewPage(
  c: Context,
  view: { user: ConsoleUser; org: OrgRecord; role: Role; mayCreateProjects: boolean; mayChangeMfa: boolean },
) {
  const { user, org } = view;
  const projects = org.projects.length
    ? html`<ul>${org.projects.map((project) => html`<li><code>${project}</code></li>`)}</ul>`
    : html`<p class="muted">No projects yet.</p>`;
  const form = view.mayCreateProjects
    ? html`<form method="post" action="/console/orgs/${org.slug}/projects">
<fieldset><legend>New project</legend>
<input type="hidden" name="csrf" value="${user.csrf}">
<label for="project-slug">Project slug</label>
<input id="project-slug" name="slug" type="text" required maxlength="40" pattern="[a-z0-9]+(-[a-z0-9]+)*" autocomplete="off" spellcheck="false">
<button type="submit">Create project</button>
</fieldset>
</form>`
    : '';
  const body = html`<dl>
<dt>Name</dt><dd>${org.name}</dd>
<dt>Slug</dt><dd><code>${org.slug}</code></dd>
<dt>Your role</dt><dd><span class="badge">${view.role}</span></dd>
<dt>Members</dt><dd>${Object.keys(org.members).length}</dd>
<dt>Created</dt><dd>${when(Math.floor(org.createdAt / 1000))}</dd>
</dl>
<h2>Projects</h2>
${projects}
${form}
${twoStepSection(view)}`;
  return consolePage(c, { user, title: org.name, at: { page: 'org', org: org.slug, tab: 'overview' }, body });
}
