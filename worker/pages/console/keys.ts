/**
 * An org's API keys in the console: the list with rotate and revoke, the form that makes a
 * key, and the one page that shows a new key's secret — the answer to the post that made it,
 * never a page reached by a URL.
 */
import { html } from 'hono/html';
import type { ApiKeyCreated, ApiKeyInfo, Role } from '../../../shared/schemas.ts';
import type { Fragment } from '../layout.ts';
import { orgPath, when } from './layout.ts';

const DAY = 86400;
/** What the expiry select offers, in days; only those within the deployment's maximum are shown. */
const EXPIRY_DAYS = [7, 30, 90, 180, 365];
/** What a rotation's grace period select offers: how long the old key keeps working. */
const GRACE_PERIODS: [number, string][] = [
  [0, 'none: ends now'],
  [3600, '1 hour'],
  [DAY, '24 hours'],
  [7 * DAY, '7 days'],
];

const scopeOf = (project: string | null) => project ?? 'whole org';

function stateOf(key: ApiKeyInfo, now: number): 'revoked' | 'expired' | 'live' {
  if (key.revoked_at !== null && key.revoked_at <= now) return 'revoked';
  if (key.expires_at <= now) return 'expired';
  return 'live';
}

export function keysPage(view: {
  org: string;
  csrf: string;
  /** The id that lets this page's create and rotate forms act once each (a reload of the answer does nothing). */
  formId: string;
  keys: ApiKeyInfo[];
  /** The roles the viewer may make (and so rotate and revoke) keys of. */
  roles: Role[];
  projects: string[];
  /** The deployment's default and longest key lifetime, seconds. */
  ttl: { apiKey: number; apiKeyMax: number };
  now: number;
}): Fragment {
  const action = orgPath(view.org, 'keys');
  const days = [...new Set([...EXPIRY_DAYS.map((d) => d * DAY), view.ttl.apiKey])]
    .filter((seconds) => seconds <= view.ttl.apiKeyMax)
    .sort((a, b) => a - b);
  if (days.length === 0) days.push(view.ttl.apiKeyMax);
  const form = html`<h2 id="create-key">Create a key</h2>
<form method="post" action="${action}" aria-labelledby="create-key">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="form_id" value="${view.formId}">
<label for="key-name">Name</label>
<input type="text" id="key-name" name="name" required maxlength="100" autocomplete="off" aria-describedby="key-name-hint">
<p class="muted" id="key-name-hint">What uses it, e.g. “deploy from CI”.</p>
<label for="key-project">Project</label>
<select id="key-project" name="project">
<option value="">Whole org</option>
${view.projects.map((project) => html`<option value="${project}">${project}</option>`)}
</select>
<label for="key-role">Role</label>
<select id="key-role" name="role" aria-describedby="key-role-hint">
${view.roles.map((role) => html`<option value="${role}"${role === 'member' ? html` selected` : ''}>${role}</option>`)}
</select>
<p class="muted" id="key-role-hint">Only roles up to your own are offered. An admin or owner key needs a sign-in within the last 10 minutes.</p>
<label for="key-expires">Expires in</label>
<select id="key-expires" name="expires_in">
${days.map(
  (seconds) =>
    html`<option value="${seconds}"${seconds === view.ttl.apiKey ? html` selected` : ''}>${daysText(seconds)}</option>`,
)}
</select>
<button type="submit">Create key</button>
</form>`;
  const rows = view.keys.map((key) => keyRow(key, view));
  const list = view.keys.length
    ? html`<div class="table-wrap"><table class="keys">
<caption class="muted">Secrets are never shown again after their key is made.</caption>
<thead><tr><th scope="col">Name and ID</th><th scope="col">Project</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`
    : html`<p>No keys yet.</p>`;
  return html`${form}<h2>Keys</h2>${list}`;
}

function keyRow(key: ApiKeyInfo, view: { org: string; csrf: string; formId: string; roles: Role[]; now: number }): Fragment {
  const state = stateOf(key, view.now);
  const base = `${orgPath(view.org, 'keys')}/${encodeURIComponent(key.id)}`;
  let actions: Fragment | string = '';
  if (state !== 'live') actions = '';
  else if (!view.roles.includes(key.role)) actions = html`<span class="muted">only an ${key.role} can change it</span>`;
  else {
    const grace = `grace-${key.id}`;
    actions = html`<form method="post" action="${base}/rotate">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="form_id" value="${view.formId}">
<label for="${grace}" class="muted">Grace period<span class="visually-hidden"> for ${key.name}</span></label>
<select id="${grace}" name="grace_seconds">${GRACE_PERIODS.map(([seconds, text]) => html`<option value="${seconds}">${text}</option>`)}</select>
<button type="submit" class="secondary" aria-label="Rotate key ${key.name}">Rotate</button>
</form>
<form method="post" action="${base}/revoke" data-confirm="Revoke key ${key.name}? Anything using it is refused from the next request.">
<input type="hidden" name="csrf" value="${view.csrf}">
<button type="submit" class="secondary" aria-label="Revoke key ${key.name}">Revoke</button>
</form>`;
  }
  return html`<tr>
<td>${key.name}<br><code class="muted">${key.id}</code></td><td>${scopeOf(key.project)}</td><td>${key.role}</td>
<td>${whenCell(key.created_at)}<br><span class="muted">by ${key.created_by}</span></td><td>${whenCell(key.expires_at)}</td><td class="last-used">${whenCell(key.last_used_at)}</td>
<td><span class="badge">${state}</span></td><td class="actions">${actions}</td>
</tr>`;
}

/** A time as its date and its hour, each kept on one line. */
function whenCell(seconds: number | null): Fragment {
  const [date, ...rest] = when(seconds).split(' ');
  return html`<span class="when">${date}</span>${rest.length ? html` <span class="when">${rest.join(' ')}</span>` : ''}`;
}

const daysText = (seconds: number) => (seconds % DAY === 0 ? `${seconds / DAY} days` : `${Math.round(seconds / 3600)} hours`);

/**
 * The answer to the post that made a key (or a successor by rotation): its secret, once,
 * with a copy button (shown by /assets/console.js) and how to use it without the secret
 * written out a second time.
 */
export function newKeyPage(view: {
  org: string;
  created: ApiKeyCreated;
  issuer: string;
  rotated: string | null;
  productName: string;
}): Fragment {
  const { created } = view;
  return html`${view.rotated ? html`<p class="notice" role="status">Key <code>${view.rotated}</code> was rotated: this is its successor.</p>` : ''}
<dl>
<dt>Name</dt><dd>${created.name}</dd>
<dt>ID</dt><dd><code>${created.id}</code></dd>
<dt>Project</dt><dd>${scopeOf(created.project)}</dd>
<dt>Role</dt><dd>${created.role}</dd>
<dt>Expires</dt><dd>${when(created.expires_at)}</dd>
</dl>
<h2 id="secret-heading">Secret</h2>
<p class="error" id="secret-warning"><strong>Copy it now: it will not be shown again.</strong> ${view.productName} keeps only a keyed hash of it. If it is lost, rotate or revoke the key and make another.</p>
<p class="secret" id="new-key-secret">${created.key}</p>
<button type="button" data-copy="new-key-secret" hidden>Copy</button>
<h2>Use it</h2>
<p>Keep it in a secret store or an environment variable, then send it as a Bearer token:</p>
<pre><code>export KEY='…the secret above…'
curl -H "Authorization: Bearer $KEY" ${view.issuer}/v1/me</code></pre>
<p><a href="${orgPath(view.org, 'keys')}">Back to the keys of ${view.org}</a></p>`;
}
