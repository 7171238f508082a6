/**
 * The audit trail page: the chain's verdict first (the whole trail, whatever the filter),
 * then a GET form filtering by action and actor, the rows newest first, and links to
 * older and newer rows carrying the filter.
 */
import { html } from 'hono/html';
import { AUDIT_ACTIONS, type AuditEntry, type ChainCheck } from '../../../shared/audit.ts';
import type { Fragment } from '../layout.ts';

export type AuditView = {
  org: string;
  /** This page's path, which the links and the form lead back to. */
  path: string;
  query: { limit: number; action: string; actor: string };
  rows: AuditEntry[];
  /** `before` for the next older rows; null when there are none. */
  older: number | null;
  /** `after` for the next newer rows; null when there are none. */
  newer: number | null;
  chain: {
    check: ChainCheck;
    /** False: the trail goes on past the `read` entries one request checks (`cap`). */
    complete: boolean;
    read: number;
    headSeq: number;
    cap: number;
  };
};

/** Milliseconds since the epoch as a UTC date above its time to the second (the column says UTC). */
function at(ms: number): Fragment {
  const iso = new Date(ms).toISOString();
  return html`${iso.slice(0, 10)}<br>${iso.slice(11, 19)}`;
}

export function auditPage(view: AuditView): Fragment {
  return html`${chainVerdict(view)}
${filterForm(view)}
${view.rows.length === 0 ? html`<p id="audit-empty">No entries ${filtered(view) ? 'match this filter here' : 'here'}.</p>` : rowsTable(view.rows)}
${pager(view)}`;
}

const filtered = (view: AuditView) => view.query.action !== '' || view.query.actor !== '';

function chainVerdict({ org, chain }: AuditView): Fragment {
  const { check } = chain;
  if (!check.ok) {
    return html`<section aria-labelledby="chain-title"><h2 id="chain-title">Hash chain</h2>
<p class="error" role="alert" id="audit-break"><span class="fail">Chain broken at entry <span id="audit-break-seq">${check.seq}</span>:</span> ${check.reason}.
Entries from there on cannot be trusted as written; compare with a head you kept (<code>latchkey audit verify --org ${org} --expect-head SEQ:HASH</code>).</p></section>`;
  }
  const head = html`<code id="audit-head">${check.head.hash}</code>`;
  const expect = `${check.head.seq}:${check.head.hash}`;
  const verdict = chain.complete
    ? html`<p role="status"><span class="pass">Chain verified: ${check.entries} ${check.entries === 1 ? 'entry' : 'entries'}</span>, head ${head} (entry ${check.head.seq}).</p>`
    : html`<p role="status"><span class="pass">Chain verified for its first ${check.entries} entries</span>, up to ${head} (entry ${check.head.seq}).</p>
<p class="notice" id="audit-partial">The trail is longer (its head record is at entry ${chain.headSeq}) than the ${chain.cap} entries one page checks.
Verify the whole trail with <code>latchkey audit verify --org ${org}</code>.</p>`;
  return html`<section aria-labelledby="chain-title"><h2 id="chain-title">Hash chain</h2>
${verdict}
<p class="muted">Checked here from entry 1 with the same code as <code>latchkey audit verify</code>, whatever the filter below shows.
A chain cannot show entries cut from its end or rewritten whole; a head kept elsewhere can. Keep this command and run it later:</p>
<p><code id="audit-expect-head">latchkey audit verify --org ${org} --expect-head ${expect}</code>
<button type="button" class="secondary" data-copy="audit-expect-head" aria-label="Copy the verify command" hidden>Copy</button></p></section>`;
}

function filterForm({ path, query }: AuditView): Fragment {
  return html`<form method="get" action="${path}" class="filter" aria-label="Filter the audit trail">
<fieldset><legend>Filter</legend><div class="fields">
<div><label for="audit-action">Action</label>
<select id="audit-action" name="action">
<option value=""${query.action === '' ? html` selected` : ''}>Any action</option>
${AUDIT_ACTIONS.map((action) => html`<option value="${action}"${query.action === action ? html` selected` : ''}>${action}</option>`)}
</select></div>
<div><label for="audit-actor">Actor contains</label>
<input type="search" id="audit-actor" name="actor" value="${query.actor}" maxlength="320" autocomplete="off"></div>
<div><label for="audit-limit">Rows per page</label>
<input type="number" id="audit-limit" name="limit" value="${query.limit}" min="1" max="200"></div>
<div><button type="submit">Show entries</button></div>
</div></fieldset></form>`;
}

function rowsTable(rows: AuditEntry[]): Fragment {
  return html`<p class="muted">Newest first.</p>
<div class="table-wrap" role="region" aria-label="Audit entries" tabindex="0"><table id="audit-rows" class="audit">
<caption class="muted">Audit entries</caption>
<thead><tr><th scope="col">Seq</th><th scope="col">Time (UTC)</th><th scope="col">Action</th><th scope="col">Actor</th><th scope="col">Subject</th><th scope="col">Detail</th><th scope="col">Request id</th></tr></thead>
<tbody>${rows.map(
    (entry) =>
      html`<tr data-seq="${entry.seq}"><td>${entry.seq}</td><td>${at(entry.time)}</td><td>${entry.action}</td><td>${entry.actor}</td><td>${entry.subject}</td><td>${entry.detail ?? ''}</td><td><code>${entry.request_id}</code></td></tr>`,
  )}</tbody>
</table></div>`;
}

function pager(view: AuditView): Fragment {
  const link = (name?: 'after' | 'before', seq?: number) => {
    const params = new URLSearchParams();
    if (view.query.action) params.set('action', view.query.action);
    if (view.query.actor) params.set('actor', view.query.actor);
    params.set('limit', String(view.query.limit));
    if (name) params.set(name, String(seq));
    return `${view.path}?${params}`;
  };
  if (view.newer === null && view.older === null) return html``;
  return html`<nav class="pager" aria-label="Audit pages"><p>
${view.newer !== null ? html`<a id="audit-newer" href="${link('after', view.newer)}">← Newer entries</a>` : ''}
${view.newer !== null ? html`<a id="audit-newest" href="${link()}">Newest</a>` : ''}
${view.older !== null ? html`<a id="audit-older" href="${link('before', view.older)}">Older entries →</a>` : ''}
</p></nav>`;
}
