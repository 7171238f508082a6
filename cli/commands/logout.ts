/**
 * `latchkey logout [CTX]`: revoke at the server first (the refresh token takes its whole
 * session with it), then forget locally. Offline, it still forgets, and says the server
 * was not told.
 */

import type { Command } from '../command.ts';
import { selectContext } from '../config.ts';
import { boundServer } from '../credential.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { printable } from '../printable.ts';
import { openSecretStore } from '../secrets/select.ts';

export async function logout(deps: CliDeps, global: GlobalOptions, options: { name: string | undefined }): Promise<void> {
  const config = await deps.config.read();
  const { name, context } = selectContext(config, options.name ?? global.context);
  // The refresh token goes to the server that issued it, and a run naming another is refused.
  boundServer(deps, global, name, context);
  const store = openSecretStore(deps.secrets, context.secretStore);
  let revoked = false;
  let warning: string | null = null;
  const credential = await store.read(name).catch((error: unknown) => {
    warning = `could not read the stored credential (${error instanceof Error ? error.message : 'unknown error'}); it was not revoked`;
    return null;
  });
  if (credential) {
    const client = await deps.client(context.server, context.clientId);
    try {
      await client.revoke(credential.refresh_token ?? credential.access_token);
      revoked = true;
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      warning = `${error.message}; the server was not told, the token stays valid until it expires`;
    }
  }
  await store.remove(name);
  const latest = await deps.config.read();
  const { [name]: _removed, ...contexts } = latest.contexts;
  await deps.config.write({ ...latest, contexts, current: latest.current === name ? null : latest.current });

  if (warning) deps.io.err(`warning: ${printable(warning)}\n`);
  if (global.json) deps.io.out(`${JSON.stringify({ context: name, revoked, removed: true })}\n`);
  deps.io.err(`Logged out of ${context.server} (context "${name}" removed).\n`);
}

export const command: Command = {
  usage: ['logout [CTX]'],
  help: 'Revokes the session at the server (the refresh token ends its whole session), then forgets the context locally.',
  options: {},
  maxArgs: 1,
  run: (deps, global, parsed) => logout(deps, global, { name: parsed.args[0] }),
};
