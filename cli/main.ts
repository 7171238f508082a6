#!/usr/bin/env node
/**
 * latchkey — argument parsing, the real dependencies, and the one place that turns
 * errors into exit codes.
 */
import { parseArgv } from './args.ts';
// `token` is what scripts run in loops, so it loads with main (a dynamic import costs a cached
// run ~0.5 ms); every other command loads only when it runs.
import { token } from './commands/token.ts';
import { configDir, configStore, SECRET_STORES, type SecretStoreName } from './config.ts';
import type { CliDeps, GlobalOptions } from './deps.ts';
import { CliError, EXIT_HELP } from './errors.ts';
import { output } from './host.ts';
import { printable, printableOutput } from './printable.ts';
import { osKeychain } from './secrets/keychain.ts';
import { tokenCache } from './token-cache.ts';

export const VERSION = '0.2.0';

export const HELP = `latchkey — sign in to a latchkey server and hand tokens to scripts

Usage:
  latchkey login [--server URL] [--name CTX] [--browser | --device] [--no-open] [--with-token] [--secret-store STORE] [--scope "read write"] [--org SLUG]
  latchkey status | whoami [--token-stdin]   which credential this invocation would use, and why
  latchkey token [--token-stdin]             print a valid access token (refreshing silently)
  latchkey logout [CTX]                      revoke at the server, then forget locally
  latchkey contexts list | use NAME | show [NAME] | remove NAME
  latchkey ci exchange [--project P] [--scope S] [--audience AUD] [--id-token-stdin | --id-token-var NAME] [--export]

Orgs (the /v1 API; --org ORG, else LATCHKEY_ORG, else the org of the context's credential
(an API key's, or the one login --org signed in for), else your only org):
  latchkey orgs list | create SLUG [--name NAME] | show [SLUG]
  latchkey projects list | create SLUG
  latchkey members list | set EMAIL member|admin|owner | remove EMAIL [--confirm]
  latchkey members invite EMAIL [--role ROLE] [--expires 7d] | invitations | withdraw INVITATION_ID
  latchkey keys create --name NAME [--role ROLE] [--project P] [--expires 90d] | list
  latchkey keys revoke KEY_ID [--confirm] | rotate KEY_ID [--grace 1h] [--confirm]
  latchkey audit list [--after SEQ] [--limit N] | verify
  latchkey policies list | create --file F | delete POLICY_ID [--confirm]
  latchkey policies test (--id-token-stdin | --file F) [--project P]

Yours (invitations take no org; sessions take one only from --org, never LATCHKEY_ORG):
  latchkey invitations list | accept INVITATION_ID | decline INVITATION_ID
  latchkey sessions list [--org ORG [--member EMAIL] | --email EMAIL] | revoke SESSION_ID [--org ORG] [--confirm]

Global options:
  --context NAME   run under another context without changing the current one
  --server URL     the latchkey server (or LATCHKEY_SERVER)
  --org SLUG       the org an org command acts on (or LATCHKEY_ORG); for login, the org to
                   sign in for (LATCHKEY_ORG does not apply to login)
  --json           print data as JSON on stdout
  -h, --help       this help;  --version  the version

Login opens your browser where it can (a desktop session) and waits for the sign-in on a
loopback port; elsewhere (SSH, no display) it prints a URL, a code and a QR code to open
on any device (RFC 8628). --browser / --device force either; --no-open prints the browser
URL instead of opening it. --with-token reads an API key or access token from stdin
(not with --org: the credential is already what it was made for).
login --org SLUG signs in for that org: only its members can approve it, its tokens act
in that org alone (elsewhere they are nobody), and it is the only kind of session of
yours the org's admins can list or end; removal from the org ends it.
LATCHKEY_BROWSER names a program to open URLs with instead of the system browser. Only
http(s) URLs on the server's own origin are opened or shown.

A key's secret is printed once, on stdout, when it is created or rotated. Revoking a key,
ending a session or removing a member asks first at a terminal; elsewhere pass --confirm.
People join an org only by accepting an invitation made for the email they sign in as
(\`invitations\` lists yours); \`members set\` changes the role of an existing member.
\`sessions\` alone lists all your own sign-ins (under a login --org, only those for that
org); with --org, an org admin sees the sessions established for the org (login --org),
never a member's others; an operator (LATCHKEY_OPERATORS), signed in without --org, lists
anyone's with --email and ends any with \`sessions revoke\`.
\`audit verify\` reads an org's whole trail and recomputes its hash chain locally.
\`policies\` manages the org's CI trust policies, each a JSON object (see the README);
--file - reads it from stdin. \`policies test\` shows what the exchange would do with a CI
ID token under the org's policies, each failing condition named, and exits 1 if refused.

ci exchange trades the CI job's OIDC ID token for a short-lived token of --project (or
LATCHKEY_PROJECT), under the server's trust policies; it stores nothing. On GitHub Actions
it asks the runner for an ID token whose audience is --audience (or LATCHKEY_CI_AUDIENCE,
else SERVER/orgs/ORG with --org or LATCHKEY_ORG, as an org's own policies require, else
the server URL); the job needs permissions: id-token: write. On GitLab it reads the
id_tokens variable LATCHKEY_ID_TOKEN (or --id-token-var NAME). Anywhere else, pipe the ID
token in with --id-token-stdin. Prints the token, or --json, or --export lines for eval.

Credentials, strongest claim first: --token-stdin, then LATCHKEY_TOKEN, then the secret
stored for the context. A stored credential is bound to the server that issued it: with
--server or LATCHKEY_SERVER naming another, every command refuses (exit 3,
server_mismatch) and sends it nowhere; a token you pass in goes where you say.
Secret stores: keychain (the OS keychain keeps the key of an encrypted file),
encrypted-file (key from LATCHKEY_SECRET_PASSPHRASE or a prompt), env and none (latchkey
stores nothing). Default: keychain where one answers, else encrypted-file; never plain
text. Config: $LATCHKEY_CONFIG_DIR or ~/.config/latchkey (0600, no tokens).
In a login session, \`token\` keeps the access token (never the refresh token) in
$XDG_RUNTIME_DIR/latchkey until a minute before it expires, so later runs need neither
the passphrase nor the keychain; LATCHKEY_TOKEN_CACHE=0 turns that off.

${EXIT_HELP}
`;

