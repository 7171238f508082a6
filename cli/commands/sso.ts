/**
 * `latchkey sso show | set | test | enable | disable | enforce | unenforce | remove`: an
 * org's SSO connection. The client secret is read from standard input
 * (`--client-secret-stdin`), never from a flag a process listing or shell history would
 * show, and the server never gives it back. `test` prints the provider's sign-in URL on
 * stdout (it is the data): it is the org's provider's, not this server's, so latchkey does
 * not open it itself.
 */

import { printable } from '../../packages/client/src/printable.ts';
import { SsoConnectionInfo, type SsoConnectionWrite, SsoTestStart } from '../../shared/schemas.ts';
import { type Api, chooseOrg, confirm, openApi, path, printJson, printTable } from '../api.ts';
import { type Command, flag, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { isoTime } from '../rfc3339.ts';

export type SsoOptions = {
  issuer: string | undefined;
  clientId: string | undefined;
  clientSecretStdin: boolean;
  /** `member`, `admin`, or `off`; undefined: keep what it is. */
  jitRole: string | undefined;
  confirm: boolean;
};

/** `--jit-role`'s words: the roles just-in-time membership may give, or `off`. */
const JIT_ROLES = ['member', 'admin', 'off'] as const;

const ACTIONS = ['show', 'set', 'test', 'enable', 'disable', 'enforce', 'unenforce', 'remove'] as const;
type Action = (typeof ACTIONS)[number];

/** What each switch asks of the connection; the issuer and client id are sent as they are. */
const SWITCHES: Partial<Record<Action, Pick<SsoConnectionWrite, 'enabled' | 'enforced'>>> = {
  enable: { enabled: true },
  disable: { enabled: false, enforced: false },
  enforce: { enforced: true },
  unenforce: { enforced: false },
};

function printConnection(deps: CliDeps, org: string, connection: SsoConnectionInfo) {
  printTable(
    deps,
    ['field', 'value'],
    [
      ['org', org],
      ['issuer', connection.issuer],
      ['client id', connection.client_id],
      ['enabled', String(connection.enabled)],
      ['enforced', String(connection.enforced)],
      ['jit role', connection.jit_role ?? 'off'],
      ['tested', connection.tested_at === null ? 'never' : `${isoTime(connection.tested_at)} by ${connection.tested_by ?? '?'}`],
      ['redirect uri', connection.redirect_uri],
      ['created', `${isoTime(connection.created_at)} by ${connection.created_by}`],
    ],
  );
}

async function readSecret(deps: CliDeps): Promise<string> {
  // One line: a trailing newline from `echo` or a file is not part of the secret.
  const secret = (await deps.io.readStdin()).replace(/\r?\n$/, '');
  if (!secret) throw new CliError('usage', 'no client secret on standard input');
  return secret;
}

export async function sso(deps: CliDeps, global: GlobalOptions, action: string | undefined, options: SsoOptions) {
  const chosen = (action ?? 'show') as Action;
  if (!ACTIONS.includes(chosen)) throw new CliError('usage', `unknown action "sso ${action}"; use ${ACTIONS.join(', ')}`);
  if (chosen !== 'set' && (options.issuer || options.clientId || options.clientSecretStdin || options.jitRole)) {
    throw new CliError('usage', '--issuer, --client-id, --client-secret-stdin and --jit-role belong to `latchkey sso set`');
  }
  const jitRole = options.jitRole;
  if (jitRole !== undefined && !(JIT_ROLES as readonly string[]).includes(jitRole)) {
    throw new CliError('usage', `--jit-role is one of ${JIT_ROLES.join(', ')} (never owner)`);
  }
  const api = await openApi(deps, global);
  const org = await chooseOrg(deps, global, api);
  const base = `/v1/orgs/${path(org)}/sso`;
  const done = (connection: SsoConnectionInfo, said: string) => {
    if (global.json) return printJson(deps, connection);
    deps.io.err(`${said}\n`);
  };

  switch (chosen) {
    case 'show': {
      const connection = await api.call(SsoConnectionInfo, 'GET', base);
      if (global.json) return printJson(deps, connection);
      return printConnection(deps, org, connection);
    }
    case 'set': {
      const current = options.issuer && options.clientId ? null : await currentOrNull(api, base);
      const issuer = options.issuer ?? current?.issuer;
      const clientId = options.clientId ?? current?.client_id;
      if (!issuer || !clientId)
        throw new CliError('usage', 'usage: latchkey sso set --issuer URL --client-id ID --client-secret-stdin');
      const body: SsoConnectionWrite = { issuer, client_id: clientId };
      if (options.clientSecretStdin) body.client_secret = await readSecret(deps);
      if (jitRole !== undefined) body.jit_role = jitRole === 'off' ? null : (jitRole as 'member' | 'admin');
      const connection = await api.call(SsoConnectionInfo, 'PUT', base, body);
      return done(
        connection,
        `Saved the SSO connection of ${org} (${printable(connection.issuer)}). Register ${printable(connection.redirect_uri)} as the client's redirect URI at the provider${connection.tested_at === null ? ', then run `latchkey sso test` and sign in there before enabling it' : ''}.`,
      );
    }
    case 'test': {
      const started = await api.call(SsoTestStart, 'POST', `${base}/test`);
      if (global.json) return printJson(deps, started);
      deps.io.err(
        `Open this URL in a browser and sign in at ${org}'s provider within ${Math.round(started.expires_in / 60)} minutes; then \`latchkey sso show\` says when it was tested:\n`,
      );
      return deps.io.out(`${printable(started.authorization_url)}\n`);
    }
    case 'enable':
    case 'disable':
    case 'enforce':
    case 'unenforce': {
      const current = await api.call(SsoConnectionInfo, 'GET', base);
      const connection = await api.call(SsoConnectionInfo, 'PUT', base, {
        issuer: current.issuer,
        client_id: current.client_id,
        ...SWITCHES[chosen],
      });
      const said = {
        enable: `SSO is enabled for ${org}.`,
        disable: `SSO is disabled for ${org}; people sign in as before.`,
        enforce: `SSO is enforced for ${org}: people of its verified domains sign in only through it.`,
        unenforce: `SSO is no longer enforced for ${org}.`,
      }[chosen];
      return done(connection, said);
    }
    case 'remove': {
      await confirm(deps, options.confirm, `Remove the SSO connection of ${org}? Its client secret is deleted.`);
      const removed = await api.call(SsoConnectionInfo, 'DELETE', base);
      return done(removed, `Removed the SSO connection of ${org} (${printable(removed.issuer)}).`);
    }
  }
}

/** The connection, or null when the org has none (so `set` can make one). */
async function currentOrNull(api: Api, base: string): Promise<SsoConnectionInfo | null> {
  try {
    return await api.call(SsoConnectionInfo, 'GET', base);
  } catch (error) {
    if (error instanceof CliError && /has no SSO connection/.test(error.message)) return null;
    throw error;
  }
}

export const command: Command = {
  usage: [
    'sso show',
    'sso set --issuer URL --client-id ID --client-secret-stdin [--jit-role member|admin|off]',
    'sso test',
    'sso enable | disable | enforce | unenforce',
    'sso remove [--confirm]',
  ],
  help: `An org's own OpenID provider (Okta, Entra, Google Workspace, Auth0, any other) for its people.
\`sso set\` saves the issuer, client id and client secret (read from standard input:
\`printf %s "$SECRET" | latchkey sso set --org acme --issuer https://acme.okta.com --client-id ID --client-secret-stdin\`);
register the redirect URI it prints with the provider. \`sso test\` prints a URL: open it
and sign in at the provider; once that worked, \`sso enable\` turns the connection on and
\`sso enforce\` requires it (enforcing is refused unless enabled). A new issuer or client id
needs its secret again and a new test. The secret is never shown again. \`--jit-role member\`
(or admin) makes people of the org's verified domains members when they first sign in
through it (off by default; \`--jit-role off\` turns it off). Owners and admins only; API
keys may \`show\`.`,
  options: {
    issuer: {
      type: 'string',
      value: 'URL',
      description: "the provider's issuer (https), exactly as its discovery document names it",
    },
    'client-id': { type: 'string', value: 'ID', description: "latchkey's client id at the provider" },
    'client-secret-stdin': { type: 'boolean', description: 'read the client secret from standard input' },
    'jit-role': {
      type: 'string',
      value: 'ROLE',
      description: 'just-in-time membership: member, admin, or off (new people of the verified domains join)',
    },
    confirm: { type: 'boolean', description: 'remove without asking' },
  },
  subcommands: ACTIONS,
  maxArgs: 1,
  run: (deps, global, parsed) =>
    sso(deps, global, parsed.args[0], {
      issuer: text(parsed, 'issuer'),
      clientId: text(parsed, 'client-id'),
      clientSecretStdin: flag(parsed, 'client-secret-stdin'),
      jitRole: text(parsed, 'jit-role'),
      confirm: flag(parsed, 'confirm'),
    }),
};
