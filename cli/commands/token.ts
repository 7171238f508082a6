/** `latchkey token`: a valid access token on stdout and nothing else, refreshed if need be. */
import { cachedToken, resolveCredential } from '../credential.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';

export async function token(deps: CliDeps, global: GlobalOptions, options: { tokenStdin: boolean }): Promise<void> {
  const quick = options.tokenStdin ? null : await cachedToken(deps, global);
  const resolved = quick ?? (await resolveCredential(deps, global, { ...options, cacheAsked: !options.tokenStdin })).token;
  deps.io.out(`${resolved}\n`);
}
