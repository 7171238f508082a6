/**
 * `latchkey kube-credential`: a kubectl exec credential plugin. kubectl runs it from the
 * kubeconfig's `users[].user.exec` and reads an ExecCredential of
 * client.authentication.k8s.io/v1 on stdout: the access token and when it expires, so
 * kubectl asks again then. The API server is whatever the kubeconfig names; which token
 * goes there is the person's choice, written in that file.
 */

import { selectContext } from '../../packages/client/src/config.ts';
import { boundToken, helperToken, tokenExpiry } from '../bound-hosts.ts';
import type { Command } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { isoTime } from '../rfc3339.ts';

export const EXEC_API_VERSION = 'client.authentication.k8s.io/v1';

/** KUBERNETES_EXEC_INFO (set by kubectl): the ExecCredential version it expects must be ours. */
export function checkExecInfo(info: string | undefined): void {
  if (info === undefined || info === '') return;
  let apiVersion: unknown;
  try {
    apiVersion = (JSON.parse(info) as { apiVersion?: unknown } | null)?.apiVersion;
  } catch {
    throw new CliError('usage', 'KUBERNETES_EXEC_INFO is not JSON; kubectl sets it, so it was set by hand');
  }
  if (apiVersion !== EXEC_API_VERSION) {
    throw new CliError(
      'usage',
      `kubectl asked for an ExecCredential of ${typeof apiVersion === 'string' ? apiVersion : 'no version'}; ` +
        `latchkey kube-credential speaks ${EXEC_API_VERSION}: set that apiVersion in the kubeconfig's exec stanza`,
    );
  }
}

export async function kubeCredential(deps: CliDeps, global: GlobalOptions): Promise<void> {
  checkExecInfo(deps.env.KUBERNETES_EXEC_INFO);
  // A context the kubeconfig names is the one whose token goes to that cluster, not a
  // LATCHKEY_TOKEN around kubectl (`latchkey exec --context OTHER` sets one).
  const named = global.context === undefined ? null : selectContext(await deps.config.read(), global.context);
  const token = named ? await boundToken(deps, named.name, named.context) : await helperToken(deps, global);
  const exp = tokenExpiry(token);
  const status = exp === null ? { token } : { token, expirationTimestamp: isoTime(exp) };
  deps.io.out(`${JSON.stringify({ apiVersion: EXEC_API_VERSION, kind: 'ExecCredential', status })}\n`);
}

export const command: Command = {
  usage: ['kube-credential'],
  help: `A kubectl exec credential plugin: prints an ExecCredential (${EXEC_API_VERSION})
holding the access token and its expiry. In the kubeconfig:

  users:
  - name: latchkey
    user:
      exec:
        apiVersion: ${EXEC_API_VERSION}
        command: latchkey
        args: [kube-credential, --context, default]
        interactiveMode: Never
        provideClusterInfo: false`,
  options: {},
  maxArgs: 0,
  run: (deps, global) => kubeCredential(deps, global),
};
