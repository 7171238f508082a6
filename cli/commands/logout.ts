/**
 * `latchkey logout [CTX]`: revoke at the server first (the refresh token takes its whole
 * session with it), then forget locally. Offline, it still forgets, and says that the
 * session lives on at the server and how to end it from another login. When the current
 * context goes, the one left becomes current (contexts.ts, forgetContext).
 */

import type { Command } from '../command.ts';
import { selectContext } from '../config.ts';
import { boundServer } from '../credential.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { printable } from '../printable.ts';
import type { StoredCredential } from '../secrets/secret-store.ts';
import { openSecretStore } from '../secrets/select.ts';
import { unverifiedClaim } from '../token-text.ts';
import { forgetContext } from './contexts.ts';

/**
 * The session a stored access token belongs to: its `sid` claim, read without checking the
 * signature — only to tell the person what to revoke, never to trust. Null for an API key,
 * a token without one, or a claim that is not a plain id.
 */
export function sessionIdOf(accessToken: string): string | null {
  const sid = unverifiedClaim(accessToken, 'sid');
  return typeof sid === 'string' && /^[\w-]{1,64}$/.test(sid) ? sid : null;
}

/** What is left alive at the server when it was not told, and how to end it later from any other login. */
function stillLive(credential: StoredCredential | null, kind: string): string {
  const sid = credential ? sessionIdOf(credential.access_token) : null;
  if (sid) {
    return `the session ${sid} is still live on the server; end it from any other login with \`latchkey sessions revoke ${sid}\``;
  }
  if (kind === 'api_key')
    return 'the API key still works; revoke it from any other login with `latchkey keys revoke KEY_ID` (`latchkey keys list` shows it)';
  return 'its session is still live on the server; end it from any other login: `latchkey sessions list`, then `latchkey sessions revoke SESSION_ID`';
}

export async function logout(deps: CliDeps, global: GlobalOptions, options: { name: string | undefined }): Promise<void> {
  const config = await deps.config.read();
  const { name, context } = selectContext(config, options.name ?? global.context);
  // The refresh token goes to the server that issued it, and a run naming another is refused.
  boundServer(deps, global, name, context);
  const store = openSecretStore(deps.secrets, context.secretStore);
  let revoked = false;
  let warning: string | null = null;
  const credential = await store.read(name).catch((error: unknown) => {
    const why = error instanceof Error ? error.message : 'unknown error';
    warning = `could not read the stored credential (${why}), so the server was not told: ${stillLive(null, context.kind)}`;
    return null;
  });
  if (credential) {
    const client = await deps.client(context.server, context.clientId);
    try {
      await client.revoke(credential.refresh_token ?? credential.access_token);
      revoked = true;
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      warning = `${error.message}; the server was not told: ${stillLive(credential, context.kind)}`;
    }
  }
  await store.remove(name);
  const next = await forgetContext(deps, name);

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
