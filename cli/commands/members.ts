/**
 * `latchkey members list | invite EMAIL | invitations | resend ID | withdraw ID | set EMAIL
 * ROLE | remove EMAIL`, in --org (or your one org). People join only by accepting an invitation
 * (`latchkey invitations accept`); `set` changes the role of an existing member.
 */

import { printable } from '../../packages/client/src/printable.ts';
import { Invitation, InvitationList, Org, ROLES } from '../../shared/schemas.ts';
import { chooseOrg, confirm, openApi, path, printJson, printTable } from '../api.ts';
import { type Command, flag, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { durationFlag, untilText } from '../durations.ts';
import { CliError } from '../errors.ts';
import { isoTime } from '../rfc3339.ts';
import { printInvitations } from './invitations.ts';

export type MembersOptions = { confirm: boolean; role: string | undefined; expires: string | undefined };

/** A member table, as `members list` and `orgs show` print it. */
export const printMembers = (deps: CliDeps, members: Org['members']) =>
  printTable(
    deps,
    ['member', 'role'],
    members.map((member) => [member.email, member.role]),
  );

export async function members(deps: CliDeps, global: GlobalOptions, args: string[], options: MembersOptions) {
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
    case 'invite': {
      if (!email || role)
        throw new CliError('usage', `usage: latchkey members invite EMAIL [--role ${ROLES.join('|')}] [--expires 7d]`);
      if (options.role && !(ROLES as readonly string[]).includes(options.role))
        throw new CliError('usage', `--role takes ${ROLES.join(', ')}`);
      const expires = options.expires === undefined ? undefined : durationFlag('--expires', options.expires);
      const body = { email, role: options.role ?? 'member', ...(expires ? { expires_in: expires } : {}) };
      const invited = await api.call(Invitation, 'POST', `/v1/orgs/${path(org)}/invitations`, body);
      if (global.json) return printJson(deps, invited);
      return deps.io.err(
        `Invited ${printable(invited.email)} to ${printable(org)} as ${invited.role} (invitation ${printable(invited.id)}, ` +
          `expires ${isoTime(invited.expires_at)}, ${untilText(invited.expires_at, deps.now())}).\nThey join when they accept, signed in as that email: ` +
          `latchkey invitations accept ${printable(invited.id)}\n`,
      );
    }
    case 'invitations': {
      const { invitations: list } = await api.call(InvitationList, 'GET', `/v1/orgs/${path(org)}/invitations`);
      if (global.json) return printJson(deps, list);
      if (list.length === 0) return deps.io.err(`No pending invitations in ${printable(org)}.\n`);
      return printInvitations(deps, list, 'email');
    }
    case 'resend': {
      if (!email) throw new CliError('usage', 'usage: latchkey members resend INVITATION_ID');
      const resent = await api.call(Invitation, 'POST', `/v1/orgs/${path(org)}/invitations/${path(email)}/resend`);
      if (global.json) return printJson(deps, resent);
      return deps.io.err(
        `Sent the invitation of ${printable(resent.email)} to ${printable(org)} again: it now expires ${isoTime(resent.expires_at)} (${untilText(resent.expires_at, deps.now())}).\n`,
      );
    }
    case 'withdraw': {
      if (!email) throw new CliError('usage', 'usage: latchkey members withdraw INVITATION_ID');
      const withdrawn = await api.call(Invitation, 'DELETE', `/v1/orgs/${path(org)}/invitations/${path(email)}`);
      if (global.json) return printJson(deps, withdrawn);
      return deps.io.err(`Withdrew the invitation of ${printable(withdrawn.email)} to ${printable(org)}.\n`);
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
      throw new CliError(
        'usage',
        `unknown action "members ${action}"; use list, invite, invitations, resend, withdraw, set or remove`,
      );
  }
}

export const command: Command = {
  usage: [
    'members list',
    'members set EMAIL member|admin|owner',
    'members remove EMAIL [--confirm]',
    'members invite EMAIL [--role ROLE] [--expires 7d]',
    'members invitations',
    'members resend INVITATION_ID',
    'members withdraw INVITATION_ID',
  ],
  help: `\`members set\` changes the role of an existing member; people join only by accepting an
invitation made for the email they sign in as. Removing a member asks first at a terminal;
elsewhere pass --confirm. \`members resend\` gives a pending invitation (or one expired within
the last week) a new expiry, seven days from now.`,
  options: {
    role: { type: 'string', value: 'ROLE', description: 'the role an invitation gives', choices: ['member', 'admin', 'owner'] },
    expires: { type: 'string', value: 'DURATION', description: 'how long an invitation stays open (e.g. 7d)' },
    confirm: { type: 'boolean', description: 'do it without asking' },
  },
  subcommands: ['list', 'set', 'remove', 'invite', 'invitations', 'resend', 'withdraw'],
  maxArgs: 3,
  run: (deps, global, parsed) =>
    members(deps, global, parsed.args, {
      confirm: flag(parsed, 'confirm'),
      role: text(parsed, 'role'),
      expires: text(parsed, 'expires'),
    }),
};
