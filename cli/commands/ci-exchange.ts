/**
 * `latchkey ci exchange`: the CI job's OIDC ID token for a short-lived latchkey token
 * (RFC 8693). Where the ID token comes from: `--id-token-stdin`; GitHub Actions (asked of
 * the runner with our audience — `<server>/orgs/<org>` with --org or LATCHKEY_ORG, for the
 * org's own policies; else the server URL — which needs `permissions: id-token: write`); GitLab (an
 * `id_tokens:` variable, LATCHKEY_ID_TOKEN unless `--id-token-var` names another). Stores
 * nothing; prints the token (or `--json`, or `--export` lines), and on GitHub masks both
 * tokens in the job log first.
 */
import { BUILTIN_CLIENT_ID } from '../../shared/schemas.ts';
import { orgAudience } from '../../shared/trust-policy.ts';
import { type Command, flag, oneOf, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { printable } from '../printable.ts';
import { shellWord } from '../shell-word.ts';

export type CiExchangeOptions = {
  project: string | undefined;
  scope: string | undefined;
  audience: string | undefined;
  idTokenStdin: boolean;
  idTokenVar: string | undefined;
  export: boolean;
};

type Source = 'stdin' | 'github-actions' | 'gitlab' | 'variable';

export async function ciExchange(deps: CliDeps, global: GlobalOptions, options: CiExchangeOptions): Promise<void> {
  const { env } = deps;
  if (global.json && options.export) throw new CliError('usage', 'choose one of --json and --export');
  const server = global.server ?? env.LATCHKEY_SERVER;
  if (!server) throw new CliError('usage', 'name the latchkey server with --server or LATCHKEY_SERVER');
  // An org's own policies admit only tokens requested for the org's audience.
  const org = global.org ?? env.LATCHKEY_ORG;
  const audience = options.audience ?? env.LATCHKEY_CI_AUDIENCE ?? (org ? orgAudience(server, org) : server.replace(/\/+$/, ''));
  const onGithub = env.GITHUB_ACTIONS === 'true';

  const { idToken, source } = await obtainIdToken(deps, options, audience);
  const client = await deps.client(server, BUILTIN_CLIENT_ID);
  const mask = (secret: string) => {
    // The runner reads workflow commands from stderr too, which keeps stdout for data.
    if (onGithub) deps.io.err(`::add-mask::${secret}\n`);
  };
  mask(idToken);
  const result = await client.exchange(idToken, { project: options.project ?? env.LATCHKEY_PROJECT, scope: options.scope });
  // It goes into a workflow command, an `export` line a shell evaluates and Bearer headers:
  // RFC 6750's b64token or it is not a token (a newline would add a workflow command, a `;` a shell command).
  if (!/^[\w.~+/-]+=*$/.test(result.access_token))
    throw new CliError('server_error', 'the exchange answered with a malformed token');
  mask(result.access_token);

  if (global.json) deps.io.out(`${JSON.stringify({ ...result, source })}\n`);
  else if (options.export) {
    deps.io.out(`export LATCHKEY_TOKEN=${result.access_token}\nexport LATCHKEY_SERVER=${shellWord(client.server)}\n`);
  } else deps.io.out(`${result.access_token}\n`);
  deps.io.err(`exchanged a ${source} ID token: scope "${printable(result.scope)}", valid ${result.expires_in} s\n`);
}

async function obtainIdToken(
  deps: CliDeps,
  options: CiExchangeOptions,
  audience: string,
): Promise<{ idToken: string; source: Source }> {
  const { env } = deps;
  if (options.idTokenStdin) return { idToken: requireJwt((await deps.io.readStdin()).trim(), 'standard input'), source: 'stdin' };
  if (options.idTokenVar) return { idToken: fromVariable(env, options.idTokenVar), source: 'variable' };
  if (env.GITHUB_ACTIONS === 'true') return { idToken: await fromGithub(deps, audience), source: 'github-actions' };
  if (env.GITLAB_CI === 'true') return { idToken: fromVariable(env, 'LATCHKEY_ID_TOKEN'), source: 'gitlab' };
  throw new CliError(
    'usage',
    'not running in GitHub Actions or GitLab CI; pass the ID token with --id-token-stdin or name its variable with --id-token-var',
  );
}

function fromVariable(env: CliDeps['env'], name: string): string {
  const value = env[name]?.trim();
  if (!value) {
    throw new CliError(
      'not_logged_in',
      `${name} is empty; on GitLab declare it under the job's id_tokens: (${name}: { aud: <your latchkey audience> })`,
    );
  }
  return requireJwt(value, name);
}

async function fromGithub(deps: CliDeps, audience: string): Promise<string> {
  const url = deps.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = deps.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !requestToken) {
    throw new CliError('not_logged_in', 'GitHub did not offer this job an ID token; give the job `permissions: id-token: write`');
  }
  const target = new URL(url);
  target.searchParams.set('audience', audience);
  let response: Response;
  try {
    response = await deps.fetch(target, {
      headers: { authorization: `Bearer ${requestToken}`, accept: 'application/json' },
      signal: AbortSignal.timeout(15_000),
    });
  } catch (cause) {
    throw new CliError('unreachable', "cannot reach GitHub's ID-token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)", { cause });
  }
  const body = (await response.json().catch(() => null)) as { value?: unknown } | null;
  if (!response.ok || typeof body?.value !== 'string') {
    throw new CliError('server_error', `GitHub's ID-token endpoint answered HTTP ${response.status} without a token`);
  }
  return requireJwt(body.value, "GitHub's ID-token endpoint");
}

function requireJwt(value: string, from: string): string {
  if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(value)) throw new CliError('usage', `${from} does not hold a JWT`);
  return value;
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
