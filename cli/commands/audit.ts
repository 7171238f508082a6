/**
 * `latchkey audit list | verify`: an org's audit trail. `verify` reads the whole trail and
 * recomputes the hash chain here, with the same code the server wrote it with
 * (shared/audit.ts), so it trusts nothing the server says about its own integrity.
 */

import { AUDIT_GENESIS, type AuditEntry, AuditPage, verifyAuditChain } from '../../shared/audit.ts';
import { chooseOrg, openApi, path, printJson, printTable } from '../api.ts';
import { type Command, oneOf, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError, EXIT_CODES } from '../errors.ts';
import { isoTime, rfc3339 } from '../rfc3339.ts';

/** The server's largest page. */
const PAGE = 200;
/**
 * The most pages `audit verify` reads: a million entries, far beyond any org's trail, and
 * a bound on the time and memory a server that never names the last page can take.
 */
export const MAX_VERIFY_PAGES = 5000;

export async function audit(
  deps: CliDeps,
  global: GlobalOptions,
  action: string | undefined,
  options: {
    after: string | undefined;
    limit: string | undefined;
    expectHead: string | undefined;
    expectHeadFile: string | undefined;
  },
) {
  // Read before any request: a kept head that cannot be read is a usage error, not a verdict.
  const kept =
    options.expectHeadFile !== undefined
      ? keptHead(await deps.io.readFile(options.expectHeadFile), options.expectHeadFile)
      : options.expectHead !== undefined
        ? keptHead(options.expectHead, '--expect-head')
        : null;
  if (kept && action !== 'verify') throw new CliError('usage', '--expect-head and --expect-head-file go with `audit verify`');
  const api = await openApi(deps, global);
  const org = await chooseOrg(deps, global, api);
  const count = (flag: string, text: string | undefined, fallback: number) => {
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text)) throw new CliError('usage', `${flag} takes a whole number`);
    return Number(text);
  };
  const page = (after: number, limit: number) =>
    api.call(AuditPage, 'GET', `/v1/orgs/${path(org)}/audit?after=${after}&limit=${limit}`);

  switch (action ?? 'list') {
    case 'list': {
      const limit = count('--limit', options.limit, 50);
      if (limit < 1 || limit > PAGE) throw new CliError('usage', `--limit takes 1 to ${PAGE}`);
      const { entries, next_after } = await page(count('--after', options.after, 0), limit);
      // Milliseconds in the chain, seconds in RFC 3339 here: `audit verify` hashes the stored entries, not these.
      if (global.json)
        return printJson(deps, { entries: entries.map((entry) => ({ ...entry, time: rfc3339(entry.time / 1000) })), next_after });
      if (entries.length === 0) return deps.io.err(`No audit entries in ${org} after that.\n`);
      printTable(
        deps,
        ['seq', 'time', 'action', 'actor', 'subject', 'detail'],
        entries.map((entry) => [
          String(entry.seq),
          isoTime(Math.floor(entry.time / 1000)),
          entry.action,
          entry.actor,
          entry.subject,
          entry.detail ?? '',
        ]),
      );
      if (next_after !== null) deps.io.err(`More: latchkey audit list --org ${org} --after ${next_after}\n`);
      return;
    }
    case 'verify': {
      const entries: AuditEntry[] = [];
      let pages = 0;
      for (let after: number | null = 0; after !== null; ) {
        if (++pages > MAX_VERIFY_PAGES) {
          throw new CliError(
            'server_error',
            `the audit trail of ${org} did not end within ${MAX_VERIFY_PAGES} pages (${entries.length} entries); ` +
              'latchkey audit verify reads no more than that',
          );
        }
        const next: AuditPage = await page(after, PAGE);
        entries.push(...next.entries);
        // Each page must bring entries and move the cursor: a server that does neither keeps a reader asking forever.
        if (next.next_after !== null && (next.next_after <= after || next.entries.length === 0)) {
          throw new CliError(
            'server_error',
            `the audit trail did not page forward: after entry ${after} the server answered ` +
              `${next.entries.length === 0 ? 'no entries' : `${next.entries.length} entries`} and a next page after ${next.next_after}`,
          );
        }
        after = next.next_after;
      }
      const check = await verifyAuditChain(entries);
      if (!check.ok) {
        const message = `audit trail of ${org} is broken at entry ${check.seq}: ${check.reason}`;
        return failedVerification(deps, global, { org, ...check }, message);
      }
      const head = `${check.head.seq}:${check.head.hash}`;
      const rewritten = kept ? keptHeadMissing(entries, kept) : null;
      if (rewritten !== null) {
        const message =
          `audit trail of ${org} was rewritten since its head was kept: ${rewritten}. Its head is now ${head}; ` +
          'keep that only once you know why the trail changed';
        const report = { org, ok: false, entries: check.entries, head: check.head, kept_head: kept, reason: rewritten };
        return failedVerification(deps, global, report, message);
      }
      if (global.json) return printJson(deps, { org, ...check, ...(kept ? { kept_head: kept } : {}) });
      deps.io.out(
        `Audit trail of ${org}: ${check.entries} entries, every link holds.\nhead: ${check.head.seq} ${check.head.hash}\n`,
      );
      if (kept)
        deps.io.err(
          `The head you kept (${kept.seq === null ? 'by its hash' : `entry ${kept.seq}`}) is in the trail where it was: nothing up to it was changed.\n`,
        );
      deps.io.err(
        'Keep this head elsewhere: a chain cannot show entries cut from its end or rewritten whole, a head you kept can.\n' +
          `Next time: latchkey audit verify --org ${org} --expect-head ${head}\n`,
      );
      return;
    }
    default:
      throw new CliError('usage', `unknown action "audit ${action}"; use list or verify`);
  }
}

