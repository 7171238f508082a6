/**
 * An org's CI trust policies in the console: the list (admins may delete the org's own),
 * a form per preset (GitHub Actions, GitLab) or raw JSON to create one, and the dry-run
 * that shows, for a pasted CI token, its verified claims and each policy's conditions
 * passing or failing. The pasted token itself is never written into a page.
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import { SCOPES } from '../../../shared/schemas.ts';
import { type DryRunResponse, GITHUB_ACTIONS_ISSUER, GITLAB_ISSUER, type TrustPolicyInfo } from '../../../shared/trust-policy.ts';
import type { OrgRecord } from '../../accounts/orgs.ts';
import type { ConsoleUser } from '../../http/console.ts';
import type { Fragment } from '../layout.ts';
import { consolePage, orgPath, when } from './layout.ts';

/** The forms a policy is created from: `json` takes the JSON API's body as it is. */
export const FORM_PRESETS = ['github', 'gitlab', 'json'] as const;
export type FormPreset = (typeof FORM_PRESETS)[number];

type Status = 200 | 400 | 403 | 404 | 409;
const policiesPath = (org: string) => orgPath(org, 'policies');
const csrfField = (user: ConsoleUser) => html`<input type="hidden" name="csrf" value="${user.csrf}">`;

/** A policy's conditions as the dry-run checks them: the audience first, then each claim pattern. */
export const conditionsOf = (policy: TrustPolicyInfo): [string, string][] => [
  ['aud', policy.audience],
  ...Object.entries(policy.claims),
];

function conditionList(policy: TrustPolicyInfo): Fragment {
  return html`<ul class="conditions">${Object.entries(policy.claims).map(
    ([claim, pattern]) => html`<li><code>${claim}</code> = <code>${pattern}</code></li>`,
  )}</ul>`;
}

function grantText(policy: TrustPolicyInfo): Fragment {
  return html`project <strong>${policy.grant.project}</strong><br>scope <code>${policy.grant.scopes.join(' ')}</code>${
    policy.grant.max_ttl ? html`<br>at most ${policy.grant.max_ttl} s` : ''
  }`;
}

function deleteForm(user: ConsoleUser, org: string, policy: TrustPolicyInfo): Fragment {
  return html`<form method="post" action="${policiesPath(org)}/${policy.id}/delete" class="inline" data-confirm="Delete trust policy ${policy.id}? CI jobs it admits are refused from their next exchange.">${csrfField(
    user,
  )}<button type="submit" class="secondary" aria-label="Delete trust policy ${policy.id}">Delete</button></form>`;
}

export function policiesPage(
  c: Context,
  view: { user: ConsoleUser; org: OrgRecord; policies: TrustPolicyInfo[]; admin: boolean; audience: string },
) {
  const { user, org, policies, admin } = view;
  const rows = policies.map(
    (policy) => html`<tr id="policy-${policy.id}">
<td><strong>${policy.id}</strong>${policy.description ? html`<br><span class="muted">${policy.description}</span>` : ''}${
      policy.source === 'config' ? html`<br><span class="badge">set by the operator</span>` : ''
    }</td>
<td>${policy.preset}<br><code>${policy.issuer}</code></td>
<td>${conditionList(policy)}</td>
<td>${grantText(policy)}</td>
<td>${policy.created_at === null ? 'server configuration' : html`${when(policy.created_at)}<br><span class="muted">${policy.created_by ?? ''}</span>`}</td>
${admin ? html`<td>${policy.source === 'api' ? deleteForm(user, org.slug, policy) : ''}</td>` : ''}
</tr>`,
  );
  const body = html`<p>A CI job (GitHub Actions, GitLab) exchanges the ID token its platform gives it for a latchkey token of one project, when
one of these policies admits the token's claims. Jobs request their ID token for this org's audience:
<code id="org-audience">${view.audience}</code></p>
<p><a href="${policiesPath(org.slug)}/dry-run">Dry-run a CI token</a> against these policies${
    admin
      ? html` · New policy: <a href="${policiesPath(org.slug)}/new?preset=github">GitHub Actions</a> ·
<a href="${policiesPath(org.slug)}/new?preset=gitlab">GitLab</a> · <a href="${policiesPath(org.slug)}/new?preset=json">JSON</a>`
      : ''
  }</p>
${
  policies.length
    ? html`<div class="table-wrap"><table>
<caption class="muted">${policies.length} ${policies.length === 1 ? 'policy' : 'policies'}</caption>
<thead><tr><th scope="col">Policy</th><th scope="col">Issuer</th><th scope="col">Conditions</th><th scope="col">Grant</th><th scope="col">Created</th>${
        admin ? html`<th scope="col">Actions</th>` : ''
      }</tr></thead>
<tbody>${rows}</tbody></table></div>`
    : html`<p id="no-policies">This org has no trust policies yet: no CI job can exchange its token here.</p>`
}`;
  return consolePage(c, { user, title: 'CI trust policies', at: { page: 'org', org: org.slug, tab: 'policies' }, body });
}

