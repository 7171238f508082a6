/**
 * Which credential this invocation uses, and why: `--token-stdin` > `LATCHKEY_TOKEN` >
 * the context's stored secret. A stored access token about to expire (within 60 s) is
 * refreshed under a cross-process lock. A stored credential is bound to the server that
 * issued it: a --server or LATCHKEY_SERVER naming another origin is refused here, for
 * every command, before the secret is even opened. A token the person passes in
 * (--token-stdin, LATCHKEY_TOKEN) goes where they say.
 */
import { type Context, selectContext, writeFileAtomic } from './config.ts';
import type { ClientDeps, Selection } from './deps.ts';
import { LatchkeyError } from './errors.ts';
import { readText } from './host.ts';
import { loginWith, type Product, productOf } from './product.ts';
import type { SecretStore, StoredCredential } from './secrets/secret-store.ts';
import { revokedMarkPath, stampOf } from './token-cache.ts';

export const REFRESH_MARGIN_SECONDS = 60;

export type Resolved = {
  source: 'token-stdin' | 'env' | 'stored';
  token: string;
  contextName: string | null;
  context: Context | null;
  server: string | null;
};

/** The dependencies credential resolution needs; `io` only for --token-stdin. */
type Deps = ClientDeps & { io?: { readStdin(): Promise<string> } };

export async function resolveCredential(
  deps: Deps,
  global: Selection,
  /** `cacheAsked`: the caller asked the session cache already (cachedToken) and got nothing. */
  options: { tokenStdin: boolean; cacheAsked?: boolean },
): Promise<Resolved> {
  const product = productOf(deps);
  const config = await deps.config.read();
  const selected = global.context || config.current ? safeSelect(config, global.context, product) : null;
  const requested = requestedServer(deps, global);
  const server = requested ?? selected?.context.server ?? null;
  const base = { contextName: selected?.name ?? null, context: selected?.context ?? null, server };

  if (options.tokenStdin) {
    if (!deps.io) throw new LatchkeyError('usage', '--token-stdin needs standard input');
    const token = (await deps.io.readStdin()).trim();
    if (!token) throw new LatchkeyError('usage', '--token-stdin read nothing from standard input');
    return { ...base, source: 'token-stdin', token };
  }
  const fromEnv = deps.env[product.env.token];
  if (fromEnv) return { ...base, source: 'env', token: fromEnv.trim() };
  if (!selected) throw noContext(config, global.context, product);
  const { name, context } = selected as { name: string; context: Context };
  const bound = boundServer(deps, global, name, context);
  return { ...base, server: bound, source: 'stored', token: await validStoredToken(deps, name, context, options.cacheAsked) };
}

/** The server this run names: --server, else LATCHKEY_SERVER; undefined when neither does. */
const requestedServer = (deps: ClientDeps, global: Selection) =>
  global.server ?? (deps.env[productOf(deps).env.server] || undefined);

/** Scheme, host and port as URL normalises them (case, default port, trailing slash); null for what is not an http(s) URL. */
export function serverOrigin(server: unknown): string | null {
  if (typeof server !== 'string' || !URL.canParse(server)) return null;
  const url = new URL(server);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
}

/**
 * The server a context's stored credential may go to: the one that issued it. A run
 * naming another (--server, LATCHKEY_SERVER) is refused with `server_mismatch`, whatever
 * the command; the credential is never sent there.
 */
export function boundServer(deps: ClientDeps, global: Selection, name: string, context: Context): string {
  const product = productOf(deps);
  const requested = requestedServer(deps, global);
  if (requested === undefined) return context.server;
  const origin = serverOrigin(requested);
  if (origin === null)
    throw new LatchkeyError('usage', `--server (or ${product.env.server}) must be an http(s) URL: "${requested}"`);
  if (origin === serverOrigin(context.server)) return context.server;
  throw new LatchkeyError(
    'server_mismatch',
    `context "${name}" holds a credential of ${context.server}; ${product.appName} does not send it to ${requested}. ` +
      `Log in there (\`${product.loginCommand} --server ${requested} --name NAME\`) and pick that context, ` +
      `or pass a token for that server in ${product.env.token} or with --token-stdin`,
  );
}

/**
 * Why no context was selected: the "not logged in" of selectContext, or — when contexts
 * exist but none is current (the current one was logged out among several) — which exist
 * and how to pick one.
 */
