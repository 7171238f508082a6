/**
 * `latchkey docker-credential get|store|erase|list`, also run as `docker-credential-latchkey
 * ACTION` through a symlink of that name (main.ts): the docker-credential-helpers protocol.
 * `get` reads a registry's server URL on stdin and prints {ServerURL, Username, Secret}
 * for a registry the person bound (`setup-docker --registry`); for any other, the
 * protocol's "credentials not found in native keychain" and exit 1, as the spec's own
 * helpers answer, so Docker goes on without credentials. `list` names the bound
 * registries; `store` and `erase` do nothing: latchkey keeps its token itself.
 */

import { printable } from '../../packages/client/src/printable.ts';
import { boundContext, boundToken, isBound, normalHost } from '../bound-hosts.ts';
import type { Command } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { HELPER_USERNAME } from './credential-helper.ts';

/** The spec's words for an unknown server (credentials.ErrCredentialsNotFound); Docker matches them exactly. */
export const NOT_FOUND = 'credentials not found in native keychain';

/**
 * The registry a server URL names as Docker passes it (`https://index.docker.io/v1/`,
 * `registry.example:5000`): its host, and the scheme only when one is written; null if
 * none. `http://` is answered for loopback alone, as git's helper answers it.
 */
export function registryHost(serverUrl: string): { protocol: 'http' | 'https'; host: string } | null {
  const scheme = serverUrl.trim().match(/^(https?):\/\//i);
  const protocol = scheme?.[1]?.toLowerCase() === 'http' ? 'http' : 'https';
  const rest = serverUrl.trim().slice(scheme?.[0].length ?? 0);
  const host = normalHost(protocol, rest.split('/')[0] as string);
  return host === null ? null : { protocol, host };
}

async function get(deps: CliDeps, global: GlobalOptions): Promise<number> {
  const serverUrl = (await deps.io.readStdin()).trim();
  const registry = registryHost(serverUrl);
  const selected = await boundContext(deps, global);
  if (
    registry === null ||
    selected === null ||
    !isBound(selected.context.dockerRegistries ?? [], registry.protocol, registry.host)
  ) {
    deps.io.out(`${NOT_FOUND}\n`);
    return 1;
  }
  const token = await boundToken(deps, selected.name, selected.context);
  deps.io.out(`${JSON.stringify({ ServerURL: serverUrl, Username: HELPER_USERNAME, Secret: token })}\n`);
  return 0;
}

async function list(deps: CliDeps, global: GlobalOptions): Promise<number> {
  const registries = (await boundContext(deps, global))?.context.dockerRegistries ?? [];
  deps.io.out(`${JSON.stringify(Object.fromEntries(registries.map((registry) => [registry, HELPER_USERNAME])))}\n`);
  return 0;
}

export async function dockerCredential(deps: CliDeps, global: GlobalOptions, action: string): Promise<number> {
  try {
    if (action === 'get') return await get(deps, global);
    if (action === 'list') return await list(deps, global);
    // Docker writes the credentials (store) or the URL (erase) on stdin; read, kept nowhere.
    await deps.io.readStdin();
    return 0;
  } catch (error) {
    // The protocol's errors are one line on stdout and exit 1: Docker shows that line.
    if (!(error instanceof CliError)) throw error;
    deps.io.out(`latchkey: ${printable(error.message)}\n`);
    return 1;
  }
}

export const command: Command = {
  usage: ['docker-credential get|store|erase|list'],
  help: `Docker's credential helper: Docker runs it as docker-credential-latchkey (a symlink to
this binary; \`latchkey setup-docker\` says how), not you. \`get\` answers with the current
context's access token for the registries \`setup-docker --registry\` bound, and with
"${NOT_FOUND}" (exit 1) for any other. \`store\` and \`erase\` do nothing.`,
  options: {},
  subcommands: ['get', 'store', 'erase', 'list'],
  maxArgs: 1,
  run(deps, global, parsed) {
    const [action] = parsed.args;
    if (action === undefined || !['get', 'store', 'erase', 'list'].includes(action)) {
      throw new CliError('usage', 'usage: docker-credential-latchkey get|store|erase|list');
    }
    return dockerCredential(deps, global, action);
  },
};
