/**
 * `latchkey login`: the device flow (RFC 8628) — the code, the URL and a QR code of it on
 * stderr, a countdown while waiting, Ctrl-C to cancel — or `--with-token`, which checks a
 * token from stdin against /v1/me and keeps it. `--org SLUG` signs in for that org: only
 * its members may approve, and the tokens act in that org alone (its admins may list and
 * end that session, and no other of yours).
 */
import qrcode from 'qrcode-terminal';
import type { LatchkeyClient } from '../../packages/client/src/client.ts';
import { CONTEXT_NAME, type ConfigFile, SECRET_STORES, type SecretStoreName } from '../../packages/client/src/config.ts';
import { serverOrigin } from '../../packages/client/src/credential.ts';
import { interactiveLogin, keepLogin, loginStore } from '../../packages/client/src/login.ts';
import { printable } from '../../packages/client/src/printable.ts';
import { PASSPHRASE_RULE } from '../../packages/client/src/secrets/passphrase.ts';
import type { StoredCredential } from '../../packages/client/src/secrets/secret-store.ts';
import { BUILTIN_CLIENT_ID } from '../../shared/schemas.ts';
import { type Command, flag, oneOf, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';

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
  // Choose where the secret goes before anyone approves anything, so a refusal costs nothing
  // (a new encrypted file's passphrase is chosen and confirmed now too).
  const chosen = await loginStore(deps, name, options.secretStore);
  const client = await deps.client(server, BUILTIN_CLIENT_ID);
  const credential = options.withToken ? await fromStdin(deps) : await signIn(deps, client, options, global.org);
  const { me } = await keepLogin(deps, {
    name,
    client,
    chosen,
    credential,
    via: options.withToken ? 'with-token' : 'sign-in',
  });

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
 * Browser login where a browser can open (or `--browser`), else the device flow, with the
 * library's events shown on stderr: the URL, the code and a QR code of it, a countdown.
 */
async function signIn(
  deps: CliDeps,
  client: LatchkeyClient,
  options: LoginOptions,
  org: string | undefined,
): Promise<StoredCredential> {
  const { io } = deps;
  // The countdown's line is cleared once a device code was shown, however the wait ends.
  let shown = false;
  try {
    return await interactiveLogin(deps, client, {
      flow: options.flow ?? (deps.canOpenBrowser() || !options.open ? 'browser' : 'device'),
      open: options.open,
      scope: options.scope,
      org,
      openBrowser: deps.openBrowser,
      onBrowserEvent: (event) => {
        if (event.type === 'opened') io.err(`Opened your browser to sign in. If nothing appeared, open:\n\n  ${event.url}\n\n`);
        else if (event.type === 'open-yourself')
          io.err(`Open this URL in a browser on this computer to sign in:\n\n  ${event.url}\n\n`);
        else io.err('Waiting for the browser (Ctrl-C to cancel)…\n');
      },
      onFallback: (reason) => io.err(`Could not open a browser; using the device flow instead${reason ? ` (${reason})` : ''}.\n`),
      onDeviceCode: (code) => {
        shown = true;
        const url = code.verificationUriComplete ?? code.verificationUri;
        io.err(`To sign in, open this URL on any device:\n\n  ${url}\n\n`);
        io.err(`and check that it shows the code  ${printable(code.userCode)}\n\n`);
        qrcode.generate(url, { small: true }, (art: string) => io.err(`${art}\n`));
      },
      onTick: (seconds) => {
        if (!io.interactive) return;
        const left = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
        io.progress(`Waiting for approval… ${left} left (Ctrl-C to cancel) `);
      },
    });
  } finally {
    if (shown && io.interactive) io.progress(null);
  }
}

async function fromStdin(deps: CliDeps): Promise<StoredCredential> {
  const token = (await deps.io.readStdin()).trim();
  if (!token) throw new CliError('usage', '--with-token reads the token from standard input, and it was empty');
  return { access_token: token, refresh_token: null, expires_at: null };
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
