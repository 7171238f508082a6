/**
 * What the /v1 commands (orgs, projects, members, keys, sessions, audit) share: the
 * credential this invocation uses, which org it means, and asking before destroying.
 */
import type * as z from 'zod';
import type { LatchkeyClient } from '../packages/client/src/client.ts';
import { type Resolved, refusalListener, resolveCredential } from '../packages/client/src/credential.ts';
import { printable } from '../packages/client/src/printable.ts';
import { BUILTIN_CLIENT_ID, OrgList } from '../shared/schemas.ts';
import type { CliDeps, GlobalOptions } from './deps.ts';
import { CliError } from './errors.ts';
import { rfc3339 } from './rfc3339.ts';

export type Api = {
  /** The credential this invocation uses, and why (see packages/client/src/credential.ts). */
  resolved: Resolved & { server: string };
  client: LatchkeyClient;
  call<T extends z.ZodType>(
    schema: T,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: Record<string, unknown>,
  ): Promise<z.infer<T>>;
};

export async function openApi(deps: CliDeps, global: GlobalOptions, options = { tokenStdin: false }): Promise<Api> {
  const resolved = await resolveCredential(deps, global, options);
  const { server } = resolved;
  if (!server) throw new CliError('usage', 'which server? pass --server URL or set LATCHKEY_SERVER');
  const client = await deps.client(server, resolved.context?.clientId ?? BUILTIN_CLIENT_ID);
  const heard = await refusalListener(deps, resolved);
  // Once a second factor is proven, the calls after it in this run carry the new token.
  let token = resolved.token;
  let steppedUp = false;
  const stepUpNeeded = (error: unknown) => error instanceof CliError && error.code === 'step_up_required';
  return {
    resolved: { ...resolved, server },
    client,
    async call(schema, method, path, body) {
      try {
        return await client.v1(schema, method, path, token, body);
      } catch (error) {
        // A 401 step-up challenge means the act was refused, not done: asking for the code and
        // sending it once more is safe, even for a POST. Never twice in a run, whatever the server says.
        if (!stepUpNeeded(error) || steppedUp) return heard(error);
        steppedUp = true;
        const { stepUpAtTerminal } = await import('./step-up.ts');
        token = await stepUpAtTerminal(deps, global, resolved, error as CliError);
      }
      return client.v1(schema, method, path, token, body).catch((error: unknown) => {
        if (!stepUpNeeded(error)) return heard(error);
        throw new CliError(
          'step_up_required',
          `the server asked again for a second factor just proven (${(error as CliError).message}); latchkey does not retry twice`,
        );
      });
    },
  };
}

/**
 * Which org a command acts on: --org, else LATCHKEY_ORG, else the API key's own org, else
 * the one org the person belongs to. Several orgs and none named is a usage error listing them.
 */
export async function chooseOrg(deps: CliDeps, global: GlobalOptions, api: Api): Promise<string> {
  const named = global.org ?? deps.env.LATCHKEY_ORG ?? api.resolved.context?.org;
  if (named) return named;
  const { orgs } = await api.call(OrgList, 'GET', '/v1/orgs');
  if (orgs.length === 1) return (orgs[0] as { slug: string }).slug;
  if (orgs.length === 0) throw new CliError('usage', 'you are in no org yet; create one with `latchkey orgs create SLUG`');
  throw new CliError('usage', `which org? pass --org (one of: ${orgs.map((org) => org.slug).join(', ')})`);
}

/** --confirm, or a yes at the terminal; without a terminal, --confirm is required. */
export async function confirm(deps: CliDeps, confirmed: boolean, question: string): Promise<void> {
  if (confirmed) return;
  if (!deps.io.ask) throw new CliError('usage', `${question} Pass --confirm to do this without a prompt.`);
  const answer = (await deps.io.ask(`${printable(question)} [y/N] `)).trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes') throw new CliError('cancelled', 'nothing was changed');
}

export const path = (...parts: string[]) => parts.map((part) => encodeURIComponent(part)).join('/');

/**
 * Rows as aligned columns on stdout; the header in capitals, like `gh` and `kubectl`.
 * Cells are mostly the server's text: each is printable(), so none adds a line or a column.
 */
export function printTable(deps: CliDeps, headers: string[], cells: string[][]): void {
  const rows = cells.map((row) => row.map(printable));
  const widths = headers.map((header, index) => Math.max(header.length, ...rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, index) => (index === cells.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
      .join('  ')
      .trimEnd();
  deps.io.out(`${[line(headers.map((header) => header.toUpperCase())), ...rows.map(line)].join('\n')}\n`);
}

/**
 * JSON on stdout in the CLI's one style (README, "JSON output"): snake_case keys, times as
 * RFC 3339. The /v1 API gives times as epoch seconds in `*_at` fields (and OpenID Connect's
 * `auth_time`); they become RFC 3339 here, at every depth, so no command can print one the other way.
 */
export const printJson = (deps: CliDeps, value: unknown) => deps.io.out(`${JSON.stringify(jsonStyle(value), null, 2)}\n`);

export function jsonStyle(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonStyle);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      (key.endsWith('_at') || key === 'auth_time') && typeof field === 'number' ? rfc3339(field) : jsonStyle(field),
    ]),
  );
}
