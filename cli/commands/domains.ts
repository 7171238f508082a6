/**
 * `latchkey domains list | add DOMAIN | verify DOMAIN | remove DOMAIN`: the email domains
 * an org claims, each proven by a DNS TXT record the server looks up. `add` prints the
 * record to publish on stdout (it is the data); what to do next goes to stderr.
 */

import { printable } from '../../packages/client/src/printable.ts';
import { type DomainInfo, DomainList, DomainInfo as DomainSchema } from '../../shared/schemas.ts';
import { chooseOrg, confirm, openApi, path, printJson, printTable } from '../api.ts';
import { type Command, flag } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { isoTime } from '../rfc3339.ts';

export type DomainsOptions = { confirm: boolean };

const USAGE = {
  add: 'usage: latchkey domains add DOMAIN',
  verify: 'usage: latchkey domains verify DOMAIN',
  remove: 'usage: latchkey domains remove DOMAIN [--confirm]',
} as const;

/** The record as one would type it into a DNS provider's form: name, type, value. */
const printRecord = (deps: CliDeps, domain: DomainInfo) =>
  printTable(deps, ['name', 'type', 'value'], [[domain.record.name, domain.record.type, domain.record.value]]);

export async function domains(
  deps: CliDeps,
  global: GlobalOptions,
  action: string | undefined,
  name: string | undefined,
  options: DomainsOptions,
) {
  if (action !== undefined && action !== 'list' && !(action in USAGE)) {
    throw new CliError('usage', `unknown action "domains ${action}"; use list, add, verify or remove`);
  }
  if (action !== undefined && action !== 'list' && !name) throw new CliError('usage', USAGE[action as keyof typeof USAGE]);
  if ((action === undefined || action === 'list') && name) throw new CliError('usage', 'usage: latchkey domains list');
  const api = await openApi(deps, global);
  const org = await chooseOrg(deps, global, api);
  const base = `/v1/orgs/${path(org)}/domains`;
  const one = (suffix: string) => `${base}/${path(name as string)}${suffix}`;

  switch (action ?? 'list') {
    case 'list': {
      const { domains: list } = await api.call(DomainList, 'GET', base);
      if (global.json) return printJson(deps, list);
      if (list.length === 0) return deps.io.err(`No domains in ${org}. Claim one with \`latchkey domains add DOMAIN\`.\n`);
      printTable(
        deps,
        ['domain', 'state', 'verified', 'claimed by', 'txt record'],
        list.map((domain) => [
          domain.domain,
          domain.state,
          isoTime(domain.verified_at),
          domain.claimed_by,
          domain.state === 'pending' ? `${domain.record.name} ${domain.record.value}` : '',
        ]),
      );
      return;
    }
    case 'add': {
      const claimed = await api.call(DomainSchema, 'POST', base, { domain: name });
      if (global.json) return printJson(deps, claimed);
      const shown = printable(claimed.domain);
      if (claimed.state === 'verified') return deps.io.err(`${shown} is already verified for ${org}.\n`);
      deps.io.err(
        `Claimed ${shown} for ${org}. Publish this TXT record in the DNS of ${shown} (the value exactly, quotes or not as your DNS provider asks), then run \`latchkey domains verify ${shown}\`:\n`,
      );
      return printRecord(deps, claimed);
    }
    case 'verify': {
      const verified = await api.call(DomainSchema, 'POST', one('/verify'));
      if (global.json) return printJson(deps, verified);
      return deps.io.err(`Verified ${printable(verified.domain)} for ${org} (${isoTime(verified.verified_at)}).\n`);
    }
    case 'remove': {
      await confirm(
        deps,
        options.confirm,
        `Remove the domain ${name} from ${org}? If it was verified, any org may then verify it.`,
      );
      const removed = await api.call(DomainSchema, 'DELETE', one(''));
      if (global.json) return printJson(deps, removed);
      return deps.io.err(
        `Removed ${printable(removed.domain)} from ${org}; its TXT record ${printable(removed.record.name)} may be deleted.\n`,
      );
    }
  }
}

export const command: Command = {
  usage: ['domains list', 'domains add DOMAIN', 'domains verify DOMAIN', 'domains remove DOMAIN [--confirm]'],
  help: `An org proves it holds an email domain (for its own sign-in, later) with a DNS TXT record.
\`domains add example.com\` claims it and prints the record: a TXT record named
_latchkey-challenge.example.com whose value is latchkey-domain-verification=<token>.
Publish it with your DNS provider, then \`domains verify example.com\`: the server looks it
up over DNS-over-HTTPS and marks the domain verified once the exact value is there (a new
record can take a few minutes to be seen). A domain is verified for one org at a time;
removing it frees it for another. Owners and admins only; API keys may list.`,
  options: { confirm: { type: 'boolean', description: 'remove without asking' } },
  subcommands: ['list', 'add', 'verify', 'remove'],
  maxArgs: 2,
  run: (deps, global, parsed) => domains(deps, global, parsed.args[0], parsed.args[1], { confirm: flag(parsed, 'confirm') }),
};
