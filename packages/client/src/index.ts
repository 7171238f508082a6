/**
 * @latchkey/client: sign a product's CLI in to a latchkey server and hand out its tokens —
 * the same code the latchkey CLI runs on, with the product's own names. `createLatchkey`
 * builds the dependencies once (config dir, secret stores, session cache); each method is
 * one of the CLI's steps, its events left to the caller's UI.
 *
 * Only what `token()` needs loads with the package: the HTTP client, the login flows, the
 * secret stores and zod load when a call first needs them, so a product's `acme auth token`
 * with a cached token starts as fast as the latchkey CLI's.
 */
import type { MeResponse, ServerMetadata } from '../../../shared/schemas.ts';
import type { BrowserLoginEvent } from './browser-login.ts';
import type { CiExchangeResult } from './ci-exchange.ts';
import type { LatchkeyClient } from './client.ts';
import { CONTEXT_NAME, configDir, configStore, SECRET_STORES, type SecretStoreName } from './config.ts';
import { cachedToken, resolveCredential, serverOrigin } from './credential.ts';
import type { ClientDeps } from './deps.ts';
import { LatchkeyError } from './errors.ts';
import type { Product } from './product.ts';
import { type Keychain, osKeychain } from './secrets/keychain.ts';
import { abortableSleep } from './sleep.ts';
import { tokenCache } from './token-cache.ts';

export type { MeResponse, ServerMetadata } from '../../../shared/schemas.ts';
export type { BrowserLoginEvent } from './browser-login.ts';
export type { CiExchangeResult, CiTokenSource } from './ci-exchange.ts';
export type { SecretStoreName } from './config.ts';
export type { DeviceCode } from './device-login.ts';
export { ERROR_CODES, type ErrorCode, LatchkeyError } from './errors.ts';
export { printable } from './printable.ts';
export { LATCHKEY, type Product } from './product.ts';
export type { Keychain } from './secrets/keychain.ts';
export { type StepUpChallenge, stepUpChallenge } from './step-up.ts';

/** The variables a product's CLI reads; each defaults to the app name upper-cased: ACME_TOKEN, ACME_SERVER… */
export type EnvNames = {
  token: string;
  server: string;
  configDir: string;
  secretStore: string;
  passphrase: string;
  tokenCache: string;
};

export type LatchkeyOptions = {
  /** Config dir `$XDG_CONFIG_HOME/<appName>` (or `~/.config/<appName>`), keychain service, session-cache dir. */
  appName: string;
  /** The default server; the server variable (ACME_SERVER) overrides it, `login({ server })` both. */
  server?: string;
  /** The OAuth client id it signs in as (default `latchkey-cli`). */
  clientId?: string;
  env?: Partial<EnvNames>;
  /** How error messages tell the person to sign in (default `<appName> login`). */
  loginCommand?: string;
  /** The CLI's name in other messages (`acme contexts use NAME`; default the app name). */
  command?: string;
  userAgent?: string;
  /** The environment read (default process.env). */
  environment?: Record<string, string | undefined>;
  fetch?: typeof fetch;
  /** The clock, in ms since the epoch (default Date.now). */
  now?: () => number;
  /** Waits between device-flow polls (default a timer); a test may step its clock here instead. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * Asks the person a question at a terminal (a passphrase: `hidden`); null when there is
   * no terminal. Absent: nothing is ever asked, and the encrypted file needs the passphrase variable.
   */
  ask?: (question: string, options: { hidden: boolean }) => Promise<string | null>;
  /** The OS keychain (default: @napi-rs/keyring, loaded on first use). */
  keychain?: Keychain;
};

export type LoginOptions = {
  server?: string;
  /** The context the login is kept under (default `default`). */
  context?: string;
  /** `auto`: the browser where `openBrowser` is given, else the device flow. */
  method?: 'auto' | 'device' | 'browser';
  secretStore?: SecretStoreName;
  scope?: string;
  /** Sign in for this org only (its members approve; the tokens act in it alone). */
  org?: string;
  /** Shown in the person's session list, to tell their machines apart. */
  deviceName?: string;
  signal?: AbortSignal;
  onDeviceCode?(code: {
    userCode: string;
    verificationUri: string;
    verificationUriComplete: string | null;
    expiresAt: number;
  }): void;
  /** Opens the system browser: true, or false / why not (then the device flow runs). Absent: the device flow. */
  openBrowser?(url: string): Promise<boolean | string>;
  /** The device flow's countdown, once a second. */
  onTick?(secondsLeft: number): void;
  /** The browser login's progress (opened the URL, or open it yourself; waiting). */
  onBrowserEvent?(event: BrowserLoginEvent): void;
  /** The browser could not be opened; the device flow follows. */
  onFallback?(reason: string | null): void;
};