const OPTIONS = {
  context: { type: 'string' },
  server: { type: 'string' },
  json: { type: 'boolean' },
  org: { type: 'string' },
  project: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  name: { type: 'string' },
  device: { type: 'boolean' },
  browser: { type: 'boolean' },
  'no-open': { type: 'boolean' },
  'with-token': { type: 'boolean' },
  'secret-store': { type: 'string' },
  scope: { type: 'string' },
  'token-stdin': { type: 'boolean' },
  audience: { type: 'string' },
  'id-token-stdin': { type: 'boolean' },
  'id-token-var': { type: 'string' },
  export: { type: 'boolean' },
  role: { type: 'string' },
  expires: { type: 'string' },
  grace: { type: 'string' },
  member: { type: 'string' },
  email: { type: 'string' },
  confirm: { type: 'boolean' },
  after: { type: 'string' },
  limit: { type: 'string' },
  file: { type: 'string' },
} as const;

const GLOBAL = ['context', 'server', 'json', 'org', 'project', 'help', 'version'];
const COMMAND_OPTIONS: Record<string, string[]> = {
  login: ['name', 'device', 'browser', 'no-open', 'with-token', 'secret-store', 'scope'],
  status: ['token-stdin'],
  whoami: ['token-stdin'],
  token: ['token-stdin'],
  logout: [],
  contexts: [],
  ci: ['scope', 'audience', 'id-token-stdin', 'id-token-var', 'export'],
  orgs: ['name'],
  projects: [],
  members: ['confirm', 'role', 'expires'],
  invitations: [],
  keys: ['name', 'role', 'expires', 'grace', 'confirm'],
  sessions: ['member', 'email', 'confirm'],
  audit: ['after', 'limit'],
  policies: ['file', 'id-token-stdin', 'confirm'],
};

