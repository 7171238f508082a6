/** `latchkey orgs list | create SLUG [--name NAME] | show [SLUG] | mfa [SLUG] [--require | --allow]`. */

import { printable } from '../../packages/client/src/printable.ts';
import { OrgMfaPolicy } from '../../shared/org-mfa.ts';
import { Org, OrgList } from '../../shared/schemas.ts';
import { chooseOrg, confirm, openApi, path, printJson, printTable } from '../api.ts';
import { type Command, flag, oneOf, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { isoTime } from '../rfc3339.ts';
import { printMembers } from './members.ts';

export async function orgs(
  deps: CliDeps,
  global: GlobalOptions,
  action: string | undefined,
  slug: string | undefined,
  options: { name: string | undefined; required?: boolean | undefined; confirmed?: boolean },
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
          `projects: ${org.projects.length ? printable(org.projects.join(', ')) : '(none)'}\n` +
          `two-step sign-in: ${org.require_mfa ? 'required of every member' : 'not required'}\n`,
      );
      return printMembers(deps, org.members);
    }
    case 'mfa': {
      const org = slug ?? (await chooseOrg(deps, global, api));
      const at = `/v1/orgs/${path(org, 'mfa')}`;
      if (options.required === undefined) {
        const policy = await api.call(OrgMfaPolicy, 'GET', at);
        if (global.json) return printJson(deps, policy);
        return deps.io.out(
          `${printable(policy.org)}: two-step sign-in ${policy.required ? 'required of every member' : 'not required'}\n`,
        );
      }
      if (options.required) {
        await confirm(
          deps,
          options.confirmed === true,
          `Require two-step sign-in in ${org}? Its sessions without a second factor end now, and members without one are refused until they add one.`,
        );
      }
      const policy = await api.call(OrgMfaPolicy, 'PUT', at, { required: options.required });
      if (global.json) return printJson(deps, policy);
      const ended = policy.sessions_ended ?? 0;
      return deps.io.err(
        policy.required
          ? `${printable(policy.org)} now requires two-step sign-in; ${ended} session${ended === 1 ? '' : 's'} without it ended.\n`
          : `${printable(policy.org)} no longer requires two-step sign-in.\n`,
      );
    }
    default:
      throw new CliError('usage', `unknown action "orgs ${action}"; use list, create, show or mfa`);
  }
}

export const command: Command = {
  usage: ['orgs list', 'orgs create SLUG [--name NAME]', 'orgs show [SLUG]', 'orgs mfa [SLUG] [--require [--confirm] | --allow]'],
  help: `orgs mfa shows whether the org requires two-step sign-in of its members. Its owner, signed in
as themselves with a second factor, turns it on with --require (the org's sessions without a
second factor end, and members without one are refused on the org until they add an
authenticator and sign in again; API keys are unaffected) and off with --allow.`,
  options: {
    name: { type: 'string', value: 'NAME', description: "the org's display name (create)" },
    require: { type: 'boolean', description: 'require two-step sign-in of every member (mfa; owner only)' },
    allow: { type: 'boolean', description: 'stop requiring two-step sign-in (mfa; owner only)' },
    confirm: { type: 'boolean', description: 'require it without asking (mfa --require)' },
  },
  subcommands: ['list', 'create', 'show', 'mfa'],
  maxArgs: 2,
  run: (deps, global, parsed) => {
    oneOf(parsed, 'require', 'allow');
    const action = parsed.args[0];
    for (const name of ['require', 'allow', 'confirm'])
      if (flag(parsed, name) && action !== 'mfa') throw new CliError('usage', `--${name} goes with \`orgs mfa\` only`);
    const required = flag(parsed, 'require') ? true : flag(parsed, 'allow') ? false : undefined;
    return orgs(deps, global, action, parsed.args[1], {
      name: text(parsed, 'name'),
      required,
      confirmed: flag(parsed, 'confirm'),
    });
  },
};