/** One labelled text input, its value kept from the person's last post. */
function field(
  values: Record<string, string>,
  name: string,
  label: string,
  hint: Fragment | string = '',
  options: { required?: boolean; placeholder?: string; numeric?: boolean } = {},
): Fragment {
  return html`<label for="f-${name}">${label}</label>${hint ? html`<p class="muted" id="h-${name}">${hint}</p>` : ''}<input type="text" id="f-${name}" name="${name}" value="${values[name] ?? ''}"${
    options.required ? html` required` : ''
  }${options.placeholder ? html` placeholder="${options.placeholder}"` : ''}${
    options.numeric ? html` inputmode="numeric" pattern="[0-9]{1,20}"` : ''
  }${hint ? html` aria-describedby="h-${name}"` : ''}>`;
}

function choice(values: Record<string, string>, name: string, label: string, choices: [string, string][]): Fragment {
  return html`<label for="f-${name}">${label}</label><select id="f-${name}" name="${name}">${choices.map(
    ([value, text]) => html`<option value="${value}"${values[name] === value ? html` selected` : ''}>${text}</option>`,
  )}</select>`;
}

/** Scopes a policy may grant, as one space-separated value (each is a superset of the last). */
const SCOPE_CHOICES: [string, string][] = SCOPES.map((_, index) => {
  const scopes = SCOPES.slice(0, index + 1).join(' ');
  return [scopes, scopes];
});

function grantFields(org: OrgRecord, values: Record<string, string>): Fragment {
  return html`<fieldset><legend>What the policy grants</legend>
${
  org.projects.length
    ? choice(
        values,
        'project',
        'Project',
        org.projects.map((project) => [project, project]),
      )
    : html`<p class="error">This org has no projects yet; create one on the org's overview first.</p>`
}
${choice(values, 'scope', 'Scope of the issued token', SCOPE_CHOICES)}
${field(values, 'max_ttl', 'Longest token life, in seconds (optional)', 'Never longer than the server’s CI token life either.', {
  numeric: true,
})}
</fieldset>`;
}

const commonFields = (values: Record<string, string>) => html`${field(
  values,
  'id',
  'Policy id',
  'Lowercase letters, digits and dashes, e.g. deploy-main.',
  { required: true },
)}
${field(values, 'description', 'Description (optional)')}`;

function githubFields(values: Record<string, string>): Fragment {
  return html`<fieldset><legend>Which GitHub Actions jobs</legend>
