/** `latchkey orgs list | create SLUG [--name NAME] | show [SLUG]`. */

import { printable } from '../../packages/client/src/printable.ts';
import { Org, OrgList } from '../../shared/schemas.ts';
import { chooseOrg, openApi, path, printJson, printTable } from '../api.ts';
import { type Command, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { isoTime } from '../rfc3339.ts';
import { printMembers } from './members.ts';

export async function orgs(
  deps: CliDeps,
  global: GlobalOptions,
  action: string | undefined,
  slug: string | undefined,
  options: { name: string | undefined },
) {
  const api = await openApi(deps, global);
  switch (action ?? 'list') {
    case 'list': {
      const { orgs: list } = await api.call(OrgList, 'GET', '/v1/orgs');
      if (global.json) return printJson(deps, list);
      if (list.length === 0) return deps.io.err('You are in no org. Create one with `latchkey orgs create SLUG`.\n');
      return printTable(
        deps,
        ['org', 'name', 'your role'],
        list.map((org) => [org.slug, org.name, org.role]),
      );
    }
    case 'create': {
      if (!slug) throw new CliError('usage', 'usage: latchkey orgs create SLUG [--name "Display name"]');
      const org = await api.call(Org, 'POST', '/v1/orgs', { slug, ...(options.name ? { name: options.name } : {}) });
      if (global.json) return printJson(deps, org);
      return deps.io.err(`Created org ${printable(org.slug)}; you are its owner.\n`);
    }
    case 'show': {
      const org = await api.call(Org, 'GET', `/v1/orgs/${path(slug ?? (await chooseOrg(deps, global, api)))}`);
      if (global.json) return printJson(deps, org);
      deps.io.out(
        `${printable(org.slug)} (${printable(org.name)}), created ${isoTime(org.created_at)} by ${printable(org.created_by)}\n` +
          `projects: ${org.projects.length ? printable(org.projects.join(', ')) : '(none)'}\n`,
      );
      return printMembers(deps, org.members);
    }
    default:
      throw new CliError('usage', `unknown action "orgs ${action}"; use list, create or show`);
  }
}

export const command: Command = {
  usage: ['orgs list', 'orgs create SLUG [--name NAME]', 'orgs show [SLUG]'],
  options: { name: { type: 'string', value: 'NAME', description: "the org's display name (create)" } },
  subcommands: ['list', 'create', 'show'],
  maxArgs: 2,
  run: (deps, global, parsed) => orgs(deps, global, parsed.args[0], parsed.args[1], { name: text(parsed, 'name') }),
};
