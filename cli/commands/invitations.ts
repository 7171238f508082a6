/**
 * `latchkey invitations list | accept ID | decline ID`: the invitations made for the email
 * you are signed in as. Accepting makes you a member of the org with the invited role;
 * nothing of yours reaches an org before that.
 */

import { printable } from '../../packages/client/src/printable.ts';
import { Invitation, InvitationList } from '../../shared/schemas.ts';
import { openApi, path, printJson, printTable } from '../api.ts';
import type { Command } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { isoTime } from '../rfc3339.ts';

/** An invitation table, as `invitations list` and `members invitations` print it. */
export const printInvitations = (deps: CliDeps, list: Invitation[], who: 'org' | 'email') =>
  printTable(
    deps,
    ['id', who, 'role', 'invited by', 'expires'],
    list.map((item) => [
      item.id,
      who === 'org' ? `${item.org} (${item.org_name})` : item.email,
      item.role,
      item.invited_by,
      isoTime(item.expires_at),
    ]),
  );

export async function invitations(deps: CliDeps, global: GlobalOptions, action: string | undefined, id: string | undefined) {
  const api = await openApi(deps, global);
  switch (action ?? 'list') {
    case 'list': {
      const { invitations: list } = await api.call(InvitationList, 'GET', '/v1/invitations');
      if (global.json) return printJson(deps, list);
      if (list.length === 0) return deps.io.err('No pending invitations for you.\n');
      printInvitations(deps, list, 'org');
      return deps.io.err('Accept one with `latchkey invitations accept ID`, or decline it.\n');
    }
    case 'accept':
    case 'decline': {
      if (!id) throw new CliError('usage', `usage: latchkey invitations ${action} INVITATION_ID`);
      const answered = await api.call(Invitation, 'POST', `/v1/invitations/${path(id)}/${action}`);
      if (global.json) return printJson(deps, answered);
      const org = `${printable(answered.org)} (${printable(answered.org_name)})`;
      return deps.io.err(
        action === 'accept' ? `You joined ${org} as ${answered.role}.\n` : `Declined the invitation to ${org}.\n`,
      );
    }
    default:
      throw new CliError('usage', `unknown action "invitations ${action}"; use list, accept or decline`);
  }
}

export const command: Command = {
  usage: ['invitations list', 'invitations accept INVITATION_ID', 'invitations decline INVITATION_ID'],
  help: `Invitations made for the email you sign in as; they take no org. People join an org only
by accepting an invitation made for their email.`,
  options: {},
  subcommands: ['list', 'accept', 'decline'],
  maxArgs: 2,
  run: (deps, global, parsed) => invitations(deps, global, parsed.args[0], parsed.args[1]),
};
