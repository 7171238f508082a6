/**
 * `latchkey login`: the device flow (RFC 8628) — the code, the URL and a QR code of it on
 * stderr, a countdown while waiting, Ctrl-C to cancel — or `--with-token`, which checks a
 * token from stdin against /v1/me and keeps it. `--org SLUG` signs in for that org: only
 * its members may approve, and the tokens act in that org alone (its admins may list and
 * end that session, and no other of yours).
 */
import qrcode from 'qrcode-terminal';
import { BUILTIN_CLIENT_ID, type TokenResponse } from '../../shared/schemas.ts';
import { browserLogin } from '../browser-login.ts';
import type { LatchkeyClient } from '../client.ts';
import { type Command, flag, oneOf, text } from '../command.ts';
import { CONTEXT_NAME, type ConfigFile, type Context, SECRET_STORES, type SecretStoreName } from '../config.ts';
import { serverOrigin } from '../credential.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { printable } from '../printable.ts';
import { PASSPHRASE_RULE } from '../secrets/passphrase.ts';
import type { StoredCredential } from '../secrets/secret-store.ts';
import { chooseSecretStore, openSecretStore } from '../secrets/select.ts';

export type LoginOptions = {
  name: string | undefined;
  /** Forced flow: `--browser` or `--device`; undefined picks by whether a browser can open. */
  flow: 'browser' | 'device' | undefined;
  open: boolean;
  withToken: boolean;
  secretStore: SecretStoreName | undefined;
  scope: string | undefined;
};

