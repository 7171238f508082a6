/**
 * `latchkey audit list | verify`: an org's audit trail. `verify` reads the whole trail and
 * recomputes the hash chain here, with the same code the server wrote it with
 * (shared/audit.ts), so it trusts nothing the server says about its own integrity.
 */
import { type AuditEntry, AuditPage, verifyAuditChain } from '../../shared/audit.ts';
import { chooseOrg, isoTime, openApi, path, printJson, printTable } from '../api.ts';
import { type Command, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';

/** The server's largest page. */
const PAGE = 200;

export async function audit(
  deps: CliDeps,
  global: GlobalOptions,
  action: string | undefined,
  options: { after: string | undefined; limit: string | undefined },
) {
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
      if (global.json) return printJson(deps, { entries, next_after });
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
      for (let after: number | null = 0; after !== null; ) {
        const next: AuditPage = await page(after, PAGE);
        entries.push(...next.entries);
        if (next.next_after !== null && next.next_after <= after)
          throw new CliError('server_error', 'the audit trail did not page forward');
        after = next.next_after;
      }
      const check = await verifyAuditChain(entries);
      if (global.json) printJson(deps, { org, ...check });
      if (!check.ok) {
        throw new CliError('verification_failed', `audit trail of ${org} is broken at entry ${check.seq}: ${check.reason}`);
      }
      if (!global.json) {
        deps.io.out(
          `Audit trail of ${org}: ${check.entries} entries, every link holds.\nhead: ${check.head.seq} ${check.head.hash}\n`,
        );
        deps.io.err('Note the head elsewhere: a chain cannot show entries cut from its end, a head you kept can.\n');
      }
      return;
    }
    default:
      throw new CliError('usage', `unknown action "audit ${action}"; use list or verify`);
  }
}

export const command: Command = {
  usage: ['audit list [--after SEQ] [--limit N]', 'audit verify'],
  help: "`audit verify` reads an org's whole trail and recomputes its hash chain locally.",
  options: {
    after: { type: 'string', value: 'SEQ', description: 'list events after this sequence number' },
    limit: { type: 'string', value: 'N', description: 'list at most N events' },
  },
  subcommands: ['list', 'verify'],
  maxArgs: 1,
  run: (deps, global, parsed) =>
    audit(deps, global, parsed.args[0], { after: text(parsed, 'after'), limit: text(parsed, 'limit') }),
};
