/**
 * Which credential this invocation uses, and why: `--token-stdin` > `LATCHKEY_TOKEN` >
 * the context's stored secret. A stored access token about to expire (within 60 s) is
 * refreshed under a cross-process lock.
 */
import { type Context, selectContext } from './config.ts';
import type { CliDeps, GlobalOptions } from './deps.ts';
import { CliError } from './errors.ts';
import { withLock } from './lock.ts';
import type { StoredCredential } from './secrets/secret-store.ts';
import { openSecretStore } from './secrets/select.ts';

export const REFRESH_MARGIN_SECONDS = 60;

export type Resolved = {
  source: 'token-stdin' | 'env' | 'stored';
  token: string;
  contextName: string | null;
  context: Context | null;
  server: string | null;
};

export async function resolveCredential(
  deps: CliDeps,
  global: GlobalOptions,
  options: { tokenStdin: boolean },
): Promise<Resolved> {
  const config = await deps.config.read();
  const selected = global.context || config.current ? safeSelect(config, global.context) : null;
  const server = global.server ?? deps.env.LATCHKEY_SERVER ?? selected?.context.server ?? null;
  const base = { contextName: selected?.name ?? null, context: selected?.context ?? null, server };

  if (options.tokenStdin) {
    const token = (await deps.io.readStdin()).trim();
    if (!token) throw new CliError('usage', '--token-stdin read nothing from standard input');
    return { ...base, source: 'token-stdin', token };
  }
  if (deps.env.LATCHKEY_TOKEN) return { ...base, source: 'env', token: deps.env.LATCHKEY_TOKEN.trim() };
  if (!selected) selectContext(config, global.context); // throws the "not logged in" message
  const { name, context } = selected as { name: string; context: Context };
  return { ...base, source: 'stored', token: await validStoredToken(deps, name, context) };
}

function safeSelect(config: Parameters<typeof selectContext>[0], requested: string | undefined) {
  try {
    return selectContext(config, requested);
  } catch (error) {
    if (requested) throw error;
    return null;
  }
}

const fresh = (credential: StoredCredential, nowSeconds: number, margin: number) =>
  credential.expires_at === null || credential.expires_at - nowSeconds > margin;

/** The stored access token, refreshed first when it expires within a minute. */
export async function validStoredToken(deps: CliDeps, name: string, context: Context): Promise<string> {
  const store = openSecretStore(deps.secrets, context.secretStore);
  const seen = await store.read(name);
  if (!seen)
    throw new CliError('not_logged_in', `no stored credential for context "${name}"; run \`latchkey login --name ${name}\``);
  const nowSeconds = () => Math.floor(deps.now() / 1000);
  if (fresh(seen, nowSeconds(), REFRESH_MARGIN_SECONDS)) return seen.access_token;
  if (!seen.refresh_token) throw new CliError('session_expired', `the token of context "${name}" expired; log in again`);

  return withLock(deps.config.dir, `refresh-${name}`, async () => {
    // Another process may have refreshed while this one waited for the lock.
    const current = await store.read(name);
    if (!current) throw new CliError('not_logged_in', `context "${name}" was logged out meanwhile`);
    if (current.access_token !== seen.access_token && fresh(current, nowSeconds(), 5)) return current.access_token;
    if (!current.refresh_token) throw new CliError('session_expired', `the token of context "${name}" expired; log in again`);
    const tokens = await (await deps.client(context.server, context.clientId)).refresh(current.refresh_token);
    const next: StoredCredential = {
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token ?? current.refresh_token,
      expires_at: nowSeconds() + tokens.expires_in,
    };
    await store.write(name, next);
    return next.access_token;
  });
}