export type CiExchangeOptions = {
  server?: string;
  /** The ID token's audience (default: `<server>/orgs/<org>` with `org`, else the server URL). */
  audience?: string;
  org?: string;
  project?: string;
  scope?: string;
  /** An ID token you already have; else it is found in the CI environment (GitHub Actions, GitLab). */
  idToken?: string;
  /** The variable holding the ID token. */
  idTokenVar?: string;
  /** The variable GitLab's `id_tokens:` fills (default `<APP>_ID_TOKEN`). */
  gitlabVariable?: string;
  /** Called with the ID token and then the access token, before either is used (mask them in a CI log). */
  onSecret?(secret: string): void;
};

/** `acme` -> `ACME`, `my-app` -> `MY_APP`. */
const envPrefix = (appName: string) => appName.toUpperCase().replace(/[^A-Z0-9]+/g, '_');

/** An environment variable's name as a shell writes one. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The variables, each a proper name and no two the same: with the token variable also the
 * server's, a server URL would go out as a Bearer credential; with the passphrase's also
 * the config dir's, a path would seal the secrets.
 */
function checkedEnvNames(names: EnvNames): EnvNames {
  const seen = new Map<string, string>();
  for (const [key, name] of Object.entries(names) as [keyof EnvNames, unknown][]) {
    if (typeof name !== 'string' || !VARIABLE_NAME.test(name)) {
      throw new LatchkeyError('usage', `env.${key} must be a variable name (letters, digits, "_"): "${String(name)}"`);
    }
    const other = seen.get(name);
    if (other !== undefined) throw new LatchkeyError('usage', `${name} cannot be both env.${other} and env.${key}`);
    seen.set(name, key);
  }
  return Object.freeze(names);
}

/**
 * Every call fails with a LatchkeyError: a file system refusal (a config dir that cannot be
 * written) or anything unforeseen becomes `failed`, the original its cause.
 */
async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof LatchkeyError) throw error;
    const code = (error as NodeJS.ErrnoException | null)?.code;
    const why = error instanceof Error ? error.message : String(error);
    throw new LatchkeyError('failed', typeof code === 'string' && !why.includes(code) ? `${code}: ${why}` : why, {
      cause: error,
    });
  }
}