export async function run(argv: string[], deps: CliDeps): Promise<number> {
  try {
    const { values, positionals } = parseArgv(argv, OPTIONS);
    const [command, ...rest] = positionals;
    if (values.version) return deps.io.out(`latchkey ${VERSION}\n`), 0;
    if (values.help || !command) {
      (command || values.help ? deps.io.out : deps.io.err)(HELP);
      return command || values.help ? 0 : 2;
    }
    const allowed = COMMAND_OPTIONS[command];
    if (!allowed) throw new CliError('usage', `unknown command "${command}"; see latchkey --help`);
    for (const key of Object.keys(values)) {
      if (!GLOBAL.includes(key) && !allowed.includes(key)) throw new CliError('usage', `--${key} does not apply to "${command}"`);
    }
    const global: GlobalOptions = {
      json: values.json ?? false,
      ...(values.context ? { context: values.context } : {}),
      ...(values.server ? { server: values.server } : {}),
      ...(values.org ? { org: values.org } : {}),
    };
    const secretStore = values['secret-store'];
    if (secretStore !== undefined && !(SECRET_STORES as readonly string[]).includes(secretStore)) {
      throw new CliError('usage', `--secret-store takes ${SECRET_STORES.join(', ')}`);
    }
    const tooMany = (max: number) => {
      if (rest.length > max) throw new CliError('usage', `unexpected argument "${rest[max]}" to "${command}"`);
    };

    switch (command) {
      case 'login':
        tooMany(0);
        if (values.device && values.browser) throw new CliError('usage', 'choose one of --device and --browser');
        await (await import('./commands/login.ts')).login(deps, global, {
          name: values.name,
          flow: values.browser ? 'browser' : values.device ? 'device' : undefined,
          open: !values['no-open'],
          withToken: values['with-token'] ?? false,
          secretStore: secretStore as SecretStoreName | undefined,
          scope: values.scope,
        });
        break;
      case 'status':
      case 'whoami':
        tooMany(0);
        await (await import('./commands/status.ts')).status(deps, global, { tokenStdin: values['token-stdin'] ?? false });
        break;
      case 'token':
        tooMany(0);
        await token(deps, global, { tokenStdin: values['token-stdin'] ?? false });
        break;
      case 'logout':
        tooMany(1);
        await (await import('./commands/logout.ts')).logout(deps, global, { name: rest[0] });
        break;
      case 'ci':
        if (rest[0] !== 'exchange') throw new CliError('usage', 'usage: latchkey ci exchange; see latchkey --help');
        tooMany(1);
        if (values['id-token-stdin'] && values['id-token-var']) {
          throw new CliError('usage', 'choose one of --id-token-stdin and --id-token-var');
        }
        await (await import('./commands/ci-exchange.ts')).ciExchange(deps, global, {
          project: values.project,
          scope: values.scope,
          audience: values.audience,
          idTokenStdin: values['id-token-stdin'] ?? false,
          idTokenVar: values['id-token-var'],
          export: values.export ?? false,
        });
        break;
      case 'contexts':
        tooMany(2);
        await (await import('./commands/contexts.ts')).contexts(deps, global, rest[0], rest[1]);
        break;
      case 'orgs':
        tooMany(2);
        await (await import('./commands/orgs.ts')).orgs(deps, global, rest[0], rest[1], { name: values.name });
        break;
      case 'projects':
        tooMany(2);
        await (await import('./commands/projects.ts')).projects(deps, global, rest[0], rest[1]);
        break;
      case 'members':
        tooMany(3);
        await (await import('./commands/members.ts')).members(deps, global, rest, {
          confirm: values.confirm ?? false,
          role: values.role,
          expires: values.expires,
        });
        break;
      case 'invitations':
        tooMany(2);
        await (await import('./commands/invitations.ts')).invitations(deps, global, rest[0], rest[1]);
        break;
      case 'keys':
        tooMany(2);
        await (await import('./commands/keys.ts')).keys(deps, global, rest[0], rest[1], {
          name: values.name,
          role: values.role,
          project: values.project,
          expires: values.expires,
          grace: values.grace,
          confirm: values.confirm ?? false,
        });
        break;
      case 'sessions':
        tooMany(2);
        await (await import('./commands/sessions.ts')).sessions(deps, global, rest[0], rest[1], {
          member: values.member,
          email: values.email,
          confirm: values.confirm ?? false,
        });
        break;
      case 'policies':
        tooMany(2);
        await (await import('./commands/policies.ts')).policies(deps, global, rest[0], rest[1], {
          file: values.file,
          idTokenStdin: values['id-token-stdin'] ?? false,
          project: values.project,
          confirm: values.confirm ?? false,
        });
        break;
      case 'audit':
        tooMany(1);
        await (await import('./commands/audit.ts')).audit(deps, global, rest[0], { after: values.after, limit: values.limit });
        break;
    }
    return 0;
  } catch (error) {
    if (error instanceof CliError) {
      // Messages carry the server's words (error_description); one line, nothing that steers the terminal.
      deps.io.err(`latchkey: ${printable(error.message)}\n`);
      return error.exitCode;
    }
    // Anything else is a bug; say so without echoing data that might hold a secret.
    deps.io.err(`latchkey: internal error (${error instanceof Error ? error.name : typeof error}); please report it\n`);
    return 1;
  }
}

