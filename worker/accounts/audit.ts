/**
 * Each org's audit trail: numbered entries, each carrying the hash of the one before
 * (shared/audit.ts). An entry is written create-if-absent under its number, so two
 * appends at once can never both take the same place; the head record only remembers
 * where the end is and is repaired by the next append when a fault left it behind.
 */
import * as z from 'zod';
import { AUDIT_GENESIS, type AuditAction, AuditEntry, type AuditPage, auditEntryHash } from '../../shared/audit.ts';
import { OAuthError } from '../../shared/errors.ts';
import type { Services } from '../services.ts';
import { readRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { orgsWithMember } from './orgs.ts';

/** Who caused an event, and in which request; every audited call takes one. */
export type AuditSource = { actor: string; requestId: string };
export type AuditEvent = { action: AuditAction; subject: string; detail?: string | null };

/** The server acting on its own, e.g. revoking a session whose refresh token was replayed. */
export const SERVER_ACTOR = 'latchkey';

const Head = z.object({ seq: z.number().int().nonnegative(), hash: z.string() });
/** Kept as long as the org (ten years); the store needs some TTL. */
const AUDIT_TTL_SECONDS = 10 * 365 * 86400;
export const AUDIT_PAGE_MAX = 200;

const entryKey = (org: string, seq: number) => storeKey('auditEntry', `${org}:${seq}`);
const headKey = (org: string) => storeKey('auditHead', org);

export async function appendAudit(services: Services, org: string, source: AuditSource, event: AuditEvent): Promise<AuditEntry> {
  const { store, now } = services;
  for (let attempt = 0; attempt < 10; attempt++) {
    const head = await readRecord(store, headKey(org), Head);
    const last = head?.value ?? { seq: 0, hash: AUDIT_GENESIS };
    const unhashed = {
      seq: last.seq + 1,
      time: now(),
      action: event.action,
      actor: source.actor,
      subject: event.subject,
      detail: event.detail ?? null,
      request_id: source.requestId,
      prev: last.hash,
    };
    const entry: AuditEntry = { ...unhashed, hash: await auditEntryHash(unhashed) };
    const placed = await store.swap(entryKey(org, entry.seq), null, JSON.stringify(entry), AUDIT_TTL_SECONDS);
    // Not placed: someone else took this number; move the head past their entry and retry.
    const end = placed ? entry : await readEntry(services, org, entry.seq);
    if (end)
      await store.swap(headKey(org), head?.raw ?? null, JSON.stringify({ seq: end.seq, hash: end.hash }), AUDIT_TTL_SECONDS);
    if (placed) return entry;
  }
  throw new OAuthError('temporarily_unavailable', 'the audit trail kept changing; retry');
}

/**
 * The same event in the trail of every org the person is a member of (sign-ins, sessions):
 * members by the org's own record, never by the index alone, so an org that merely
 * invited someone (or named them in the index some other way) sees nothing of theirs.
 */
export async function appendAuditForPerson(
  services: Services,
  email: string | null,
  source: AuditSource,
  event: AuditEvent,
): Promise<void> {
  if (!email) return;
  const orgs = await orgsWithMember(services, email);
  await Promise.all(orgs.map((org) => appendAudit(services, org, source, event)));
}

async function readEntry(services: Services, org: string, seq: number): Promise<AuditEntry | null> {
  return (await readRecord(services.store, entryKey(org, seq), AuditEntry))?.value ?? null;
}

/** Entries after `after`, at most `limit`, oldest first. */
export async function readAuditPage(services: Services, org: string, after: number, limit: number): Promise<AuditPage> {
  const headSeq = (await readRecord(services.store, headKey(org), Head))?.value.seq ?? 0;
  // The head may trail by one entry if an append was cut off; look one past it.
  const end = Math.min(headSeq + 1, after + limit);
  const seqs = Array.from({ length: Math.max(0, end - after) }, (_, index) => after + 1 + index);
  const found = await Promise.all(seqs.map((seq) => readEntry(services, org, seq)));
  // A missing entry is left out; `audit verify` then sees the gap in the numbering.
  const entries = found.filter((entry): entry is AuditEntry => entry !== null);
  return { org, entries, next_after: end <= headSeq ? end : null };
}

/**
 * The most entries one request reads to check an org's chain: 50 pages of AUDIT_PAGE_MAX,
 * so a console page answers in bounded time however long the trail grew. `latchkey audit
 * verify` reads any length (up to a million entries).
 */
export const AUDIT_WALK_MAX = 10_000;

/**
 * An org's trail from entry 1, a page of AUDIT_PAGE_MAX at a time, as `audit verify` reads
 * it, for shared/audit.ts `verifyAuditChain` to check; at most `max` entries. `complete`
 * false: the trail goes on past them.
 */
export async function readAuditTrail(
  services: Services,
  org: string,
  max: number = AUDIT_WALK_MAX,
): Promise<{ entries: AuditEntry[]; complete: boolean }> {
  const entries: AuditEntry[] = [];
  let after = 0;
  while (after < max) {
    const page = await readAuditPage(services, org, after, Math.min(AUDIT_PAGE_MAX, max - after));
    entries.push(...page.entries);
    if (page.next_after === null) return { entries, complete: true };
    after = page.next_after;
  }
  return { entries, complete: false };
}

/** Where an org's trail ends as its head record says (0: empty); the end may be one entry further. */
export async function readAuditHeadSeq(services: Services, org: string): Promise<number> {
  return (await readRecord(services.store, headKey(org), Head))?.value.seq ?? 0;
}
