/** `latchkey contexts list | use | show | remove`: the named logins, metadata only. */

import { type Context, selectContext } from '../../packages/client/src/config.ts';
import { removeContext, useContext } from '../../packages/client/src/contexts.ts';
import { printable } from '../../packages/client/src/printable.ts';
import type { Command } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { rfc3339 } from '../rfc3339.ts';

export async function contexts(deps: CliDeps, global: GlobalOptions, action: string | undefined, target: string | undefined) {
  const { io } = deps;
  const config = await deps.config.read();
  switch (action ?? 'list') {
    case 'list': {
      const rows = Object.entries(config.contexts).map(([name, context]) => ({
        name,
        current: name === config.current,
        server: context.server,
        user: context.user?.email ?? context.user?.sub ?? null,
        secret_store: context.secretStore,
      }));
      if (global.json) return io.out(`${JSON.stringify(rows, null, 2)}\n`);
      if (rows.length === 0) return io.err('No contexts. Run `latchkey login --server URL`.\n');
      for (const row of rows) {
        const cells = [row.name, row.server, row.user ?? '-', row.secret_store].map(printable);
        io.out(`${row.current ? '*' : ' '} ${cells.join('\t')}\n`);
      }
      return;
    }
    case 'use': {
      if (!target) throw new CliError('usage', 'usage: latchkey contexts use NAME');
      await useContext(deps, target);
      if (global.json) return io.out(`${JSON.stringify({ current: target })}\n`);
      return io.err(`Now using context "${target}".\n`);
    }
    case 'show': {
      const { name, context } = selectContext(config, target ?? global.context);
      const view = { name, current: name === config.current, ...contextView(context) };
      if (global.json) return io.out(`${JSON.stringify(view, null, 2)}\n`);
      for (const [key, value] of Object.entries(view)) {
        io.out(`${key}: ${printable(typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value))}\n`);
      }
      return;
    }
    case 'remove': {
      if (!target) throw new CliError('usage', 'usage: latchkey contexts remove NAME (forgets locally; `logout` also revokes)');
      const next = await removeContext(deps, target);
      if (global.json) io.out(`${JSON.stringify({ removed: target })}\n`);
      io.err(`Removed context "${target}" (its token was not revoked; use \`latchkey logout\` for that).\n`);
      return io.err(next);
    }
    default:
      throw new CliError('usage', `unknown action "contexts ${action}"; use list, use, show or remove`);
  }
}

/**
 * A context as --json shows it: config.json's camelCase keys in the CLI's one JSON style
 * (snake_case; `created_at` in RFC 3339 without milliseconds).
 */
export function contextView(context: Context): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(context).map(([key, value]) => {
      const snake = key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
      const when = key === 'createdAt' && typeof value === 'string' ? Date.parse(value) : Number.NaN;
      return [snake, Number.isNaN(when) ? value : rfc3339(when / 1000)];
    }),
  );
}

export const command: Command = {
  usage: ['contexts list', 'contexts use NAME', 'contexts show [NAME]', 'contexts remove NAME'],
  help: 'A context is a named login (server, user, secret store); config.json holds no token. `remove` forgets locally only; `logout` also revokes.',
  options: {},
  subcommands: ['list', 'use', 'show', 'remove'],
  maxArgs: 2,
  run: (deps, global, parsed) => contexts(deps, global, parsed.args[0], parsed.args[1]),
};