async function readAllStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new CliError('usage', 'pipe the token on standard input, e.g. `echo "$TOKEN" | latchkey …`');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readNamedFile(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError('usage', code === 'ENOENT' ? `no file ${path}` : `cannot read ${path} (${code ?? 'error'})`);
  }
}

/** Asks at the terminal and reads one line. */
async function askLine(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await prompt.question(question);
  } finally {
    prompt.close();
  }
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let answer = '';
    const onData = (data: Buffer) => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish(() => resolve(answer));
        if (char === '\u0003') return finish(() => reject(new CliError('cancelled', 'cancelled')));
        if (char === '\u007f') answer = answer.slice(0, -1);
        else answer += char;
      }
    };
    const finish = (then: () => void) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      then();
    };
    stdin.on('data', onData);
  });
}

function canOpenBrowser(env: Record<string, string | undefined>): boolean {
  if (env.LATCHKEY_BROWSER) return true;
  if (process.platform === 'darwin' || process.platform === 'win32') return !env.SSH_CONNECTION && !env.SSH_TTY;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/** LATCHKEY_BROWSER (a program taking the URL; tests point it at a script), else the platform's opener. */
async function openBrowser(env: Record<string, string | undefined>, url: string): Promise<boolean> {
  // Loaded here, not at start-up: only a browser login needs to start a process.
  const [{ spawn }, { browserCommand }] = await Promise.all([import('node:child_process'), import('./open-url.ts')]);
  const [command, ...args] = browserCommand(process.platform, env, url);
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}

/** The host name as the server accepts a device name (shared DeviceName): plain text, at most 64. */
function deviceName(host: string): string | undefined {
  const cleaned = host.replace(/[^\p{L}\p{N} ._'()-]/gu, '-').slice(0, 64);
  return cleaned === '' ? undefined : cleaned;
}

function realDeps(): CliDeps {
  const env = process.env;
  // Getters: in the compiled CLI, touching process.stdin or process.stderr costs ~8 ms (host.ts).
  const terminal = () => Boolean(process.stdin.isTTY && process.stderr.isTTY);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const dir = configDir(env);
  // Everything a command prints passes printableOutput: no server text steers the terminal.
  const [stdout, stderr] = [output(1), output(2)];
  return {
    io: {
      out: (text) => stdout(printableOutput(text)),
      err: (text) => stderr(printableOutput(text)),
      progress: (line) => stderr(line === null ? '\r\x1b[K' : `\r${printable(line)}`),
      readStdin: readAllStdin,
      readFile: readNamedFile,
      get interactive() {
        return Boolean(process.stderr.isTTY);
      },
      get ask() {
        return terminal() ? askLine : null;
      },
    },
    env,
    now: Date.now,
    config: configStore(dir),
    secrets: {
      dir,
      env,
      keychain: osKeychain({ platform: process.platform, env }),
      get promptPassphrase() {
        return terminal() ? promptHidden : null;
      },
      tokenCache: tokenCache({ env, configDir: dir, uid: process.getuid?.() }),
    },
    client: async (server, clientId) => {
      const [{ createClient }, { hostname }] = await Promise.all([import('./client.ts'), import('node:os')]);
      return createClient({ server, clientId, userAgent: `latchkey-cli/${VERSION}`, deviceName: deviceName(hostname()) });
    },
    sleep: (ms, signal) =>
      new Promise((resolve, reject) => {
        if (signal.aborted) return reject(new CliError('cancelled', 'cancelled'));
        const timer = setTimeout(resolve, ms);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(new CliError('cancelled', 'cancelled; nothing was stored'));
          },
          { once: true },
        );
      }),
    canOpenBrowser: () => canOpenBrowser(env),
    openBrowser: (url) => openBrowser(env, url),
    fetch: (input, init) => fetch(input, init),
    signal: controller.signal,
  };
}

if (import.meta.main ?? process.argv[1]?.endsWith('main.ts')) {
  process.exitCode = await run(process.argv.slice(2), realDeps());
}