<p>Names can be taken over: a repository or an account that is renamed or deleted frees its name, and whoever re-creates it
gets a <strong>new id</strong>. So the policy pins the immutable numeric ids, which the job's token carries as claims.
Find them with <code>gh api repos/OWNER/REPO --jq '.id, .owner.id'</code>.</p>
${field(values, 'repository', 'Repository', 'owner/repo as in the token’s repository claim; * matches within a segment.', {
  required: true,
  placeholder: 'octo-org/octo-repo',
})}
${field(
  values,
  'repository_owner_id',
  'Repository owner id (repository_owner_id)',
  'Required: the immutable id of the user or organization that owns the repository. A re-created account of the same name gets another id and is not trusted.',
  { required: true, numeric: true },
)}
${field(
  values,
  'repository_id',
  'Repository id (repository_id)',
  'Required when the repository has no wildcard: a deleted and re-created repository of that name gets another id and is not trusted.',
  { numeric: true },
)}
</fieldset>
<fieldset><legend>Other conditions (optional; * and ** allowed)</legend>
${field(values, 'ref', 'Ref (ref)', '', { placeholder: 'refs/heads/main' })}
${field(values, 'environment', 'Environment (environment)', '', { placeholder: 'production' })}
${field(values, 'event_name', 'Event (event_name)', '', { placeholder: 'push' })}
${field(values, 'job_workflow_ref', 'Workflow (job_workflow_ref)', '', {
  placeholder: 'octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main',
})}
${field(values, 'sub', 'Subject (sub)', 'Its shape changes with environments and pull requests; prefer the claims above.')}
${field(
  values,
  'issuer',
  'Issuer (GitHub Enterprise Server only)',
  html`Leave empty for GitHub.com (<code>${GITHUB_ACTIONS_ISSUER}</code>).`,
)}
</fieldset>`;
}

function gitlabFields(values: Record<string, string>): Fragment {
  return html`<fieldset><legend>Which GitLab CI jobs</legend>
<p>Paths can be taken over: a group or project that is renamed or deleted frees its path, and whoever re-creates it gets
a <strong>new id</strong>. So the policy pins the immutable numeric ids, which the job's token carries as claims (the
project's and its group's page show them, or <code>GET /api/v4/projects/:path</code>).</p>
${field(values, 'project_path', 'Project path (project_path)', 'group/project; * matches within a segment.', {
  required: true,
  placeholder: 'my-group/my-project',
})}
${field(
  values,
  'namespace_id',
  'Namespace id (namespace_id)',
  'Required: the immutable id of the group or user the project belongs to. A re-created group of the same path gets another id and is not trusted.',
  { required: true, numeric: true },
)}
${field(
  values,
  'project_id',
  'Project id (project_id)',
  'Required when the path has no wildcard: a deleted and re-created project of that path gets another id and is not trusted.',
  { numeric: true },
)}
</fieldset>
<fieldset><legend>Other conditions (optional)</legend>
${field(values, 'ref', 'Ref (ref)', 'The branch or tag name.', { placeholder: 'main' })}
${choice(values, 'ref_type', 'Ref type (ref_type)', [
  ['', 'any'],
  ['branch', 'branch'],
  ['tag', 'tag'],
])}
${choice(values, 'ref_protected', 'Protected ref (ref_protected)', [
  ['', 'any'],
  ['true', 'protected only'],
  ['false', 'unprotected only'],
])}
${field(values, 'environment', 'Environment (environment)', '', { placeholder: 'production' })}
${field(values, 'issuer', 'Issuer (self-managed GitLab only)', html`Leave empty for gitlab.com (<code>${GITLAB_ISSUER}</code>).`)}
</fieldset>`;
}

const JSON_EXAMPLE = `{
  "preset": "github-actions",
  "id": "deploy-main",
  "repository": "octo-org/octo-repo",
  "repository_owner_id": "65",
  "repository_id": "74",
  "ref": "refs/heads/main",
  "grant": { "project": "web", "scopes": ["read", "write"] }
}`;

export function policyFormPage(
  c: Context,
  view: {
    user: ConsoleUser;
    org: OrgRecord;
    preset: FormPreset;
    values: Record<string, string>;
    audience: string;
    error?: string | null;
    status?: Status;
  },
) {
  const { user, org, preset, values } = view;
  const title =
    preset === 'github' ? 'New GitHub Actions policy' : preset === 'gitlab' ? 'New GitLab policy' : 'New trust policy from JSON';
  const fields =
    preset === 'json'
      ? html`<label for="f-policy">Policy (JSON, as <code>POST /v1/orgs/${org.slug}/trust-policies</code> takes it)</label>