export async function login(deps: CliDeps, global: GlobalOptions, options: LoginOptions): Promise<void> {
  const { io } = deps;
  const config = await deps.config.read();
  const name = options.name ?? global.context ?? 'default';
  if (!CONTEXT_NAME.test(name)) throw new CliError('usage', `context names are letters, digits, ".", "_" and "-": "${name}"`);
  const server = global.server ?? deps.env.LATCHKEY_SERVER ?? config.contexts[name]?.server;
  if (!server) throw new CliError('usage', 'which server? pass --server URL or set LATCHKEY_SERVER');
  if (!/^https?:\/\//.test(server)) throw new CliError('usage', `--server must be an http(s) URL: "${server}"`);

  // A pasted credential is whatever it was made for; naming an org cannot change that.
  if (options.withToken && global.org)
    throw new CliError('usage', '--org signs in for an org; with --with-token the credential already says which it is for');
  const replacing =
    options.withToken && options.name === undefined && global.context === undefined ? pastedOver(config, name, server) : null;
  // Choose where the secret goes before anyone approves anything, so a refusal costs nothing.
  const chosen = await chooseSecretStore(deps.secrets, options.secretStore);
  if (chosen.name === 'env' || chosen.name === 'none') {
    throw new CliError('usage', `--secret-store ${chosen.name} keeps no token; set LATCHKEY_TOKEN instead of logging in`);
  }
  const store = openSecretStore(deps.secrets, chosen.name);
  // A new encrypted file's passphrase is chosen and confirmed now, before anyone approves anything.
  await store.prepare?.(name);
  const client = await deps.client(server, BUILTIN_CLIENT_ID);
  const credential = options.withToken ? await fromStdin(deps) : await interactiveLogin(deps, client, options, global.org);
  const me = await client.me(credential.access_token);
  const stored: StoredCredential = {
    ...credential,
    expires_at: credential.expires_at ?? (me.kind === 'api_key' ? null : me.exp),
  };

  await store.write(name, stored);
  const context: Context = {
    server: client.server,
    clientId: BUILTIN_CLIENT_ID,
    secretStore: chosen.name,
    secretStoreReason: chosen.reason,
    user: { sub: me.sub, email: me.email },
    kind: me.kind,
    org: me.org,
    project: me.project,
    createdAt: new Date(deps.now()).toISOString(),
    via: options.withToken ? 'with-token' : 'sign-in',
  };
  const latest = await deps.config.read();
  await deps.config.write({ ...latest, current: name, contexts: { ...latest.contexts, [name]: context } });

  const summary = {
    context: name,
    server: client.server,
    sub: me.sub,
    email: me.email,
    kind: me.kind,
    secret_store: chosen.name,
  };
  if (global.json) io.out(`${JSON.stringify(summary)}\n`);
  if (replacing) io.err(replacing);
  io.err(
    `Logged in to ${printable(client.server)} as ${printable(me.email ?? me.sub)} (context "${name}", secrets in ${chosen.name}).\n`,
  );
}

/**
 * `login --with-token` without a name stores under "default", and must not quietly
 * replace a person's sign-in there (its session would live on, forgotten, without a
 * logout). An earlier pasted token for the same server is replaced, and the note for
 * that returned; anything else is refused with the way to keep both.
 */
function pastedOver(config: ConfigFile, name: string, server: string): string | null {
  const existing = config.contexts[name];
  if (!existing) return null;
  // Files from before `via` was kept: API keys and CI tokens only ever come pasted.
  const pasted = (existing.via ?? (existing.kind === 'user' ? 'sign-in' : 'with-token')) === 'with-token';
  if (pasted && serverOrigin(existing.server) === serverOrigin(server)) {
    return `Replaced context "${name}" (a token stored with --with-token for ${printable(existing.server)}).\n`;
  }
  const holds = pasted
    ? `a token stored with --with-token for ${existing.server}`
    : `the sign-in of ${existing.user?.email ?? existing.user?.sub ?? 'a person'} at ${existing.server}`;
  throw new CliError(
    'usage',
    `context "${name}" holds ${holds}; --with-token without --name would replace it. ` +
      `Store the token under a name of its own: \`latchkey login --with-token --name NAME\` ` +
      `(or \`--name ${name}\` to replace it after all)`,
  );
}

/**
 * Browser login where a browser can open (or `--browser`), else the device flow; a browser
 * that fails to start falls back to the device flow rather than leaving the person stuck.
 */
async function interactiveLogin(
  deps: CliDeps,
  client: LatchkeyClient,
  options: LoginOptions,
  org: string | undefined,
): Promise<StoredCredential> {
  const flow = options.flow ?? (deps.canOpenBrowser() || !options.open ? 'browser' : 'device');
  if (flow === 'browser') {
    const result = await browserLogin(deps, client, { scope: options.scope, open: options.open, org });
    if (result.opened) return fromTokens(deps, result.tokens);
    const why = result.reason ? ` (${result.reason})` : '';
    deps.io.err(`Could not open a browser; using the device flow instead${why}.\n`);
  }
  return deviceFlow(deps, client, options.scope, org);
}

function fromTokens(deps: CliDeps, tokens: TokenResponse): StoredCredential {
  return {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token ?? null,
    expires_at: Math.floor(deps.now() / 1000) + tokens.expires_in,
  };
}

async function fromStdin(deps: CliDeps): Promise<StoredCredential> {
  const token = (await deps.io.readStdin()).trim();
  if (!token) throw new CliError('usage', '--with-token reads the token from standard input, and it was empty');
  return { access_token: token, refresh_token: null, expires_at: null };
}

async function deviceFlow(
  deps: CliDeps,
  client: LatchkeyClient,
  scope: string | undefined,
  org: string | undefined,
): Promise<StoredCredential> {
  const { io } = deps;
  const started = await client.startDeviceLogin(scope, org);
  io.err(`To sign in, open this URL on any device:\n\n  ${started.verification_uri_complete}\n\n`);
  io.err(`and check that it shows the code  ${printable(started.user_code)}\n\n`);
  qrcode.generate(started.verification_uri_complete, { small: true }, (art: string) => io.err(`${art}\n`));

  const deadline = deps.now() + started.expires_in * 1000;
  let interval = started.interval;
  const countdown = (seconds: number) => {
    if (!io.interactive) return;
    const left = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
    io.progress(`Waiting for approval… ${left} left (Ctrl-C to cancel) `);
  };
  try {
    for (;;) {
      const remaining = Math.ceil((deadline - deps.now()) / 1000);
      if (remaining <= 0) throw new CliError('timed_out', 'the code expired before it was approved; run `latchkey login` again');
      for (let waited = 0; waited < interval; waited++) {
        countdown(Math.max(0, remaining - waited));
        await deps.sleep(1000, deps.signal);
      }
      const poll = await client.pollDeviceLogin(started.device_code);
      if (poll.status === 'approved') return fromTokens(deps, poll.tokens);
      if (poll.status === 'slow_down') interval += 5;
      if (poll.status === 'denied') throw new CliError('access_denied', 'the sign-in was denied in the browser');
      if (poll.status === 'expired')
        throw new CliError('timed_out', 'the code expired before it was approved; run `latchkey login` again');
    }
  } finally {
    if (io.interactive) io.progress(null);
  }
}

export const command: Command = {
  usage: [
    'login [--server URL] [--name CTX] [--browser | --device] [--no-open] [--with-token] [--secret-store STORE] [--scope "read write"] [--org SLUG]',
  ],
  help: `Login opens your browser where it can (a desktop session) and waits for the sign-in on a
loopback port; elsewhere (SSH, no display) it prints a URL, a code and a QR code to open
on any device (RFC 8628). --browser / --device force either; --no-open prints the browser
URL instead of opening it. A browser that cannot be shown — DISPLAY or WAYLAND_DISPLAY
naming no server that answers, an opener that fails — falls back to the device flow, saying
why. --with-token reads an API key or access token from stdin (not with --org: the
credential is already what it was made for); without --name it does not replace a
person's sign-in kept as "default" (give the token a --name of its own).
With the encrypted-file store, a new file's passphrase (LATCHKEY_SECRET_PASSPHRASE, or
typed twice at the prompt, three tries) is asked before the sign-in and must have
${PASSPHRASE_RULE}; a file made earlier opens with the passphrase it was made with
(three tries at a terminal).
login --org SLUG signs in for that org: only its members can approve it, its tokens act
in that org alone (elsewhere they are nobody), and it is the only kind of session of
yours the org's admins can list or end; removal from the org ends it.
LATCHKEY_BROWSER names a program to open URLs with instead of the system browser. Only
http(s) URLs on the server's own origin are opened or shown.`,
  options: {
    name: { type: 'string', value: 'CTX', description: 'the context to store the login under (default: default)' },
    browser: { type: 'boolean', description: 'sign in in a browser on this machine' },
    device: { type: 'boolean', description: 'sign in with a code on any device (RFC 8628)' },
    'no-open': { type: 'boolean', description: 'print the browser URL instead of opening it' },
    'with-token': { type: 'boolean', description: 'store an API key or access token read from stdin' },
    'secret-store': { type: 'string', value: 'STORE', description: 'where the credential is kept', choices: SECRET_STORES },
    scope: { type: 'string', value: 'SCOPES', description: 'the scopes to ask for, space-separated' },
  },
  maxArgs: 0,
  run: (deps, global, parsed) => {
    oneOf(parsed, 'device', 'browser');
    const secretStore = text(parsed, 'secret-store');
    if (secretStore !== undefined && !(SECRET_STORES as readonly string[]).includes(secretStore)) {
      throw new CliError('usage', `--secret-store takes ${SECRET_STORES.join(', ')}`);
    }
    return login(deps, global, {
      name: text(parsed, 'name'),
      flow: flag(parsed, 'browser') ? 'browser' : flag(parsed, 'device') ? 'device' : undefined,
      open: !flag(parsed, 'no-open'),
      withToken: flag(parsed, 'with-token'),
      secretStore: secretStore as SecretStoreName | undefined,
      scope: text(parsed, 'scope'),
    });
  },
};