export function createLatchkey(options: LatchkeyOptions) {
  const appName: unknown = options?.appName;
  // The app name becomes a directory under ~/.config and $XDG_RUNTIME_DIR and a keychain
  // service: one plain name, never a path (`../latchkey` would be latchkey's own files).
  if (typeof appName !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(appName)) {
    throw new LatchkeyError('usage', `appName must be letters, digits, ".", "_" and "-": "${String(appName)}"`);
  }
  const prefix = envPrefix(appName);
  // Frozen: a caller changing a variable's name after the fact would read another's token.
  const product: Product = Object.freeze({
    appName,
    clientId: options.clientId ?? 'latchkey-cli',
    userAgent: options.userAgent ?? `${appName}-cli`,
    command: options.command ?? appName,
    loginCommand: options.loginCommand ?? `${appName} login`,
    env: checkedEnvNames({
      token: `${prefix}_TOKEN`,
      server: `${prefix}_SERVER`,
      configDir: `${prefix}_CONFIG_DIR`,
      secretStore: `${prefix}_SECRET_STORE`,
      passphrase: `${prefix}_SECRET_PASSPHRASE`,
      tokenCache: `${prefix}_TOKEN_CACHE`,
      ...options.env,
    }),
  });
  const env = options.environment ?? process.env;
  const dir = configDir(env, product);
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const ask = options.ask;
  const noAbort = new AbortController().signal;
  const makeClient = async (
    server: string,
    clientId: string,
    deviceName?: string,
    signal?: AbortSignal,
  ): Promise<LatchkeyClient> => {
    // Only an http(s) server is ever called: fetch would also read a data: URL, and a
    // name that is no URL at all is the caller's mistake (`usage`), not an unreachable server.
    if (serverOrigin(server) === null) throw new LatchkeyError('usage', `the server must be an http(s) URL: "${server}"`);
    const { createClient } = await import('./client.ts');
    return createClient({
      server,
      clientId,
      fetch: doFetch,
      userAgent: product.userAgent,
      product,
      ...(deviceName ? { deviceName } : {}),
      ...(signal ? { signal } : {}),
    });
  };

  const base: ClientDeps = {
    env,
    now: options.now ?? Date.now,
    config: configStore(dir),
    secrets: {
      dir,
      env,
      keychain: options.keychain ?? osKeychain({ platform: process.platform, env, appName, loginCommand: product.loginCommand }),
      promptPassphrase: ask
        ? async (question) => {
            const answer = await ask(question, { hidden: true });
            if (answer === null) {
              throw new LatchkeyError(
                'secret_store_unavailable',
                `the encrypted file needs ${product.env.passphrase} (no terminal to ask on)`,
              );
            }
            return answer;
          }
        : null,
      tokenCache: tokenCache({ env, configDir: dir, uid: process.getuid?.(), product }),
      product,
    },
    client: (server, clientId) => makeClient(server, clientId),
    sleep: options.sleep ?? abortableSleep,
    fetch: doFetch,
    signal: noAbort,
    product,
  };
  const withSignal = (signal: AbortSignal | undefined): ClientDeps => (signal ? { ...base, signal } : base);
  /** The server named by the variable, else the default; undefined when neither is. */
  const namedServer = () => env[product.env.server] || options.server;

  return {
    /** Names, variables and message words in use. */
    product,
    /** Where config.json and the sealed credentials live. */
    configDir: dir,

    /** The server's OAuth metadata (RFC 8414). */
    discover(server?: string): Promise<ServerMetadata> {
      return guarded(async () => {
        const target = server ?? namedServer();
        if (!target) throw new LatchkeyError('usage', `which server? pass one or set ${product.env.server}`);
        return (await makeClient(target, product.clientId)).discover();
      });
    },

    /** Signs in (device flow, or a browser where `openBrowser` is given) and keeps the login as a context, made current. */
    login(login: LoginOptions = {}): Promise<{ context: string; server: string; user: MeResponse }> {
      return guarded(async () => {
        const deps = withSignal(login.signal);
        const name = login.context ?? 'default';
        if (!CONTEXT_NAME.test(name))
          throw new LatchkeyError('usage', `context names are letters, digits, ".", "_" and "-": "${name}"`);
        const config = await deps.config.read();
        const server = login.server ?? namedServer() ?? config.contexts[name]?.server;
        if (!server) throw new LatchkeyError('usage', `which server? pass one or set ${product.env.server}`);
        if (serverOrigin(server) === null) throw new LatchkeyError('usage', `the server must be an http(s) URL: "${server}"`);
        const requested = login.secretStore ?? (env[product.env.secretStore] || undefined);
        if (requested !== undefined && !(SECRET_STORES as readonly string[]).includes(requested)) {
          throw new LatchkeyError('usage', `${product.env.secretStore} takes ${SECRET_STORES.join(', ')}`);
        }
        const { interactiveLogin, keepLogin, loginStore } = await import('./login.ts');
        const chosen = await loginStore(deps, name, requested as SecretStoreName | undefined);
        const client = await makeClient(server, product.clientId, login.deviceName, login.signal);
        const method = login.method ?? 'auto';
        const credential = await interactiveLogin(deps, client, {
          flow: method === 'auto' ? (login.openBrowser ? 'browser' : 'device') : method,
          open: login.openBrowser !== undefined,
          openBrowser: login.openBrowser ?? (async () => false),
          scope: login.scope,
          org: login.org,
          ...(login.onBrowserEvent ? { onBrowserEvent: login.onBrowserEvent } : {}),
          ...(login.onFallback ? { onFallback: login.onFallback } : {}),
          ...(login.onDeviceCode ? { onDeviceCode: login.onDeviceCode } : {}),
          ...(login.onTick ? { onTick: login.onTick } : {}),
        });
        const { me } = await keepLogin(deps, { name, client, chosen, credential, via: 'sign-in' });
        return { context: name, server: client.server, user: me };
      });
    },

    /**
     * A valid access token: the token variable (ACME_TOKEN) first, else the stored one,
     * refreshed under the cross-process lock when it expires within a minute.
     */
    token(selection: { context?: string } = {}): Promise<string> {
      return guarded(async () => {
        const quick = await cachedToken(base, selection);
        return quick ?? (await resolveCredential(base, selection, { tokenStdin: false, cacheAsked: true })).token;
      });
    },

    /**
     * Step-up (RFC 9470): after an API answered 401 with a `insufficient_user_authentication`
     * challenge (`stepUpChallenge(response.headers.get('www-authenticate'))`), proves the
     * person's second factor with `code` (from their authenticator app, or a recovery code)
     * and resolves to the new access token, which says so (`acr`, a fresh `auth_time`); retry
     * the refused call once with it. The stored login is renewed under the same lock as a
     * refresh. `wrong_code`: not right (the login is unchanged; ask again); `access_denied`:
     * too many wrong codes; `step_up_required`: this credential cannot step up (ACME_TOKEN).
     */
    stepUp(code: string, selection: { context?: string } = {}): Promise<string> {
      return guarded(async () => {
        const { stepUp } = await import('./step-up.ts');
        return stepUp(base, selection, code);
      });
    },

    /** Which credential a call would use and whose it is, as the server says (GET /v1/me). */
    status(selection: { context?: string } = {}) {
      return guarded(async () => {
        const resolved = await resolveCredential(base, selection, { tokenStdin: false });
        const server = resolved.server ?? options.server;
        if (!server) throw new LatchkeyError('usage', `which server? set ${product.env.server}`);
        const client = await makeClient(server, resolved.context?.clientId ?? product.clientId);
        const { refusalListener } = await import('./credential.ts');
        const user = await client.me(resolved.token).catch(await refusalListener(base, resolved));
        return {
          source: resolved.source as 'env' | 'stored',
          context: resolved.contextName,
          server: client.server,
          user,
        };
      });
    },

    /** Revokes the session at the server, then forgets the context here (even when the server cannot be told). */
    logout(selection: { context?: string } = {}): Promise<{ context: string; revoked: boolean; warning: string | null }> {
      return guarded(async () => {
        const { logout } = await import('./logout.ts');
        const { name, revoked, warning } = await logout(base, {}, selection.context);
        return { context: name, revoked, warning };
      });
    },

    contexts: {
      list(): Promise<{ name: string; server: string; current: boolean; user: string | null }[]> {
        return guarded(async () => {
          const config = await base.config.read();
          return Object.entries(config.contexts).map(([name, context]) => ({
            name,
            server: context.server,
            current: name === config.current,
            user: context.user?.email ?? context.user?.sub ?? null,
          }));
        });
      },
      /** Makes `name` the current context. */
      use(name: string): Promise<void> {
        return guarded(async () => {
          const { useContext } = await import('./contexts.ts');
          await useContext(base, name);
        });
      },
      /** Forgets `name` here without revoking it (logout revokes). */
      remove(name: string): Promise<void> {
        return guarded(async () => {
          const { removeContext } = await import('./contexts.ts');
          await removeContext(base, name);
        });
      },
    },

    /** The CI exchange (RFC 8693): the job's OIDC ID token for a short-lived token; stores nothing. */
    exchangeCi(ci: CiExchangeOptions = {}): Promise<CiExchangeResult> {
      return guarded(async () => {
        const server = ci.server ?? namedServer();
        if (!server) throw new LatchkeyError('usage', `which server? pass one or set ${product.env.server}`);
        const idToken = ci.idToken;
        const [{ exchangeCi }, { orgAudience }] = await Promise.all([
          import('./ci-exchange.ts'),
          import('../../../shared/trust-policy.ts'),
        ]);
        return exchangeCi(base, {
          server,
          audience: ci.audience ?? (ci.org ? orgAudience(server, ci.org) : server.replace(/\/+$/, '')),
          project: ci.project,
          scope: ci.scope,
          idTokenStdin: idToken === undefined ? undefined : async () => idToken,
          idTokenVar: ci.idTokenVar,
          gitlabVariable: ci.gitlabVariable ?? `${prefix}_ID_TOKEN`,
          onSecret: ci.onSecret,
        });
      });
    },
  };
}

export type Latchkey = ReturnType<typeof createLatchkey>;