<p class="muted" id="h-policy">"audience" may be left out: it can only be the org's own. Presets: github-actions, gitlab, custom.</p>
<textarea id="f-policy" name="policy" rows="14" spellcheck="false" required aria-describedby="h-policy">${values.policy ?? ''}</textarea>
<details><summary>Example</summary><pre><code>${JSON_EXAMPLE}</code></pre></details>`
      : html`${commonFields(values)}${preset === 'github' ? githubFields(values) : gitlabFields(values)}${grantFields(org, values)}`;
  const body = html`<p class="muted">Jobs request their ID token for this org's audience, <code>${view.audience}</code>; the policy uses it.
<a href="${policiesPath(org.slug)}">Back to the policies</a></p>
${view.error ? html`<p class="error" role="alert" id="form-error">${view.error}</p>` : ''}
<form method="post" action="${policiesPath(org.slug)}">${csrfField(user)}<input type="hidden" name="preset" value="${preset}">
${fields}
<button type="submit">Create policy</button>
</form>`;
  return consolePage(c, {
    user,
    title,
    at: { page: 'org', org: org.slug, tab: 'policies' },
    body,
    status: view.status ?? 200,
  });
}

/** A claim's value as the page shows it. */
const claimValue = (value: unknown) =>
  typeof value === 'string' ? value : Array.isArray(value) ? value.map(String).join(' ') : JSON.stringify(value);

type DryRunView = {
  user: ConsoleUser;
  org: OrgRecord;
  policies: TrustPolicyInfo[];
  audience: string;
  result?: DryRunResponse;
  /** The verified token's claims (only when it verified). */
  claims?: Record<string, unknown> | null;
  error?: string | null;
  status?: Status;
};

function verdict(pass: boolean): Fragment {
  return pass ? html`<span class="pass">✓ pass</span>` : html`<span class="fail">✗ fail</span>`;
}

function policyResult(
  entry: DryRunResponse['policies'][number],
  policy: TrustPolicyInfo | undefined,
  claims: Record<string, unknown>,
): Fragment {
  const conditions = policy ? conditionsOf(policy) : [];
  const failedClaims = new Set(entry.failed.map((failure) => failure.claim));
  // A failure that is not one of the listed conditions (an owner id the policy does not pin).
  const extra = entry.failed.filter(
    (failure) => !conditions.some(([claim, expected]) => claim === failure.claim && expected === failure.expected),
  );
  const rows = [
    ...conditions.map(([claim, expected]) => {
      const failure = entry.failed.find((one) => one.claim === claim && one.expected === expected);
      const pass = !failure;
      return html`<tr class="condition" data-claim="${claim}"><td><code>${claim}</code></td><td><code>${expected}</code></td><td>${
        failure
          ? failure.actual === null
            ? html`<em>absent</em>`
            : html`<code>${failure.actual}</code>`
          : Object.hasOwn(claims, claim)
            ? html`<code>${claimValue(claims[claim])}</code>`
            : html`<span class="muted">matches</span>`
      }</td><td>${verdict(pass)}</td></tr>`;
    }),
    ...extra.map(
      (failure) =>
        html`<tr class="condition" data-claim="${failure.claim}"><td><code>${failure.claim}</code></td><td>${failure.expected}</td><td>${
          failure.actual === null ? html`<em>absent</em>` : html`<code>${failure.actual}</code>`
        }</td><td>${verdict(false)}</td></tr>`,
    ),
  ];
  const failedNames = [...failedClaims];
  return html`<section class="policy-result" id="result-${entry.id}" aria-labelledby="result-${entry.id}-h">
