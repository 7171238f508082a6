/**
 * `latchkey sessions list | revoke SID`: all your sign-ins; with --org, the sessions
 * established for that org (`login --org`), which are all of a member's an org admin can
 * see or end; with --email, an operator's view of anyone's. Revoking ends the session's
 * refresh token at once and its access tokens on their next use.
 */

import { printable } from '../../packages/client/src/printable.ts';
import { type SessionInfo, SessionList, SessionInfo as SessionSchema } from '../../shared/schemas.ts';
import { confirm, openApi, path, printJson, printTable } from '../api.ts';
import { type Command, flag, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { isoTime } from '../rfc3339.ts';

export type SessionsOptions = { member: string | undefined; email?: string | undefined; confirm: boolean };

export async function sessions(
  deps: CliDeps,
  global: GlobalOptions,
  action: string | undefined,
  sid: string | undefined,
  options: SessionsOptions,
) {
  // Members' sessions only when an org is named outright: `sessions list` alone is your own.
  const org = global.org ?? null;
  if (options.member && !org) throw new CliError('usage', '--member needs --org ORG (an org whose sessions you administer)');
  if (options.email && org)
    throw new CliError('usage', '--email (operators) lists a person’s sessions everywhere; leave out --org');
  const api = await openApi(deps, global);
  const base = org ? `/v1/orgs/${path(org)}/sessions` : '/v1/sessions';

  switch (action ?? 'list') {
    case 'list': {
      const query = options.member
        ? `?member=${encodeURIComponent(options.member)}`
        : options.email
          ? `?email=${encodeURIComponent(options.email)}`
          : '';
      const { sessions: list } = await api.call(SessionList, 'GET', `${base}${query}`);
      if (global.json) return printJson(deps, list);
      if (list.length === 0) return deps.io.err('No sessions.\n');
      printTable(
        deps,
        [
          'id',
          ...(org || options.email ? ['who'] : []),
          'device',
          'client',
          'for org',
          'two-step',
          'signed in',
          'last used',
          'state',
        ],
        list.map((session) => [
          `${session.current ? '* ' : ''}${session.id}`,
          ...(org || options.email ? [session.email ?? session.sub] : []),
          device(session),
          session.client_id,
          session.org ?? '-',
          session.mfa_at === null ? 'no' : isoTime(session.mfa_at),
          isoTime(session.created_at),
          isoTime(session.last_used_at),
          session.revoked ? `revoked (${session.revoked})` : 'active',
        ]),
      );
      if (list.some((session) => session.current)) deps.io.err('* the session this command ran under\n');
      return;
    }
    case 'revoke': {
      if (!sid) throw new CliError('usage', 'usage: latchkey sessions revoke SESSION_ID [--org ORG] [--confirm]');
      await confirm(
        deps,
        options.confirm,
        `End session ${sid}${org ? ` (established for ${org})` : ''}? Its tokens stop working at once.`,
      );
      const ended = await api.call(SessionSchema, 'POST', `${base}/${path(sid)}/revoke`);
      if (global.json) return printJson(deps, ended);
      deps.io.err(
        `Ended session ${printable(ended.id)} (${printable(device(ended))}).${ended.current ? ' It was this one: log in again.' : ''}\n`,
      );
      return;
    }
    default:
      throw new CliError('usage', `unknown action "sessions ${action}"; use list or revoke`);
  }
}

const device = (session: SessionInfo) => session.device_name ?? session.user_agent ?? session.address ?? '-';

export const command: Command = {
  usage: ['sessions list [--org ORG [--member EMAIL] | --email EMAIL]', 'sessions revoke SESSION_ID [--org ORG] [--confirm]'],
  help: `\`sessions\` alone lists all your own sign-ins (under a login --org, only those for that
org); with --org, an org admin sees the sessions established for the org (login --org),
never a member's others; an operator (LATCHKEY_OPERATORS), signed in without --org, lists
anyone's with --email and ends any with \`sessions revoke\`. Sessions take an org only from
--org, never LATCHKEY_ORG. Ending a session asks first at a terminal; elsewhere pass --confirm.`,
  options: {
    member: { type: 'string', value: 'EMAIL', description: "with --org: only this member's sessions" },
    email: { type: 'string', value: 'EMAIL', description: "an operator: this person's sessions" },
    confirm: { type: 'boolean', description: 'do it without asking' },
  },
  subcommands: ['list', 'revoke'],
  maxArgs: 2,
  run: (deps, global, parsed) =>
    sessions(deps, global, parsed.args[0], parsed.args[1], {
      member: text(parsed, 'member'),
      email: text(parsed, 'email'),
      confirm: flag(parsed, 'confirm'),
    }),
};
