/**
 * The CLI's answer to a step-up challenge (RFC 9470, packages/client/src/step-up.ts): at a
 * terminal it asks for a code from the person's authenticator app (or a recovery code),
 * proves it with the stored login's refresh token, and hands back the new access token for
 * api.ts to retry the refused call once. Where it cannot ask — no terminal, or a credential
 * that is no person's login (LATCHKEY_TOKEN, --token-stdin: API keys, CI tokens) — it ends
 * with `step_up_required` saying what to do instead. Prompts go to stderr, so --json's
 * stdout stays one document.
 */
import type { Resolved } from '../packages/client/src/credential.ts';
import { stepUp } from '../packages/client/src/step-up.ts';
import type { CliDeps, GlobalOptions } from './deps.ts';
import { CliError } from './errors.ts';

export async function stepUpAtTerminal(
  deps: CliDeps,
  global: GlobalOptions,
  resolved: Resolved,
  challenge: CliError,
): Promise<string> {
  if (resolved.source !== 'stored') {
    const from = resolved.source === 'env' ? 'LATCHKEY_TOKEN' : '--token-stdin';
    throw new CliError(
      'step_up_required',
      `${challenge.message}. The token from ${from} (an API key, a CI token or a copied access token) cannot prove one: ` +
        'do this as yourself, with a login of your own (`latchkey login`), at a terminal',
    );
  }
  if (!deps.io.ask) {
    throw new CliError(
      'step_up_required',
      `${challenge.message}. There is no terminal here to ask for a code from your authenticator app: ` +
        'run this command at a terminal, or run it right after a `latchkey login` whose browser sign-in asked for your code',
    );
  }
  deps.io.err('MFA verification required.\n');
  const typed = await deps.io.ask('Enter TOTP code: ');
  if (typed.trim() === '') throw new CliError('cancelled', 'no code was typed; nothing was changed');
  const selection = resolved.contextName === null ? {} : { context: resolved.contextName };
  const token = await stepUp(deps, { ...selection, ...(global.server ? { server: global.server } : {}) }, typed).catch(
    (error: unknown) => {
      if (error instanceof CliError && error.code === 'wrong_code') {
        throw new CliError('wrong_code', `${error.message}; nothing was changed, run the command again to try another code`);
      }
      throw error;
    },
  );
  deps.io.err('MFA verified.\n');
  return token;
}
