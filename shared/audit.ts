/**
 * The audit trail's wire form and its hash chain. The Worker computes each entry's hash
 * when it appends; the CLI recomputes them with this same code, so a stored entry changed
 * after the fact, or one taken out, shows up as the first link that does not hold.
 */
import * as z from 'zod';

export const AUDIT_ACTIONS = [
  'org.created',
  'org.mfa_required',
  'org.mfa_not_required',
  'project.created',
  'member.changed',
  'member.removed',
  'invitation.created',
  'invitation.accepted',
  'invitation.declined',
  'invitation.withdrawn',
  'invitation.resent',
  'session.created',
  'session.revoked',
  'session.reuse_detected',
  'session.stepped_up',
  'key.created',
  'key.rotated',
  'key.revoked',
  'policy.created',
  'policy.deleted',
  'domain.claimed',
  'domain.verified',
  'domain.removed',
  'domain.lost',
  'sso.connection_created',
  'sso.connection_updated',
  'sso.connection_tested',
  'sso.connection_enabled',
  'sso.connection_disabled',
  'sso.connection_enforced',
  'sso.connection_unenforced',
  'sso.connection_removed',
  'member.joined_by_sso',
] as const;
export const AuditAction = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof AuditAction>;

/** The `prev` of the first entry. */
export const AUDIT_GENESIS = '0'.repeat(64);

export const AuditEntry = z.object({
  seq: z.number().int().positive(),
  /** Milliseconds since the epoch. */
  time: z.number().int(),
  action: AuditAction,
  /** Who did it: an email, an API key id, or `latchkey` for the server itself. */
  actor: z.string(),
  /** What it was done to: an email, a key id, a session id, a project or policy. */
  subject: z.string(),
  detail: z.string().nullable(),
  request_id: z.string(),
  /** The hash of the entry before this one (AUDIT_GENESIS for the first). */
  prev: z.string().regex(/^[0-9a-f]{64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditPage = z.object({
  org: z.string(),
  entries: z.array(AuditEntry),
  /** Pass as `after` for the next page; null when this page reached the end. */
  next_after: z.number().int().nullable(),
});
export type AuditPage = z.infer<typeof AuditPage>;

/**
 * SHA-256 (hex) over every field but `hash`, in a fixed order. An array, not an object,
 * so no serializer's key order can change what is hashed.
 */
export async function auditEntryHash(entry: Omit<AuditEntry, 'hash'>): Promise<string> {
  const canonical = JSON.stringify([
    entry.seq,
    entry.time,
    entry.action,
    entry.actor,
    entry.subject,
    entry.detail,
    entry.request_id,
    entry.prev,
  ]);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export type ChainCheck =
  | { ok: true; entries: number; head: { seq: number; hash: string } }
  | { ok: false; seq: number; reason: string };

/**
 * Checks entries given in order from seq 1: numbering without gaps, each `prev` equal to
 * the hash before it, each `hash` equal to the hash of its content. Reports the first
 * link that fails.
 */
export async function verifyAuditChain(entries: readonly AuditEntry[]): Promise<ChainCheck> {
  let prev = AUDIT_GENESIS;
  for (const [index, entry] of entries.entries()) {
    const expected = index + 1;
    if (entry.seq !== expected) {
      return { ok: false, seq: expected, reason: `entry ${expected} is missing (found ${entry.seq} in its place)` };
    }
    if (entry.prev !== prev) {
      return {
        ok: false,
        seq: entry.seq,
        reason: `entry ${entry.seq} does not follow entry ${entry.seq - 1} (prev hash differs)`,
      };
    }
    if ((await auditEntryHash(entry)) !== entry.hash) {
      return {
        ok: false,
        seq: entry.seq,
        reason: `entry ${entry.seq} was changed after it was written (its hash does not match)`,
      };
    }
    prev = entry.hash;
  }
  const last = entries.at(-1);
  return { ok: true, entries: entries.length, head: { seq: last?.seq ?? 0, hash: last?.hash ?? AUDIT_GENESIS } };
}
