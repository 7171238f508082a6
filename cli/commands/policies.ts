/**
 * `latchkey policies list | create --file F | delete ID | test`: an org's CI trust
 * policies. A policy is written as JSON in the form the server documents (a `preset` and
 * its claims); `test` asks the org's dry-run what the exchange would do with a CI token.
 */

import { printable } from '../../packages/client/src/printable.ts';
import {
  DryRunResponse,
  type TrustPolicyInfo,
  TrustPolicyList,
  TrustPolicyInfo as TrustPolicySchema,
} from '../../shared/trust-policy.ts';
import { chooseOrg, confirm, openApi, path, printJson, printTable } from '../api.ts';
import { type Command, flag, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { isoTime } from '../rfc3339.ts';

export type PoliciesOptions = {
  file: string | undefined;
  idTokenStdin: boolean;
  project: string | undefined;
  confirm: boolean;
};

/** A policy is a few hundred bytes; anything past this is not one. */
const MAX_INPUT_BYTES = 64 * 1024;

async function readInput(deps: CliDeps, file: string, what: string): Promise<string> {
  const text = file === '-' ? await deps.io.readStdin() : await deps.io.readFile(file);
  if (text.length > MAX_INPUT_BYTES) throw new CliError('usage', `${what} is larger than ${MAX_INPUT_BYTES} bytes`);
  return text;
}

const conditions = (policy: TrustPolicyInfo) =>
  [`aud=${policy.audience}`, ...Object.entries(policy.claims).map(([claim, pattern]) => `${claim}=${pattern}`)].join(' ');

export async function policies(
  deps: CliDeps,
  global: GlobalOptions,
  action: string | undefined,
  id: string | undefined,
  options: PoliciesOptions,
) {
  const api = await openApi(deps, global);
  const org = await chooseOrg(deps, global, api);
  const base = `/v1/orgs/${path(org)}/trust-policies`;

  switch (action ?? 'list') {
    case 'list': {
      const { policies: list } = await api.call(TrustPolicyList, 'GET', base);
      if (global.json) return printJson(deps, list);
      if (list.length === 0)
        return deps.io.err(`No trust policies in ${org}. Create one with \`latchkey policies create --file policy.json\`.\n`);
      printTable(
        deps,
        ['id', 'project', 'scopes', 'issuer', 'conditions', 'set by'],
        list.map((policy) => [
          policy.id,
          policy.grant.project,
          policy.grant.scopes.join(' '),
          policy.issuer,
          conditions(policy),
          policy.source === 'config' ? 'server config' : `${policy.created_by} ${isoTime(policy.created_at)}`,
        ]),
      );
      return;
    }
    case 'create': {
      if (!options.file)
        throw new CliError('usage', 'usage: latchkey policies create --file policy.json (or --file - for stdin)');
      const text = await readInput(deps, options.file, 'the policy');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new CliError('usage', `${options.file === '-' ? 'stdin' : options.file} is not JSON`);
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new CliError('usage', 'a policy is one JSON object');
      const created = await api.call(TrustPolicySchema, 'POST', base, body as Record<string, unknown>);
      if (global.json) return printJson(deps, created);
      const summary =
        `Created trust policy ${created.id} in ${org}: tokens from ${created.issuer} with ${conditions(created)} ` +
        `may be exchanged for ${created.grant.scopes.join(' ')} on project ${created.grant.project}.`;
      return deps.io.err(`${printable(summary)}\n`);
    }
    case 'delete': {
      if (!id) throw new CliError('usage', 'usage: latchkey policies delete POLICY_ID [--confirm]');
      await confirm(
        deps,
        options.confirm,
        `Delete trust policy ${id} in ${org}? CI jobs it admits are refused from their next exchange.`,
      );
      const deleted = await api.call(TrustPolicySchema, 'DELETE', `${base}/${path(id)}`);
      if (global.json) return printJson(deps, deleted);
      return deps.io.err(`Deleted trust policy ${printable(deleted.id)}.\n`);
    }
    case 'test': {
      if (options.idTokenStdin === Boolean(options.file))
        throw new CliError('usage', 'usage: latchkey policies test (--id-token-stdin | --file TOKEN_FILE) [--project P]');
      const token = (await readInput(deps, options.file ?? '-', 'the ID token')).trim();
      if (token === '') throw new CliError('usage', 'the ID token is empty');
      const result = await api.call(DryRunResponse, 'POST', `${base}/dry-run`, {
        subject_token: token,
        ...(options.project ? { audience: options.project } : {}),
      });
      if (global.json) printJson(deps, result);
      else report(deps, result);
      // Like `test(1)`: a script can ask "would this job get a token?" by the exit status.
      if (!result.would_issue) throw new CliError('failed', 'the exchange would refuse this token');
      return;
    }
    default:
      throw new CliError('usage', `unknown action "policies ${action}"; use list, create, delete or test`);
  }
}

/** The dry-run in prose; everything in it is the server's, so every line passes printable(). */
function report(deps: CliDeps, result: DryRunResponse) {
  const say = (line: string) => deps.io.err(`${printable(line)}\n`);
  const { token } = result;
  if (!token.verified) {
    say(
      `The token did not verify (issuer ${token.issuer ?? 'unknown'}${token.trusted_issuer ? '' : ', not trusted here'}): ${token.error}`,
    );
    return;
  }
  say(`Token from ${token.issuer}: verified.`);
  if (result.policies.length === 0) say('No policy of this org applies to tokens of that issuer and project.');
  for (const policy of result.policies) {
    if (policy.matched) say(`  ${policy.id}: matches`);
    else {
      const failed = policy.failed.map(
        (failure) =>
          `${failure.claim} is ${failure.actual === null ? 'missing' : JSON.stringify(failure.actual)}, wants ${JSON.stringify(failure.expected)}`,
      );
      say(`  ${policy.id}: no — ${failed.join('; ')}`);
    }
  }
  const issue = result.would_issue;
  if (issue) say(`Would issue: ${issue.scope} on project ${issue.project} for ${issue.expires_in}s (policy ${issue.policy}).`);
  else say(`Would refuse: ${result.would_refuse}`);
}

export const command: Command = {
  usage: [
    'policies list',
    'policies create --file F',
    'policies delete POLICY_ID [--confirm]',
    'policies test (--id-token-stdin | --file F) [--project P]',
  ],
  help: `Manages the org's CI trust policies, each a JSON object (see the README); --file - reads
it from stdin. \`policies test\` shows what the exchange would do with a CI ID token under
the org's policies, each failing condition named, and exits 1 if refused.`,
  options: {
    file: { type: 'string', value: 'F', description: 'a policy (create) or an ID token (test); - for stdin' },
    'id-token-stdin': { type: 'boolean', description: 'test: read the CI ID token from stdin' },
    confirm: { type: 'boolean', description: 'do it without asking' },
  },
  subcommands: ['list', 'create', 'delete', 'test'],
  maxArgs: 2,
  run: (deps, global, parsed) =>
    policies(deps, global, parsed.args[0], parsed.args[1], {
      file: text(parsed, 'file'),
      idTokenStdin: flag(parsed, 'id-token-stdin'),
      project: global.project,
      confirm: flag(parsed, 'confirm'),
    }),
};
