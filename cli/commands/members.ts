/** `latchkey members list | set EMAIL ROLE | remove EMAIL`, in --org (or your one org). */
import { Org, ROLES } from '../../shared/schemas.ts';
import { chooseOrg, confirm, openApi, path, printJson, printTable } from '../api.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { printable } from '../printable.ts';

/** A member table, as `members list` and `orgs show` print it. */
export const printMembers = (deps: CliDeps, members: Org['members']) =>
  printTable(
    deps,
    ['member', 'role'],
    members.map((member) => [member.email, member.role]),
  );

export async function members(deps: CliDeps, global: GlobalOptions, args: string[], options: { confirm: boolean }) {
  const [action, email, role] = args;
  const api = await openApi(deps, global);
  const org = await chooseOrg(deps, global, api);
  const base = `/v1/orgs/${path(org)}/members`;
  const done = (updated: Org, message: string) =>
    global.json ? printJson(deps, updated.members) : deps.io.err(`${printable(message)}\n`);
  switch (action ?? 'list') {
    case 'list': {
      const { members: list } = await api.call(Org, 'GET', `/v1/orgs/${path(org)}`);
      if (global.json) return printJson(deps, list);
      return printMembers(deps, list);
    }
    case 'set': {
      if (!email || !role || !(ROLES as readonly string[]).includes(role)) {
        throw new CliError('usage', `usage: latchkey members set EMAIL ${ROLES.join('|')}`);
      }
      return done(await api.call(Org, 'PUT', `${base}/${path(email)}`, { role }), `${email} is now ${role} in ${org}.`);
    }
    case 'remove': {
      if (!email) throw new CliError('usage', 'usage: latchkey members remove EMAIL [--confirm]');
      await confirm(deps, options.confirm, `Remove ${email} from ${org}?`);
      return done(await api.call(Org, 'DELETE', `${base}/${path(email)}`), `Removed ${email} from ${org}.`);
    }
    default:
      throw new CliError('usage', `unknown action "members ${action}"; use list, set or remove`);
  }
}