function noContext(config: Parameters<typeof selectContext>[0], requested: string | undefined, product: Product): LatchkeyError {
  const known = Object.keys(config.contexts);
  if (requested === undefined && config.current === null && known.length > 0) {
    return new LatchkeyError(
      'not_logged_in',
      `no context is current; there ${known.length === 1 ? 'is' : 'are'} ${known.map((name) => `"${name}"`).join(', ')}. ` +
        `Choose one with \`${product.command} contexts use NAME\` (or pass --context NAME)`,
    );
  }
  try {
    selectContext(config, requested, product);
  } catch (error) {
    if (error instanceof LatchkeyError) return error;
    throw error;
  }
  return new LatchkeyError('not_logged_in', `not logged in; run \`${product.loginCommand} --server URL\``);
}

function safeSelect(config: Parameters<typeof selectContext>[0], requested: string | undefined, product: Product) {
  try {
    return selectContext(config, requested, product);
  } catch (error) {
    if (requested) throw error;
    return null;
  }
}

const fresh = (credential: Pick<StoredCredential, 'expires_at'>, nowSeconds: number, margin: number) =>
  credential.expires_at === null || credential.expires_at - nowSeconds > margin;

/**
 * `latchkey token`'s quick answer: the session cache's token for the context this run
 * would use, when no stronger source is given and it is fresh; else null, and the full
 * resolution runs. Of config.json it checks only that the context is there.
 */
export async function cachedToken(deps: ClientDeps, global: Selection): Promise<string | null> {
  const cache = deps.secrets.tokenCache;
  if (!cache || deps.env[productOf(deps).env.token]) return null;
  const quick = await deps.config.quickContext(global.context);
  if (quick === null) return null;
  // Another server named: the full resolution refuses it (boundServer).
  const requested = requestedServer(deps, global);
  if (requested !== undefined && serverOrigin(requested) !== serverOrigin(quick.server)) return null;
  const cached = await cache.get(quick.name);
  return cached && fresh(cached, Math.floor(deps.now() / 1000), REFRESH_MARGIN_SECONDS) ? cached.access_token : null;
}

/** The stored access token, refreshed first when it expires within a minute. */
export async function validStoredToken(deps: ClientDeps, name: string, context: Context, cacheAsked = false): Promise<string> {
  const product = productOf(deps);
  const nowSeconds = () => Math.floor(deps.now() / 1000);
  const cache = deps.secrets.tokenCache;
  const cached = cacheAsked ? null : await cache?.get(name);
  if (cached && fresh(cached, nowSeconds(), REFRESH_MARGIN_SECONDS)) return cached.access_token;

  // Before the store is opened (no passphrase asked for a session the server ended).
  await refuseEndedSession(deps, name);
  // Loaded only past the cache: the stores bring zod and WebCrypto, a cached run needs neither.
  const { openSecretStore } = await import('./secrets/select.ts');
  const store = openSecretStore(deps.secrets, context.secretStore);
  const stamp = (await cache?.stamp(name)) ?? null;
  const seen = await store.read(name);
  if (!seen)
    throw new LatchkeyError('not_logged_in', `no stored credential for context "${name}"; run \`${loginWith(product, name)}\``);
  if (fresh(seen, nowSeconds(), REFRESH_MARGIN_SECONDS)) {
    await cache?.put(name, stamp, seen);
    return seen.access_token;
  }
  if (!seen.refresh_token) throw new LatchkeyError('session_expired', `the token of context "${name}" expired; log in again`);

  return (await renewStored(deps, name, context, store, { seen })).access_token;
}

/**
 * Renews the stored credential of `name` with its refresh token under the cross-process
 * lock, and keeps what comes back in `store`: the one way a stored login is refreshed,
 * whether its access token is old (`seen`: the one found too old; if another process
 * renewed it meanwhile, that is taken instead) or a second factor is proven (`otp`, see
 * step-up.ts: always a refresh of its own). Nothing is written unless the server answers
 * with tokens, so a wrong code leaves the login as it was (the server keeps its refresh
 * token unspent too).
 */