<h3 id="result-${entry.id}-h">Policy ${entry.id}: ${
    entry.matched ? html`<span class="pass">matches</span>` : html`<span class="fail">does not match</span>`
  }</h3>
${entry.matched ? '' : html`<p class="failed-conditions">Failed: ${failedNames.join(', ')}</p>`}
<div class="table-wrap"><table>
<thead><tr><th scope="col">Claim</th><th scope="col">Condition</th><th scope="col">Token has</th><th scope="col">Result</th></tr></thead>
<tbody>${rows}</tbody></table></div>
</section>`;
}

function dryRunResult(view: DryRunView): Fragment | string {
  const { result } = view;
  if (!result) return '';
  const token = result.token;
  const decision = result.would_issue
    ? html`<p id="decision" class="notice"><span class="pass">Decision: allowed</span> — policy <strong>${result.would_issue.policy}</strong>
would issue a token for project <strong>${result.would_issue.project}</strong> with scope <code>${result.would_issue.scope}</code>,
for ${result.would_issue.expires_in} s.</p>`
    : html`<p id="decision" class="error"><span class="fail">Decision: refused</span> — ${
        token.verified ? (result.would_refuse ?? 'no policy admits this token') : `the token did not verify: ${token.error ?? ''}`
      }</p>`;
  const claims = view.claims
    ? html`<h2>Verified claims</h2>
<div class="table-wrap"><table id="claims"><thead><tr><th scope="col">Claim</th><th scope="col">Value</th></tr></thead>
<tbody>${Object.entries(view.claims).map(
        ([claim, value]) => html`<tr><th scope="row"><code>${claim}</code></th><td><code>${claimValue(value)}</code></td></tr>`,
      )}</tbody></table></div>`
    : '';
  const byId = new Map(view.policies.map((policy) => [policy.id, policy]));
  return html`<h2>Result</h2>
${decision}
<dl id="token-checks"><dt>Issuer</dt><dd><code>${token.issuer ?? 'none'}</code> ${
    token.trusted_issuer ? html`<span class="pass">trusted</span>` : html`<span class="fail">not trusted</span>`
  }</dd>
<dt>Signature and times</dt><dd>${token.verified ? html`<span class="pass">verified</span>` : html`<span class="fail">not verified</span> ${token.error ?? ''}`}</dd></dl>
${claims}
${
  token.verified
    ? html`<h2>Policies</h2>${
        result.policies.length
          ? result.policies.map((entry) => policyResult(entry, byId.get(entry.id), view.claims ?? {}))
          : html`<p>No policy of this org${view.audience ? ' for that project' : ''} applies to tokens of this issuer.</p>`
      }`
    : ''
}`;
}

export function dryRunPage(c: Context, view: DryRunView) {
  const { user, org } = view;
  const body = html`<p>Paste an ID token from a CI job to see which of this org's trust policies would admit it, condition by condition. Nothing
is exchanged, and the token is not kept or shown again: only its claims are.
<a href="${policiesPath(org.slug)}">Back to the policies</a></p>
${view.error ? html`<p class="error" role="alert" id="form-error">${view.error}</p>` : ''}
<form method="post" action="${policiesPath(org.slug)}/dry-run" autocomplete="off">${csrfField(user)}
<label for="f-subject_token">CI token (subject_token)</label>
<textarea id="f-subject_token" name="subject_token" rows="6" spellcheck="false" required autocomplete="off"></textarea>
${choice({ audience: view.audience }, 'audience', 'Project (audience, optional)', [
  ['', 'any project'],
  ...org.projects.map((project): [string, string] => [project, project]),
])}
<button type="submit">Dry-run</button>
</form>
${dryRunResult(view)}`;
  return consolePage(c, {
    user,
    title: 'Dry-run a CI token',
    at: { page: 'org', org: org.slug, tab: 'policies' },
    body,
    status: view.status ?? 200,
  });
}
