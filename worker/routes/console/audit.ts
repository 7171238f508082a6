/**
 * An org's audit trail in the console: the rows a person asked for (newest first, filtered,
 * paged) and, beside them, the whole chain checked from entry 1 with the same function
 * `latchkey audit verify` runs (shared/audit.ts), whatever the filter shows.
 */
import * as z from 'zod';
import { AUDIT_ACTIONS, type AuditEntry, verifyAuditChain } from '../../../shared/audit.ts';
import { AUDIT_PAGE_MAX, AUDIT_WALK_MAX, readAuditHeadSeq, readAuditPage, readAuditTrail } from '../../accounts/audit.ts';
import { readOrg } from '../../accounts/orgs.ts';
import { orgParam } from '../../http/caller.ts';
import { parseInput } from '../../http/form.ts';
import { auditPage } from '../../pages/console/audit.ts';
import { consolePage, orgPath } from '../../pages/console/layout.ts';
import { authorize } from '../../policy/roles.ts';
import type { Services } from '../../services.ts';
import { consoleSection, pageUser } from './env.ts';

export const auditConsole = consoleSection();

const Seq = z
  .string()
  .regex(/^\d{1,15}$/, 'a whole number')
  .transform(Number);

/** The page's query: every parameter the page's links and filter form send, nothing else. */
const AuditQuery = z
  .strictObject({
    /** Rows newer than this entry (the "Newer" link). */
    after: Seq.optional(),
    /** Rows older than this entry (the "Older" link); neither: the newest rows. */
    before: Seq.optional(),
    limit: z
      .string()
      .regex(/^\d{1,3}$/, 'a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(AUDIT_PAGE_MAX))
      .default(50),
    /** Empty: any action (the select's first option). */
    action: z.union([z.literal(''), z.enum(AUDIT_ACTIONS)]).default(''),
    actor: z.string().max(320).default(''),
    notice: z.string().optional(),
  })
  .refine((query) => query.after === undefined || query.before === undefined, {
    message: 'give after or before, not both',
    path: ['after'],
  });
export type AuditQuery = z.infer<typeof AuditQuery>;

/**
 * How many entries beyond those the chain check read one request may also read looking for
 * rows (only a trail longer than AUDIT_WALK_MAX needs any); a search cut off there links on.
 */
const SCAN_MAX = 2000;

auditConsole.get('/console/orgs/:org/audit', async (c) => {
  const user = pageUser(c);
  const services = c.var.services;
  const org = await readOrg(services, orgParam(c));
  authorize(org, user.principal, 'audit:read');
  const query = parseInput(AuditQuery, c.req.query());

  const trail = await readAuditTrail(services, org.slug, AUDIT_WALK_MAX);
  const check = await verifyAuditChain(trail.entries);
  const headSeq = trail.complete ? (trail.entries.at(-1)?.seq ?? 0) : await readAuditHeadSeq(services, org.slug);
  const reader = entryReader(services, org.slug, trail.entries);
  // Look one past the head record: an append cut off before moving it left one entry there.
  const top = trail.complete ? headSeq : headSeq + 1;
  const matches = (entry: AuditEntry) =>
    (query.action === '' || entry.action === query.action) &&
    (query.actor === '' || entry.actor.toLowerCase().includes(query.actor.toLowerCase()));

  const window =
    query.after !== undefined
      ? await rowsAfter(reader, top, query.after, query.limit, matches)
      : await rowsBefore(reader, top, query.before ?? top + 1, query.limit, matches);

  return consolePage(c, {
    user,
    title: `Audit trail · ${org.slug}`,
    at: { page: 'org', org: org.slug, tab: 'audit' },
    body: auditPage({
      org: org.slug,
      path: orgPath(org.slug, 'audit'),
      query,
      rows: window.rows,
      older: window.older,
      newer: window.newer,
      chain: { check, complete: trail.complete, read: trail.entries.length, headSeq, cap: AUDIT_WALK_MAX },
    }),
  });
});

type Reader = {
  /** Entries lo..hi, oldest first. */
  read: (lo: number, hi: number) => Promise<AuditEntry[]>;
  /** Whether this request read its SCAN_MAX from the store beyond the chain check. */
  spent: () => boolean;
};
type Window = { rows: AuditEntry[]; older: number | null; newer: number | null };

/** Entries lo..hi (oldest first), from what the chain check read where it reaches, else from the store. */
function entryReader(services: Services, org: string, walked: readonly AuditEntry[]): Reader {
  const known = new Map(walked.map((entry) => [entry.seq, entry]));
  const walkedTo = walked.length === 0 ? 0 : Math.max(...known.keys());
  let fetched = 0;
  const read = async (lo: number, hi: number) => {
    const out: AuditEntry[] = [];
    for (let seq = lo; seq <= Math.min(hi, walkedTo); seq++) {
      const entry = known.get(seq);
      if (entry) out.push(entry);
    }
    for (let after = Math.max(lo - 1, walkedTo); after < hi; after += AUDIT_PAGE_MAX) {
      const limit = Math.min(AUDIT_PAGE_MAX, hi - after);
      const page = await readAuditPage(services, org, after, limit);
      fetched += limit;
      out.push(...page.entries);
      if (page.next_after === null) break;
    }
    return out;
  };
  return { read, spent: () => fetched >= SCAN_MAX };
}

/**
 * Up to `want` matching entries from `from` going down (newest first), and where a search
 * for more should go on: null when entry 1 was reached.
 */
async function scanDown(reader: Reader, from: number, want: number, matches: (entry: AuditEntry) => boolean) {
  const found: AuditEntry[] = [];
  for (let hi = from; hi >= 1; ) {
    if (reader.spent()) return { found, stoppedAt: hi + 1 };
    const lo = Math.max(1, hi - AUDIT_PAGE_MAX + 1);
    const chunk = (await reader.read(lo, hi)).filter(matches).reverse();
    for (const entry of chunk) {
      found.push(entry);
      if (found.length === want) return { found, stoppedAt: entry.seq };
    }
    hi = lo - 1;
  }
  return { found, stoppedAt: null };
}

/** Up to `want` matching entries from `from` going up to `top` (oldest first), and where a search for more goes on. */
async function scanUp(reader: Reader, from: number, top: number, want: number, matches: (entry: AuditEntry) => boolean) {
  const found: AuditEntry[] = [];
  for (let lo = from; lo <= top; ) {
    if (reader.spent()) return { found, stoppedAt: lo - 1 };
    const hi = Math.min(top, lo + AUDIT_PAGE_MAX - 1);
    const chunk = (await reader.read(lo, hi)).filter(matches);
    for (const entry of chunk) {
      found.push(entry);
      if (found.length === want) return { found, stoppedAt: entry.seq };
    }
    lo = hi + 1;
  }
  return { found, stoppedAt: null };
}

/** The newest `limit` matching rows older than `before`; links to older and newer rows when there are any. */
async function rowsBefore(reader: Reader, top: number, before: number, limit: number, matches: (entry: AuditEntry) => boolean) {
  const down = await scanDown(reader, Math.min(before - 1, top), limit + 1, matches);
  const rows = down.found.slice(0, limit);
  const last = rows.at(-1);
  const older = down.found.length > limit ? (last?.seq ?? null) : down.stoppedAt;
  const newestShown = rows[0]?.seq ?? Math.max(0, Math.min(before - 1, top));
  const up = await scanUp(reader, newestShown + 1, top, 1, matches);
  const newer = up.found.length > 0 || up.stoppedAt !== null ? newestShown : null;
  return { rows, older, newer } satisfies Window;
}

/** The oldest `limit` matching rows newer than `after`, shown newest first; links as above. */
async function rowsAfter(reader: Reader, top: number, after: number, limit: number, matches: (entry: AuditEntry) => boolean) {
  const up = await scanUp(reader, after + 1, top, limit + 1, matches);
  const rows = up.found.slice(0, limit);
  const newest = rows.at(-1);
  const newer = up.found.length > limit ? (newest?.seq ?? null) : up.stoppedAt;
  const oldestShown = rows[0]?.seq ?? Math.min(after, top) + 1;
  const down = await scanDown(reader, Math.min(oldestShown - 1, top), 1, matches);
  const older = down.found.length > 0 || down.stoppedAt !== null ? oldestShown : null;
  return { rows: rows.reverse(), older, newer } satisfies Window;
}
