/**
 * `latchkey exec -- COMMAND [ARG...]`: COMMAND runs with the token `latchkey token` would
 * print (same precedence, same cache, same refresh under the lock: resolveCredential) in
 * LATCHKEY_TOKEN and its server in LATCHKEY_SERVER, and latchkey exits as it does, the
 * way a shell reports a command.
 */
import { constants } from 'node:os';
import { resolveCredential } from '../../packages/client/src/credential.ts';
import { printable } from '../../packages/client/src/printable.ts';
import { isVisibleAscii } from '../../packages/client/src/token-text.ts';
import type { Command } from '../command.ts';
import type { ChildEnd } from '../deps.ts';
import { CliError } from '../errors.ts';

/**
 * What latchkey reads from the environment that the child must not inherit: the passphrase
 * that opens the sealed file (and the refresh token in it), and a CI job's ID token, which
 * trades for tokens of its own. Settings (LATCHKEY_CONFIG_DIR, LATCHKEY_ORG, …) pass on.
 */
const WITHHELD = new Set(['LATCHKEY_SECRET_PASSPHRASE', 'LATCHKEY_ID_TOKEN']);

/** latchkey's environment, less what is withheld, with the token and (when one is known) its server. */
export function childEnv(env: Record<string, string | undefined>, token: string, server: string | null): Record<string, string> {
  const child: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !WITHHELD.has(name) && name !== 'LATCHKEY_SERVER') child[name] = value;
  }
  child.LATCHKEY_TOKEN = token;
  // A token passed in with no server named anywhere: the child is not told a wrong one.
  if (server !== null) child.LATCHKEY_SERVER = server;
  return child;
}

/** The child's end as a shell's `$?`: its code, 128+N for signal N, 127 not found, 126 not runnable. */
function exitStatus(file: string, end: ChildEnd, err: (text: string) => void): number {
  if ('code' in end) return end.code;
  if ('signal' in end) return 128 + (constants.signals[end.signal] ?? 0);
  // Printed here, not thrown: the status is the shell's, not one of latchkey's own codes.
  if (end.notStarted === 'ENOENT') {
    err(`latchkey: ${printable(file)}: command not found\n`);
    return 127;
  }
  const why = end.notStarted === 'EACCES' ? 'permission denied' : end.notStarted;
  err(`latchkey: ${printable(file)}: cannot run it (${printable(why)})\n`);
  return 126;
}

export const command: Command = {
  usage: ['exec [--context NAME] -- COMMAND [ARG...]'],
  help: `Runs COMMAND with a valid access token in LATCHKEY_TOKEN and the server's URL in
LATCHKEY_SERVER: the token \`latchkey token\` would print, refreshed the same way.
Everything after COMMAND is its own (\`latchkey exec -- tool --json\`); standard input,
output and error are COMMAND's. latchkey exits with COMMAND's status, 128+N when signal
N ended it, 127 when it is not found and 126 when it cannot be run. SIGTERM and SIGHUP
sent to latchkey are passed on, and SIGINT and SIGQUIT too unless standard input is a
terminal (Ctrl-C reaches COMMAND directly). COMMAND does not see
LATCHKEY_SECRET_PASSPHRASE or LATCHKEY_ID_TOKEN. The token lives as long as any other
(15 minutes by default): a job that outlives it should run \`latchkey token\` itself.
Example: latchkey exec -- sh -c 'curl -H "Authorization: Bearer $LATCHKEY_TOKEN" "$LATCHKEY_SERVER/v1/me"'`,
  options: {},
  maxArgs: Number.POSITIVE_INFINITY,
  verbatim: true,
  run: async (deps, global, parsed) => {
    const [file, ...args] = parsed.args;
    if (file === undefined) throw new CliError('usage', 'name the command to run: latchkey exec -- COMMAND [ARG...]');
    // Standard input is the child's, so the token comes from LATCHKEY_TOKEN or the context, never --token-stdin.
    const { token, server } = await resolveCredential(deps, global, { tokenStdin: false });
    // What the child does with it is put it in a header, as the client does: one line of
    // visible characters. A NUL from a hostile server would also fail the spawn as "cannot run".
    if (!isVisibleAscii(token)) {
      throw new CliError('invalid_credential', 'the token is not one line of visible characters; nothing was run');
    }
    // As a shell answers `""`: no such command (spawn itself would refuse an empty name).
    const end = file === '' ? { notStarted: 'ENOENT' } : await deps.runChild(file, args, childEnv(deps.env, token, server));
    return exitStatus(file, end, deps.io.err);
  },
};
