/**
 * `latchkey status` / `whoami`: which credential this invocation would use, why, and whose
 * it is. `status --all`: every context, each asked of its own server at once.
 */

import { readCapped } from '../../packages/client/src/client.ts';
import type { Context } from '../../packages/client/src/config.ts';
import {
  markSessionEnded,
  refusalListener,
  SESSION_REVOKED,
  sessionEndedMessage,
  validStoredToken,
} from '../../packages/client/src/credential.ts';
import { printable } from '../../packages/client/src/printable.ts';
import { stampOf } from '../../packages/client/src/token-cache.ts';
import { MeResponse } from '../../shared/schemas.ts';
import { openApi, printJson, printTable } from '../api.ts';
import { type Command, flag, oneOf } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { untilText } from '../durations.ts';
import { CliError } from '../errors.ts';
import { rfc3339 } from '../rfc3339.ts';

const SOURCE_TEXT = {
  'token-stdin': 'read from standard input (--token-stdin)',
  env: 'from LATCHKEY_TOKEN, which overrides any stored login',
  stored: 'stored by `latchkey login`',
} as const;

/** How long `status --all` waits for each server: one that does not answer is shown so, not waited for. */
export const STATUS_ALL_TIMEOUT_MS = 3000;
/** The most of a /v1/me answer `status --all` reads (a real one is under 1 KiB); more is a server error for that row. */
export const STATUS_ALL_MAX_BODY = 64 * 1024;

/**
 * Whether the CLI renews this credential by itself: only a stored login with a session
 * (a refresh token came with it); an API key, a CI token or a token passed in is what it is.
 */
const renewable = (stored: boolean, me: MeResponse) => stored && me.kind === 'user' && me.session_id !== null;

export async function status(deps: CliDeps, global: GlobalOptions, options: { tokenStdin: boolean }): Promise<void> {
  const { resolved, client } = await openApi(deps, global, options);
  const me = await client.me(resolved.token).catch(await refusalListener(deps, resolved));
  const stored = resolved.source === 'stored' && resolved.context !== null;
  const report = {
    server: resolved.server,
    context: resolved.contextName,
    source: resolved.source,
    source_reason: SOURCE_TEXT[resolved.source],
    secret_store: stored ? resolved.context?.secretStore : null,
    secret_store_reason: stored ? resolved.context?.secretStoreReason : null,
    sub: me.sub,
    email: me.email,
    kind: me.kind,
    org: me.org,
    project: me.project,
    scope: me.scope,
    expires_at: rfc3339(me.exp),
    renewed_automatically: renewable(stored, me),
    session_id: me.session_id,
  };
  if (global.json) return printJson(deps, report);
  // The server's words, one value each: printable() keeps them from adding lines.
  const said = (value: string | null | undefined) => (value === null || value === undefined ? '-' : printable(value));
  const what = me.kind === 'api_key' ? 'key' : 'token';
  const renewal = report.renewed_automatically ? '; renewed automatically' : '';
  const lines = [
    `Logged in to ${said(report.server)} as ${said(me.email ?? me.sub)} (${me.kind})`,
    `  context:      ${report.context ?? '(none)'}`,
    `  credential:   ${report.source_reason}`,
    ...(stored ? [`  secret store: ${report.secret_store} — ${said(report.secret_store_reason)}`] : []),
    `  org/project:  ${said(me.org)} / ${said(me.project)}`,
    `  scope:        ${said(me.scope)}`,
    `  ${what} expires: ${report.expires_at} (${untilText(me.exp, deps.now())}${renewal})`,
  ];
  deps.io.out(`${lines.join('\n')}\n`);
}

/** What `status --all` found for one context. */
type Checked = {
  context: string;
  current: boolean;
  server: string;
  /** valid: the server took it; revoked: the server ended it; the rest say why it could not be told. */
  state: 'valid' | 'revoked' | 'refused' | 'expired' | 'unreachable' | 'server_error' | 'unavailable';
  email: string | null;
  kind: string;
  org: string | null;
  project: string | null;
  expires_at: string | null;
  /** What went wrong, in the words of the server or the secret store; null when valid. */
  message: string | null;
  /** The command that fixes it; null when valid. */
  next_step: string | null;
};

export async function statusAll(deps: CliDeps, global: GlobalOptions): Promise<void> {
  const config = await deps.config.read();
  const names = Object.keys(config.contexts);
  if (names.length === 0) {
    if (global.json) return printJson(deps, []);
    return deps.io.err('No contexts. Run `latchkey login --server URL`.\n');
  }
  // Opened one after another (a passphrase may be asked at the terminal), then asked of
  // their servers all at once, each within STATUS_ALL_TIMEOUT_MS.
  const opened: Array<{ name: string; context: Context; token: string | Checked; stamp: string | null }> = [];
  for (const name of names) {
    const context = config.contexts[name] as Context;
    const token = await validStoredToken(deps, name, context).catch((error: unknown) =>
      failed(name, config.current === name, context, error),
    );
    // Taken after the token: a renewal just now rewrote the sealed file, and a mark must name the file as it now is.
    const stamp = await stampOf(deps.config.dir, name);
    opened.push({ name, context, token, stamp });
  }
  const checked = await Promise.all(
    opened.map(({ name, context, token, stamp }) =>
      typeof token === 'string' ? checkLive(deps, name, config.current === name, context, token, stamp) : token,
    ),
  );
  if (global.json) return printJson(deps, checked);
  printTable(
    deps,
    ['', 'context', 'server', 'who', 'state', 'expires'],
    checked.map((row) => [
      row.current ? '*' : '',
      row.context,
      row.server,
      row.email ?? '-',
      row.state,
      row.expires_at === null ? '-' : untilText(Date.parse(row.expires_at) / 1000, deps.now()),
    ]),
  );
  for (const row of checked) {
    if (row.next_step !== null) deps.io.err(`${row.context}: ${printable(row.message ?? row.state)}; ${row.next_step}\n`);
  }
  deps.io.err('* the current context\n');
}

