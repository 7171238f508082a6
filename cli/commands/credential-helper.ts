/**
 * `latchkey credential-helper get|store|erase`: git's credential protocol (gitcredentials,
 * git-credential "INPUT/OUTPUT FORMAT"). Git writes `key=value` lines ending with a blank
 * line and reads `username=` and `password=` back. The host is whatever remote git is
 * talking to, so the token goes only to a host this context is bound to (bound-hosts.ts);
 * for any other, or for input that is not plainly one request, nothing is printed and git
 * asks its next helper. `store` and `erase` do nothing: latchkey keeps its token itself.
 */
import { boundContext, boundToken, gitHosts, isBound, tokenExpiry } from '../bound-hosts.ts';
import type { Command } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';

/** The name git's `password=` goes with; servers that take a token as a password do not read it. */
export const HELPER_USERNAME = 'latchkey';

/**
 * One request's attributes, or null when it is not one plain request: a line without `=`,
 * a control character in a value, a key given twice with different values. Lines end with
 * LF or CR LF (git's own reader strips the CR); the request ends at a blank line or at the
 * end of input. Multi-valued keys (`wwwauth[]`, `capability[]`) are not needed and skipped.
 */
export function parseGitRequest(text: string): Map<string, string> | null {
  const attributes = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') break;
    const equals = line.indexOf('=');
    if (equals <= 0) return null;
    const [key, value] = [line.slice(0, equals), line.slice(equals + 1)];
    if (/[\u0000-\u001f\u007f]/.test(value)) return null;
    if (key.endsWith('[]')) continue;
    if (attributes.has(key) && attributes.get(key) !== value) return null;
    attributes.set(key, value);
  }
  return attributes;
}

export async function credentialGet(deps: CliDeps, global: GlobalOptions): Promise<void> {
  const request = parseGitRequest(await deps.io.readStdin());
  const protocol = request?.get('protocol');
  const host = request?.get('host');
  if (protocol === undefined || host === undefined) return;
  // Which hosts are bound is read before the secret is opened: an unbound host costs no passphrase.
  const selected = await boundContext(deps, global);
  if (selected === null || !isBound(gitHosts(selected.context), protocol, host)) return;
  const { name, context } = selected;
  const token = await boundToken(deps, name, context);
  const expiry = tokenExpiry(token);
  // password_expiry_utc (git 2.41+): git will not reuse the token past it; older gits skip the line.
  deps.io.out(`username=${HELPER_USERNAME}\npassword=${token}\n${expiry === null ? '' : `password_expiry_utc=${expiry}\n`}`);
}

export const command: Command = {
  usage: ['credential-helper get|store|erase'],
  help: `Git's credential helper: git runs it (set up by \`latchkey setup-git\`), not you.
It answers \`get\` with this context's access token for the host of the context's server and
for the hosts \`setup-git --host\` bound, over https (http only to 127.0.0.1, localhost,
[::1]); for any other host it prints nothing and git asks its next helper. \`store\` and
\`erase\` do nothing: latchkey refreshes its token itself.`,
  options: {},
  subcommands: ['get', 'store', 'erase'],
  maxArgs: 1,
  async run(deps, global, parsed) {
    const [action] = parsed.args;
    if (action === undefined) throw new CliError('usage', 'usage: latchkey credential-helper get|store|erase');
    // gitcredentials: "If a helper receives any other operation, it should silently ignore the request."
    if (action === 'get') await credentialGet(deps, global);
  },
};
