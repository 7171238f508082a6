/**
 * `latchkey logout [CTX]`: revoke at the server first (the refresh token takes its whole
 * session with it), then forget locally. Offline, it still forgets, and says that the
 * session lives on at the server and how to end it from another login. When the current
 * context goes, the one left becomes current (contexts.ts, forgetContext).
 */

import { logout as logOut } from '../../packages/client/src/logout.ts';
import { printable } from '../../packages/client/src/printable.ts';
import type { Command } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';

export async function logout(deps: CliDeps, global: GlobalOptions, options: { name: string | undefined }): Promise<void> {
  const { name, context, revoked, warning, next } = await logOut(deps, global, options.name);
  if (warning) deps.io.err(`warning: ${printable(warning)}\n`);
  if (global.json) deps.io.out(`${JSON.stringify({ context: name, revoked, removed: true })}\n`);
  deps.io.err(`Logged out of ${context.server} (context "${name}" removed).\n`);
  deps.io.err(next);
}

export const command: Command = {
  usage: ['logout [CTX]'],
  help: `Revokes the session at the server (the refresh token ends its whole session), then forgets the context locally.
Offline it still forgets, and names the session left live and the \`latchkey sessions revoke SESSION_ID\` that ends it
from any other login. When the current context goes, the one left becomes current; with several left, none does.`,
  options: {},
  maxArgs: 1,
  run: (deps, global, parsed) => logout(deps, global, { name: parsed.args[0] }),
};