/** One context's row, asked of its own server; every outcome is a row, none an error of the command. */
async function checkLive(
  deps: CliDeps,
  name: string,
  current: boolean,
  context: Context,
  token: string,
  stamp: string | null,
): Promise<Checked> {
  const base = row(name, current, context);
  let response: Response;
  try {
    response = await deps.fetch(`${context.server.replace(/\/+$/, '')}/v1/me`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: AbortSignal.any([AbortSignal.timeout(STATUS_ALL_TIMEOUT_MS), deps.signal]),
      redirect: 'manual',
    });
  } catch (error) {
    const timedOut = error instanceof Error && error.name === 'TimeoutError';
    const message = timedOut ? `no answer within ${STATUS_ALL_TIMEOUT_MS / 1000} s` : 'cannot reach the server';
    return { ...base, state: 'unreachable', message, next_step: checkServer };
  }
  let body: unknown = null;
  try {
    body = JSON.parse(await readCapped(response, STATUS_ALL_MAX_BODY));
  } catch (error) {
    // Too large (readCapped's CliError): the server's fault, said so. Not JSON, or cut off: the shape check below says so.
    if (error instanceof CliError) {
      const message = `answered /v1/me with more than ${STATUS_ALL_MAX_BODY / 1024} KiB`;
      return { ...base, state: 'server_error', message, next_step: checkServer };
    }
  }
  if (response.status === 401) {
    const description = (body as { error_description?: unknown } | null)?.error_description;
    const said = typeof description === 'string' ? description.slice(0, 200) : 'the server refused the credential';
    if (SESSION_REVOKED.test(said)) {
      await markSessionEnded(deps, name, stamp);
      return { ...base, state: 'revoked', message: said, next_step: loginAgain(name) };
    }
    await deps.secrets.tokenCache?.forget(name);
    return { ...base, state: 'refused', message: said, next_step: loginAgain(name) };
  }
  const me = MeResponse.safeParse(body);
  if (!response.ok || !me.success) {
    const message = response.ok ? 'answered /v1/me with an unexpected shape' : `answered HTTP ${response.status}`;
    return { ...base, state: 'server_error', message, next_step: checkServer };
  }
  return {
    ...base,
    state: 'valid',
    email: me.data.email ?? me.data.sub,
    kind: me.data.kind,
    org: me.data.org,
    project: me.data.project,
    expires_at: rfc3339(me.data.exp),
  };
}

const checkServer = 'check the server, then `latchkey status --all` again';
const loginAgain = (name: string) => `run \`latchkey login --name ${name}\``;

const row = (name: string, current: boolean, context: Context): Checked => ({
  context: name,
  current,
  server: context.server,
  state: 'valid',
  email: context.user?.email ?? context.user?.sub ?? null,
  kind: context.kind,
  org: context.org,
  project: context.project,
  expires_at: null,
  message: null,
  next_step: null,
});

/** A context whose credential could not even be opened or renewed: why, as a row. */
function failed(name: string, current: boolean, context: Context, error: unknown): Checked {
  if (!(error instanceof CliError)) throw error;
  const base = row(name, current, context);
  const again = loginAgain(name);
  switch (error.code) {
    case 'session_expired':
      // The server refused the refresh token (or had already: sessionEndedMessage); no token left to ask with.
      return error.message === sessionEndedMessage(name)
        ? { ...base, state: 'revoked', message: 'the server ended the session', next_step: again }
        : { ...base, state: 'expired', message: error.message, next_step: again };
    case 'not_logged_in':
      return { ...base, state: 'unavailable', message: error.message, next_step: again };
    case 'unreachable':
    case 'timed_out':
      return { ...base, state: 'unreachable', message: error.message, next_step: 'check the server, then try again' };
    case 'server_error':
      return { ...base, state: 'server_error', message: error.message, next_step: 'check the server, then try again' };
    default:
      // The secret store (locked keychain, wrong passphrase, corrupt file): the server was not asked.
      return { ...base, state: 'unavailable', message: error.message, next_step: `\`latchkey status --context ${name}\`` };
  }
}

export const command: Command = {
  usage: ['status [--token-stdin]', 'status --all', 'whoami [--token-stdin]'],
  help: `Asks the server whose the credential is, so a revoked or expired one shows here.
--all checks every context against its own server at once (each within ${STATUS_ALL_TIMEOUT_MS / 1000} s) and marks
the current one; a server that does not answer is shown as unreachable.`,
  options: {
    'token-stdin': { type: 'boolean', description: 'check the token on standard input instead' },
    all: { type: 'boolean', description: 'every context, each checked against its server' },
  },
  maxArgs: 0,
  run: (deps, global, parsed) => {
    if (flag(parsed, 'all')) {
      // Every context, each against the server it was made for.
      for (const other of ['token-stdin', 'context', 'server']) oneOf(parsed, 'all', other);
      return statusAll(deps, global);
    }
    return status(deps, global, { tokenStdin: flag(parsed, 'token-stdin') });
  },
};
