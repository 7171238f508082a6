/** The hash chain the Worker writes and `latchkey audit verify` checks (shared/audit.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUDIT_GENESIS, type AuditEntry, auditEntryHash, verifyAuditChain } from '../../shared/audit.ts';

async function chain(length: number): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let prev = AUDIT_GENESIS;
  for (let seq = 1; seq <= length; seq++) {
    const unhashed = {
      seq,
      time: 1_790_000_000_000 + seq,
      action: 'member.changed' as const,
      actor: 'owner@example.com',
      subject: `m${seq}@example.com`,
      detail: seq % 2 ? null : 'added as member',
      request_id: `req_${seq}`,
      prev,
    };
    const entry = { ...unhashed, hash: await auditEntryHash(unhashed) };
    entries.push(entry);
    prev = entry.hash;
  }
  return entries;
}

test('an intact chain verifies and reports its head; an empty one is intact', async () => {
  const entries = await chain(5);
  assert.deepEqual(await verifyAuditChain(entries), { ok: true, entries: 5, head: { seq: 5, hash: entries[4]?.hash } });
  assert.deepEqual(await verifyAuditChain([]), { ok: true, entries: 0, head: { seq: 0, hash: AUDIT_GENESIS } });
});

test('every field is covered: changing any one breaks that entry', async () => {
  for (const field of ['time', 'action', 'actor', 'subject', 'detail', 'request_id'] as const) {
    const entries = await chain(4);
    const changed = { ...(entries[1] as AuditEntry), [field]: field === 'time' ? 1 : field === 'action' ? 'key.created' : 'x' };
    entries[1] = changed as AuditEntry;
    const check = await verifyAuditChain(entries);
    assert.deepEqual([check.ok, !check.ok && check.seq], [false, 2], field);
  }
});

test('a removed entry, a re-hashed forgery and a reordering are each caught at the first bad link', async () => {
  const removed = await chain(5);
  removed.splice(2, 1);
  assert.match(JSON.stringify(await verifyAuditChain(removed)), /"seq":3,"reason":"entry 3 is missing/);

  const forged = await chain(5);
  const { hash: _old, ...unhashed } = { ...(forged[2] as AuditEntry), actor: 'mallory@example.com' };
  forged[2] = { ...unhashed, hash: await auditEntryHash(unhashed) };
  assert.match(JSON.stringify(await verifyAuditChain(forged)), /"seq":4,"reason":"entry 4 does not follow entry 3/);

  const swapped = await chain(3);
  [swapped[0], swapped[1]] = [swapped[1] as AuditEntry, swapped[0] as AuditEntry];
  assert.equal((await verifyAuditChain(swapped)).ok, false);
});
