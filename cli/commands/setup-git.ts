/**
 * `latchkey setup-git [--host HOST]`: makes git ask `latchkey credential-helper` for the
 * context's server host (no --host) or the hosts named, and binds those hosts to the
 * context so the helper answers for them. Like `gh auth setup-git`, it writes the
 * URL-scoped helper list in the global git config (GIT_CONFIG_GLOBAL honoured by git):
 * an empty entry first, which clears helpers configured before for that URL, then ours.
 */

import { selectContext } from '../../packages/client/src/config.ts';
import { isLoopback, listArgument, parseHostArgument, serverHost } from '../bound-hosts.ts';
import { type Command, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { shellWord } from '../shell-word.ts';

type Target = { host: string; protocols: ('http' | 'https')[] };

export async function setupGit(deps: CliDeps, global: GlobalOptions, hosts: string[]): Promise<void> {
  const config = await deps.config.read();
  const { name, context } = selectContext(config, global.context);
  const server = new URL(context.server);
  const own: Target = { host: serverHost(context), protocols: [server.protocol === 'http:' ? 'http' : 'https'] };
  if (own.protocols[0] === 'http' && !isLoopback(own.host) && hosts.length === 0) {
    throw new CliError(
      'usage',
      `${context.server} is plain http; git would send the token in the clear, so latchkey does not answer it`,
    );
  }
  const targets = hosts.length === 0 ? [own] : hosts.map((host) => parseHostArgument('--host', host));

  // Bound before git is told to ask: a helper with no binding answers nothing, never the reverse.
  const added = targets.map((target) => target.host).filter((host) => host !== own.host);
  const bound = [...new Set([...(context.gitHosts ?? []), ...added])];
  const latest = await deps.config.read();
  const current = latest.contexts[name];
  if (!current) throw new CliError('not_logged_in', `context "${name}" was removed meanwhile`);
  if (added.length > 0) {
    await deps.config.write({ ...latest, contexts: { ...latest.contexts, [name]: { ...current, gitHosts: bound } } });
  }

  // Pinned to the context: switching the current one later does not change what a host gets.
  const helper = `!${deps.self.map(shellWord).join(' ')} credential-helper --context ${shellWord(name)}`;
  const urls = targets.flatMap((target) => target.protocols.map((protocol) => `${protocol}://${target.host}`));
  for (const url of urls) {
    const key = `credential.${url}.helper`;
    await git(deps, ['config', '--global', '--replace-all', key, '']);
    await git(deps, ['config', '--global', '--add', key, helper]);
  }
  if (global.json) deps.io.out(`${JSON.stringify({ context: name, urls, git_hosts: bound })}\n`);
  deps.io.err(`git now asks latchkey (context "${name}") for credentials to ${urls.join(', ')}.\n`);
}

async function git(deps: CliDeps, args: string[]): Promise<void> {
  const result = await deps.runProgram('git', args);
  if (result.code !== 0) {
    throw new CliError('failed', `git ${args.slice(0, 3).join(' ')} failed: ${result.stderr.trim() || `exit ${result.code}`}`);
  }
}

export const command: Command = {
  usage: ['setup-git [--host HOST[,HOST…]]'],
  help: `Makes git use latchkey's token for this context's server (or the hosts named) and
binds those hosts to the context: \`latchkey credential-helper\` answers for them and no
other. HOST is host[:port] (https; a loopback host over http too) or http(s)://host[:port];
plain http only to 127.0.0.1, localhost or [::1]. Run it again to add hosts. Writes the
global git config (GIT_CONFIG_GLOBAL, else ~/.gitconfig), like \`gh auth setup-git\`.`,
  options: { host: { type: 'string', value: 'HOST', description: 'a host (or comma-separated hosts) to bind and set up' } },
  maxArgs: 0,
  run: (deps, global, parsed) => {
    const given = text(parsed, 'host');
    const hosts = given === undefined ? [] : listArgument(given);
    if (given !== undefined && hosts.length === 0) throw new CliError('usage', '--host needs a host');
    return setupGit(deps, global, hosts);
  },
};