/**
 * A verdict, not a failure to get one: under --json the report itself (with the `error`
 * every --json failure has) is the one document on stdout; exit 7 either way.
 */
function failedVerification(deps: CliDeps, global: GlobalOptions, report: object, message: string): number {
  if (!global.json) throw new CliError('verification_failed', message);
  printJson(deps, { ...report, error: { code: 'verification_failed', message } });
  deps.io.err(`latchkey: ${message}\n`);
  return EXIT_CODES.verification_failed;
}

/** A head kept from an earlier verify; `seq` null for a bare hash, found at whatever entry holds it. */
type KeptHead = { seq: number | null; hash: string };

/**
 * A head as `audit verify` prints it and people keep it: `SEQ:HASH`, the `head: SEQ HASH`
 * line, the `--json` output (its `head`), or a bare hash (found at whatever entry holds it).
 */
function keptHead(text: string, from: string): KeptHead {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: { head?: { seq?: unknown; hash?: unknown } } | null = null;
    try {
      parsed = JSON.parse(trimmed);
    } catch {}
    const head = parsed?.head;
    if (Number.isSafeInteger(head?.seq) && typeof head?.hash === 'string' && /^[0-9a-f]{64}$/.test(head.hash)) {
      return { seq: head.seq as number, hash: head.hash };
    }
  }
  const paired = /(?:^|\s)(\d{1,15})[ :]([0-9a-f]{64})(?:\s|$)/.exec(trimmed);
  if (paired) return { seq: Number(paired[1]), hash: paired[2] as string };
  if (/^[0-9a-f]{64}$/.test(trimmed)) return { seq: null, hash: trimmed };
  throw new CliError('usage', `${from} holds no audit head (SEQ:HASH, as \`latchkey audit verify\` prints it)`);
}

/** Why the kept head is not in the (verified) chain where it was; null when it is. */
function keptHeadMissing(entries: readonly AuditEntry[], kept: KeptHead): string | null {
  if (kept.seq === null) {
    return kept.hash === AUDIT_GENESIS || entries.some((entry) => entry.hash === kept.hash)
      ? null
      : `no entry has the kept hash ${kept.hash.slice(0, 12)}…`;
  }
  if (kept.seq === 0) return kept.hash === AUDIT_GENESIS ? null : 'the kept head of an empty trail is not the genesis hash';
  const entry = entries[kept.seq - 1];
  if (!entry) return `it has ${entries.length} entries, the kept head was entry ${kept.seq} (entries were cut from its end)`;
  if (entry.hash !== kept.hash)
    return `entry ${kept.seq} is ${entry.hash.slice(0, 12)}…, the kept head was ${kept.hash.slice(0, 12)}…`;
  return null;
}

export const command: Command = {
  usage: ['audit list [--after SEQ] [--limit N]', 'audit verify [--expect-head SEQ:HASH | --expect-head-file F]'],
  help: `\`audit verify\` reads an org's whole trail, recomputes its hash chain locally and prints its
head (sequence and hash). Keep the head elsewhere; next time pass it with --expect-head (or
a file holding it, even the saved --json output, with --expect-head-file) and verify also
fails (exit 7) if the trail no longer holds that entry there: rewritten or cut since.`,
  options: {
    after: { type: 'string', value: 'SEQ', description: 'list events after this sequence number' },
    limit: { type: 'string', value: 'N', description: 'list at most N events' },
    'expect-head': { type: 'string', value: 'SEQ:HASH', description: 'verify: a head kept from an earlier verify' },
    'expect-head-file': { type: 'string', value: 'F', description: 'verify: a file holding a kept head' },
  },
  subcommands: ['list', 'verify'],
  maxArgs: 1,
  run: (deps, global, parsed) => {
    oneOf(parsed, 'expect-head', 'expect-head-file');
    return audit(deps, global, parsed.args[0], {
      after: text(parsed, 'after'),
      limit: text(parsed, 'limit'),
      expectHead: text(parsed, 'expect-head'),
      expectHeadFile: text(parsed, 'expect-head-file'),
    });
  },
};
