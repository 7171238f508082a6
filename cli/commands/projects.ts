/** `latchkey projects list | create SLUG`, in --org (or the one org you are in). */

import { printable } from '../../packages/client/src/printable.ts';
import { Org } from '../../shared/schemas.ts';
import { chooseOrg, openApi, path, printJson } from '../api.ts';
import type { Command } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';

export async function projects(deps: CliDeps, global: GlobalOptions, action: string | undefined, slug: string | undefined) {
  const api = await openApi(deps, global);
  const org = await chooseOrg(deps, global, api);
  switch (action ?? 'list') {
    case 'list': {
      const { projects: list } = await api.call(Org, 'GET', `/v1/orgs/${path(org)}`);
      if (global.json) return printJson(deps, list);
      if (list.length === 0) return deps.io.err(`No projects in ${org}.\n`);
      return deps.io.out(`${list.map(printable).join('\n')}\n`);
    }
    case 'create': {
      if (!slug) throw new CliError('usage', 'usage: latchkey projects create SLUG [--org ORG]');
      const updated = await api.call(Org, 'POST', `/v1/orgs/${path(org)}/projects`, { slug });
      if (global.json) return printJson(deps, { org, project: slug, projects: updated.projects });
      return deps.io.err(`Created project ${org}/${slug}.\n`);
    }
    default:
      throw new CliError('usage', `unknown action "projects ${action}"; use list or create`);
  }
}

export const command: Command = {
  usage: ['projects list', 'projects create SLUG'],
  options: {},
  subcommands: ['list', 'create'],
  maxArgs: 2,
  run: (deps, global, parsed) => projects(deps, global, parsed.args[0], parsed.args[1]),
};
