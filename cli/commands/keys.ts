/**
 * `latchkey keys create | list | revoke ID | rotate ID`: an org's API keys. The secret is
 * printed once, at creation or rotation, on stdout; everything else goes to stderr.
 */

import { printable } from '../../packages/client/src/printable.ts';
import { ApiKeyCreated, ApiKeyInfo, ApiKeyList, ROLES } from '../../shared/schemas.ts';
import { chooseOrg, confirm, openApi, path, printJson, printTable } from '../api.ts';
import { type Command, flag, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { durationFlag, spokenDuration, untilText } from '../durations.ts';
import { CliError } from '../errors.ts';
import { isoTime } from '../rfc3339.ts';

export type KeysOptions = {
  name: string | undefined;
  role: string | undefined;
  project: string | undefined;
  expires: string | undefined;
  grace: string | undefined;
  confirm: boolean;
};

export async function keys(
  deps: CliDeps,
  global: GlobalOptions,
  action: string | undefined,
  id: string | undefined,
  options: KeysOptions,
) {
  const api = await openApi(deps, global);
  const org = await chooseOrg(deps, global, api);
  const base = `/v1/orgs/${path(org)}/keys`;
  const show = (created: ApiKeyCreated, what: string) => {
    if (global.json) return printJson(deps, created);
    deps.io.err(
      `${what} ${printable(created.id)} "${printable(created.name)}" in ${org}${created.project ? `/${printable(created.project)}` : ''}, role ${created.role}, ` +
        `expires ${isoTime(created.expires_at)} (${untilText(created.expires_at, deps.now())}).\nThe secret is shown only now; store it somewhere safe:\n`,
    );
    deps.io.out(`${created.key}\n`);
  };

  switch (action) {
    case 'create': {
      if (!options.name)
        throw new CliError(
          'usage',
          'usage: latchkey keys create --name NAME [--role member|admin|owner] [--project P] [--expires 90d]',
        );
      if (options.role && !(ROLES as readonly string[]).includes(options.role)) {
        throw new CliError('usage', `--role takes ${ROLES.join(', ')}`);
      }
      const expires = options.expires === undefined ? undefined : durationFlag('--expires', options.expires);
      const body = {
        name: options.name,
        ...(options.role ? { role: options.role } : {}),
        ...(options.project ? { project: options.project } : {}),
        ...(expires ? { expires_in: expires } : {}),
      };
      return show(await api.call(ApiKeyCreated, 'POST', base, body), 'Created key');
    }
    case 'list': {
      const { keys: list } = await api.call(ApiKeyList, 'GET', base);
      if (global.json) return printJson(deps, list);
      if (list.length === 0) return deps.io.err(`No API keys in ${org}. Create one with \`latchkey keys create --name NAME\`.\n`);
      const now = deps.now() / 1000;
      const state = (key: ApiKeyInfo) => (key.revoked_at ? 'revoked' : key.expires_at <= now ? 'expired' : 'active');
      printTable(
        deps,
        ['id', 'name', 'project', 'role', 'state', 'expires', 'last used', 'created by'],
        list.map((key) => [
          key.id,
          key.name,
          key.project ?? '(org)',
          key.role,
          state(key),
          isoTime(key.expires_at),
          isoTime(key.last_used_at),
          key.created_by,
        ]),
      );
      return;
    }
    case 'revoke': {
      if (!id) throw new CliError('usage', 'usage: latchkey keys revoke KEY_ID [--confirm]');
      await confirm(deps, options.confirm, `Revoke API key ${id} in ${org}? Anything using it stops working at once.`);
      const revoked = await api.call(ApiKeyInfo, 'POST', `${base}/${path(id)}/revoke`);
      if (global.json) return printJson(deps, revoked);
      return deps.io.err(`Revoked key ${printable(revoked.id)} "${printable(revoked.name)}".\n`);
    }
    case 'rotate': {
      if (!id) throw new CliError('usage', 'usage: latchkey keys rotate KEY_ID [--grace 1h] [--confirm]');
      // 0 needs no unit: "at once" is the same in every one.
      const grace = options.grace === undefined || options.grace.trim() === '0' ? 0 : durationFlag('--grace', options.grace);
      const when = grace === 0 ? 'at once' : `in ${spokenDuration(grace)}`;
      await confirm(deps, options.confirm, `Rotate API key ${id} in ${org}? The old secret stops working ${when}.`);
      return show(
        await api.call(ApiKeyCreated, 'POST', `${base}/${path(id)}/rotate`, { grace_seconds: grace }),
        `Rotated ${id}; new key`,
      );
    }
    default:
      throw new CliError('usage', `unknown action "keys ${action ?? ''}"; use create, list, revoke or rotate`);
  }
}

export const command: Command = {
  usage: [
    'keys create --name NAME [--role ROLE] [--project P] [--expires 90d]',
    'keys list',
    'keys revoke KEY_ID [--confirm]',
    'keys rotate KEY_ID [--grace 1h] [--confirm]',
  ],
  help: `A key's secret is printed once, on stdout, when it is created or rotated. Revoking a key
asks first at a terminal; elsewhere pass --confirm.`,
  options: {
    name: { type: 'string', value: 'NAME', description: "the key's name (create)" },
    role: { type: 'string', value: 'ROLE', description: "the key's role (create)", choices: ['member', 'admin', 'owner'] },
    expires: { type: 'string', value: 'DURATION', description: 'how long the key lives: 90d, 12h, 15m or 30s' },
    grace: {
      type: 'string',
      value: 'DURATION',
      description: 'how long the old secret keeps working after a rotation (e.g. 1h, or 0)',
    },
    confirm: { type: 'boolean', description: 'do it without asking' },
  },
  subcommands: ['create', 'list', 'revoke', 'rotate'],
  maxArgs: 2,
  run: (deps, global, parsed) =>
    keys(deps, global, parsed.args[0], parsed.args[1], {
      name: text(parsed, 'name'),
      role: text(parsed, 'role'),
      project: global.project,
      expires: text(parsed, 'expires'),
      grace: text(parsed, 'grace'),
      confirm: flag(parsed, 'confirm'),
    }),
};
