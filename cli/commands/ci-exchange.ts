/**
 * `latchkey ci exchange`: the CI job's OIDC ID token for a short-lived latchkey token
 * (RFC 8693). Where the ID token comes from: `--id-token-stdin`; GitHub Actions (asked of
 * the runner with our audience — `<server>/orgs/<org>` with --org or LATCHKEY_ORG, for the
 * org's own policies; else the server URL — which needs `permissions: id-token: write`); GitLab (an
 * `id_tokens:` variable, LATCHKEY_ID_TOKEN unless `--id-token-var` names another). Stores
 * nothing; prints the token (or `--json`, or `--export` lines), and on GitHub masks both
 * tokens in the job log first.
 */
import { exchangeCi } from '../../packages/client/src/ci-exchange.ts';
import { printable } from '../../packages/client/src/printable.ts';
import { orgAudience } from '../../shared/trust-policy.ts';
import { type Command, flag, oneOf, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { shellWord } from '../shell-word.ts';

export type CiExchangeOptions = {
  project: string | undefined;
  scope: string | undefined;
  audience: string | undefined;
  idTokenStdin: boolean;
  idTokenVar: string | undefined;
  export: boolean;
};

export async function ciExchange(deps: CliDeps, global: GlobalOptions, options: CiExchangeOptions): Promise<void> {
  const { env } = deps;
  if (global.json && options.export) throw new CliError('usage', 'choose one of --json and --export');
  const server = global.server ?? env.LATCHKEY_SERVER;
  if (!server) throw new CliError('usage', 'name the latchkey server with --server or LATCHKEY_SERVER');
  // An org's own policies admit only tokens requested for the org's audience.
  const org = global.org ?? env.LATCHKEY_ORG;
  const audience = options.audience ?? env.LATCHKEY_CI_AUDIENCE ?? (org ? orgAudience(server, org) : server.replace(/\/+$/, ''));
  const onGithub = env.GITHUB_ACTIONS === 'true';

  const {
    source,
    server: exchangedAt,
    ...result
  } = await exchangeCi(deps, {
    server,
    audience,
    project: options.project ?? env.LATCHKEY_PROJECT,
    scope: options.scope,
    idTokenStdin: options.idTokenStdin ? () => deps.io.readStdin() : undefined,
    idTokenVar: options.idTokenVar,
    gitlabVariable: 'LATCHKEY_ID_TOKEN',
    // The runner reads workflow commands from stderr too, which keeps stdout for data.
    onSecret: (secret) => {
      if (onGithub) deps.io.err(`::add-mask::${secret}\n`);
    },
  });

  if (global.json) deps.io.out(`${JSON.stringify({ ...result, source })}\n`);
  else if (options.export) {
    deps.io.out(`export LATCHKEY_TOKEN=${result.access_token}\nexport LATCHKEY_SERVER=${shellWord(exchangedAt)}\n`);
  } else deps.io.out(`${result.access_token}\n`);
  deps.io.err(`exchanged a ${source} ID token: scope "${printable(result.scope)}", valid ${result.expires_in} s\n`);
}

export const command: Command = {
  usage: ['ci exchange [--project P] [--scope S] [--audience AUD] [--id-token-stdin | --id-token-var NAME] [--export]'],
  help: `Trades the CI job's OIDC ID token for a short-lived token of --project (or
LATCHKEY_PROJECT), under the server's trust policies; it stores nothing. On GitHub Actions
it asks the runner for an ID token whose audience is --audience (or LATCHKEY_CI_AUDIENCE,
else SERVER/orgs/ORG with --org or LATCHKEY_ORG, as an org's own policies require, else
the server URL); the job needs permissions: id-token: write. On GitLab it reads the
id_tokens variable LATCHKEY_ID_TOKEN (or --id-token-var NAME). Anywhere else, pipe the ID
token in with --id-token-stdin. Prints the token, or --json, or --export lines for eval.`,
  options: {
    scope: { type: 'string', value: 'S', description: 'the scopes to ask for, space-separated' },
    audience: { type: 'string', value: 'AUD', description: 'the ID token audience to ask the runner for' },
    'id-token-stdin': { type: 'boolean', description: 'read the CI ID token from standard input' },
    'id-token-var': { type: 'string', value: 'NAME', description: 'the variable holding the ID token (GitLab)' },
    export: { type: 'boolean', description: 'print `export LATCHKEY_TOKEN=…` lines for eval' },
  },
  subcommands: ['exchange'],
  maxArgs: 1,
  run: (deps, global, parsed) => {
    if (parsed.args[0] !== 'exchange') throw new CliError('usage', 'usage: latchkey ci exchange; see latchkey help ci');
    oneOf(parsed, 'id-token-stdin', 'id-token-var');
    return ciExchange(deps, global, {
      project: global.project,
      scope: text(parsed, 'scope'),
      audience: text(parsed, 'audience'),
      idTokenStdin: flag(parsed, 'id-token-stdin'),
      idTokenVar: text(parsed, 'id-token-var'),
      export: flag(parsed, 'export'),
    });
  },
};
