/** `latchkey token`: a valid access token on stdout and nothing else, refreshed if need be. */

import { cachedToken, resolveCredential } from '../../packages/client/src/credential.ts';
import { type Command, flag } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';

export async function token(deps: CliDeps, global: GlobalOptions, options: { tokenStdin: boolean }): Promise<void> {
  const quick = options.tokenStdin ? null : await cachedToken(deps, global);
  const resolved = quick ?? (await resolveCredential(deps, global, { ...options, cacheAsked: !options.tokenStdin })).token;
  deps.io.out(`${resolved}\n`);
}

export const command: Command = {
  usage: ['token [--token-stdin]'],
  help: `Prints only the token, on stdout, for scripts: \`curl -H "Authorization: Bearer $(latchkey token)"\`.
In a login session, \`token\` keeps the access token (never the refresh token) in
$XDG_RUNTIME_DIR/latchkey until a minute before it expires, so later runs need neither
the passphrase nor the keychain; LATCHKEY_TOKEN_CACHE=0 turns that off.`,
  options: { 'token-stdin': { type: 'boolean', description: 'use the token on standard input instead of a stored login' } },
  maxArgs: 0,
  run: (deps, global, parsed) => token(deps, global, { tokenStdin: flag(parsed, 'token-stdin') }),
};
