/** `latchkey status` / `whoami`: which credential this invocation would use, why, and whose it is. */
import { openApi, printJson } from '../api.ts';
import { type Command, flag } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { printable } from '../printable.ts';

const SOURCE_TEXT = {
  'token-stdin': 'read from standard input (--token-stdin)',
  env: 'from LATCHKEY_TOKEN, which overrides any stored login',
  stored: 'stored by `latchkey login`',
} as const;

export async function status(deps: CliDeps, global: GlobalOptions, options: { tokenStdin: boolean }): Promise<void> {
  const { resolved, client } = await openApi(deps, global, options);
  const me = await client.me(resolved.token);
  const stored = resolved.source === 'stored' && resolved.context;
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
    expires_at: new Date(me.exp * 1000).toISOString(),
    session_id: me.session_id,
  };
  if (global.json) return printJson(deps, report);
  const minutes = Math.round((me.exp * 1000 - deps.now()) / 60000);
  // The server's words, one value each: printable() keeps them from adding lines.
  const said = (value: string | null | undefined) => (value === null || value === undefined ? '-' : printable(value));
  const lines = [
    `Logged in to ${said(report.server)} as ${said(me.email ?? me.sub)} (${me.kind})`,
    `  context:      ${report.context ?? '(none)'}`,
    `  credential:   ${report.source_reason}`,
    ...(stored ? [`  secret store: ${report.secret_store} — ${said(report.secret_store_reason)}`] : []),
    `  org/project:  ${said(me.org)} / ${said(me.project)}`,
    `  scope:        ${said(me.scope)}`,
    `  token expires: ${report.expires_at} (in ${minutes} min; refreshed automatically)`,
  ];
  deps.io.out(`${lines.join('\n')}\n`);
}

export const command: Command = {
  usage: ['status [--token-stdin]', 'whoami [--token-stdin]'],
  help: 'Asks the server whose the credential is, so a revoked or expired one shows here.',
  options: { 'token-stdin': { type: 'boolean', description: 'check the token on standard input instead' } },
  maxArgs: 0,
  run: (deps, global, parsed) => status(deps, global, { tokenStdin: flag(parsed, 'token-stdin') }),
};