export async function renewStored(
  deps: ClientDeps,
  name: string,
  context: Context,
  store: SecretStore,
  options: { seen?: StoredCredential; otp?: string },
): Promise<StoredCredential> {
  const product = productOf(deps);
  const nowSeconds = () => Math.floor(deps.now() / 1000);
  const { withLock } = await import('./lock.ts');
  return withLock(
    deps.config.dir,
    `refresh-${name}`,
    async () => {
      // Another process may have refreshed while this one waited for the lock.
      const lockedStamp = await stampOf(deps.config.dir, name);
      const current = await store.read(name);
      if (!current) throw new LatchkeyError('not_logged_in', `context "${name}" was logged out meanwhile`);
      const { seen, otp } = options;
      if (otp === undefined && seen && current.access_token !== seen.access_token && fresh(current, nowSeconds(), 5))
        return current;
      if (!current.refresh_token && otp !== undefined)
        throw new LatchkeyError(
          'step_up_required',
          `context "${name}" holds a token without a session to renew (given with --with-token?), so it cannot prove a second factor; ` +
            `run \`${loginWith(product, name === 'default' ? undefined : name)}\` and sign in yourself`,
        );
      if (!current.refresh_token)
        throw new LatchkeyError('session_expired', `the token of context "${name}" expired; log in again`);
      const client = await deps.client(context.server, context.clientId);
      const tokens = await client
        .refresh(current.refresh_token, otp === undefined ? {} : { otp })
        .catch(async (error: unknown) => {
          // invalid_grant: the server will not renew this session again, whatever this run does.
          if (!(error instanceof LatchkeyError && error.code === 'session_expired')) throw error;
          await markSessionEnded(deps, name, lockedStamp);
          throw new LatchkeyError('session_expired', sessionEndedMessage(name, product), { cause: error });
        });
      const next: StoredCredential = {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token ?? current.refresh_token,
        expires_at: nowSeconds() + tokens.expires_in,
      };
      await store.write(name, next);
      // Not cached here: a login could replace the file between this write and any stamp
      // taken now, binding this token to it. The next run caches it through the read path.
      return next;
    },
    product.appName,
  );
}

/**
 * The stored login a run means — its --context, else the current one — and the refusal
 * resolveCredential gives when there is none or the run names another server.
 */
export async function storedLogin(deps: ClientDeps, global: Selection): Promise<{ name: string; context: Context }> {
  const product = productOf(deps);
  const config = await deps.config.read();
  const selected = global.context || config.current ? safeSelect(config, global.context, product) : null;
  if (!selected) throw noContext(config, global.context, product);
  boundServer(deps, global, selected.name, selected.context);
  return selected;
}

/** What to do once the server has ended a context's session: sign in again, into the same context. */
export const sessionEndedMessage = (name: string, product?: Product) =>
  `the server ended the session of context "${name}" (revoked, or its refresh token refused); ` +
  `run \`${loginWith(productOf({ product }), name === 'default' ? undefined : name)}\` again`;

/**
 * Remembers that the server ended this context's session (it said so at /v1, or refused
 * the refresh token), so the next `latchkey token` exits 3 at once instead of printing an
 * access token the server no longer takes — which it would, from the session cache or the
 * sealed file, until that token expired. The cached access token goes; the mark holds the
 * sealed file's stamp, so a new login (which rewrites the file) clears it by itself.
 */
export async function markSessionEnded(deps: ClientDeps, name: string, stamp: string | null): Promise<void> {
  // `stamp`: the sealed file as it was when the refused token was read from it; a login since is not marked.
  if (stamp !== null && stamp === (await stampOf(deps.config.dir, name))) {
    // Best effort: failing to remember costs a later run only the server's own refusal.
    await writeFileAtomic(revokedMarkPath(deps.config.dir, name), stamp).catch(() => {});
  }
  await deps.secrets.tokenCache?.forget(name);
}

/** Exit 3 (`session_expired`) if the server ended this context's session and no login has happened since. */
export async function refuseEndedSession(deps: ClientDeps, name: string): Promise<void> {
  const mark = await readText(revokedMarkPath(deps.config.dir, name)).catch(() => null);
  if (mark !== null && mark === (await stampOf(deps.config.dir, name))) {
    throw new LatchkeyError('session_expired', sessionEndedMessage(name, productOf(deps)));
  }
}

/** How the /v1 API words a session it ended (worker/tokens/credential.ts). */
export const SESSION_REVOKED = /\bthe session was revoked\b/;

/**
 * What a refusal of a stored credential teaches this context: a session the server says
 * it revoked is marked ended (credential.ts), so `latchkey token` stops handing out its
 * access token, and the error names the next step. Any other refusal (401) of a stored
 * token drops it from the session cache, so the next run reads the sealed file again.
 * Returns the handler that rethrows.
 */
export async function refusalListener(deps: ClientDeps, resolved: Resolved): Promise<(error: unknown) => Promise<never>> {
  const name = resolved.source === 'stored' ? resolved.contextName : null;
  // The sealed file as the token was read from it: a login that rewrites it meanwhile is not marked.
  const stamp = name === null ? null : await stampOf(deps.config.dir, name);
  return async (error: unknown): Promise<never> => {
    if (name === null || !(error instanceof LatchkeyError) || error.code !== 'invalid_credential') throw error;
    if (!SESSION_REVOKED.test(error.message)) {
      await deps.secrets.tokenCache?.forget(name);
      throw error;
    }
    await markSessionEnded(deps, name, stamp);
    throw new LatchkeyError('session_expired', sessionEndedMessage(name, productOf(deps)), { cause: error });
  };
}
