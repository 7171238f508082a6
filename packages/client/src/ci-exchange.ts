/**
 * The CI exchange (RFC 8693): a CI job's OIDC ID token for a short-lived latchkey token.
 * Where the ID token comes from: one handed in (a CLI's stdin); a named variable; GitHub
 * Actions, asked of the runner with the audience; GitLab, an `id_tokens:` variable. Stores
 * nothing. Both tokens are handed to `onSecret` as soon as they are known, so a runner can
 * mask them before anything is printed.
 */
import type { TokenExchangeResponse } from '../../../shared/schemas.ts';
import type { ClientDeps } from './deps.ts';
import { LatchkeyError } from './errors.ts';
import { productOf } from './product.ts';

export type CiTokenSource = 'stdin' | 'github-actions' | 'gitlab' | 'variable';

export type CiExchangeOptions = {
  server: string;
  /** The ID token's audience (GitHub asks the runner for it). */
  audience: string;
  project?: string | undefined;
  scope?: string | undefined;
  /** The ID token handed in (`stdin`), read when needed. */
  idTokenStdin?: (() => Promise<string>) | undefined;
  /** The variable holding the ID token (`variable`). */
  idTokenVar?: string | undefined;
  /** The variable GitLab's `id_tokens:` fills (default LATCHKEY_ID_TOKEN). */
  gitlabVariable?: string | undefined;
  /** Called with the ID token, then the access token, before either is used further. */
  onSecret?: ((secret: string) => void) | undefined;
};

export type CiExchangeResult = TokenExchangeResponse & { source: CiTokenSource; server: string };

export async function exchangeCi(
  deps: Pick<ClientDeps, 'env' | 'fetch' | 'client' | 'product'>,
  options: CiExchangeOptions,
): Promise<CiExchangeResult> {
  const { idToken, source } = await obtainIdToken(deps, options);
  const client = await deps.client(options.server, productOf(deps).clientId);
  options.onSecret?.(idToken);
  const result = await client.exchange(idToken, { project: options.project, scope: options.scope });
  // It goes into a workflow command, an `export` line a shell evaluates and Bearer headers:
  // RFC 6750's b64token or it is not a token (a newline would add a workflow command, a `;` a shell command).
  if (!/^[\w.~+/-]+=*$/.test(result.access_token))
    throw new LatchkeyError('server_error', 'the exchange answered with a malformed token');
  options.onSecret?.(result.access_token);
  return { ...result, source, server: client.server };
}

async function obtainIdToken(
  deps: Pick<ClientDeps, 'env' | 'fetch'>,
  options: CiExchangeOptions,
): Promise<{ idToken: string; source: CiTokenSource }> {
  const { env } = deps;
  if (options.idTokenStdin)
    return { idToken: requireJwt((await options.idTokenStdin()).trim(), 'standard input'), source: 'stdin' };
  if (options.idTokenVar) return { idToken: fromVariable(env, options.idTokenVar), source: 'variable' };
  if (env.GITHUB_ACTIONS === 'true') return { idToken: await fromGithub(deps, options.audience), source: 'github-actions' };
  if (env.GITLAB_CI === 'true')
    return { idToken: fromVariable(env, options.gitlabVariable ?? 'LATCHKEY_ID_TOKEN'), source: 'gitlab' };
  throw new LatchkeyError(
    'usage',
    'not running in GitHub Actions or GitLab CI; pass the ID token with --id-token-stdin or name its variable with --id-token-var',
  );
}

function fromVariable(env: ClientDeps['env'], name: string): string {
  const value = env[name]?.trim();
  if (!value) {
    throw new LatchkeyError(
      'not_logged_in',
      `${name} is empty; on GitLab declare it under the job's id_tokens: (${name}: { aud: <your latchkey audience> })`,
    );
  }
  return requireJwt(value, name);
}

async function fromGithub(deps: Pick<ClientDeps, 'env' | 'fetch'>, audience: string): Promise<string> {
  const url = deps.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = deps.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !requestToken) {
    throw new LatchkeyError(
      'not_logged_in',
      'GitHub did not offer this job an ID token; give the job `permissions: id-token: write`',
    );
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
    throw new LatchkeyError('unreachable', "cannot reach GitHub's ID-token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)", { cause });
  }
  const body = (await response.json().catch(() => null)) as { value?: unknown } | null;
  if (!response.ok || typeof body?.value !== 'string') {
    throw new LatchkeyError('server_error', `GitHub's ID-token endpoint answered HTTP ${response.status} without a token`);
  }
  return requireJwt(body.value, "GitHub's ID-token endpoint");
}

function requireJwt(value: string, from: string): string {
  if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(value)) throw new LatchkeyError('usage', `${from} does not hold a JWT`);
  return value;
}
