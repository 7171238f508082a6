/** `latchkey token`: a valid access token on stdout and nothing else, refreshed if need be. */
import { resolveCredential } from '../credential.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';

export async function token(deps: CliDeps, global: GlobalOptions, options: { tokenStdin: boolean }): Promise<void> {
  const resolved = await resolveCredential(deps, global, options);
  deps.io.out(`${resolved.token}\n`);
}
