/**
 * Logging out: revoke at the server first (the refresh token takes its whole session with
 * it), then forget locally. Offline, it still forgets, and says that the session lives on
 * at the server and how to end it from another login.
 */
import { type Context, selectContext } from './config.ts';
import { forgetContext } from './contexts.ts';
import { boundServer } from './credential.ts';
import type { ClientDeps, Selection } from './deps.ts';
import { LatchkeyError } from './errors.ts';
import { type Product, productOf } from './product.ts';
import type { StoredCredential } from './secrets/secret-store.ts';
import { openSecretStore } from './secrets/select.ts';
import { unverifiedClaim } from './token-text.ts';

/**
 * The session a stored access token belongs to: its `sid` claim, read without checking the
 * signature — only to tell the person what to revoke, never to trust. Null for an API key,
 * a token without one, or a claim that is not a plain id.
 */
export function sessionIdOf(accessToken: string): string | null {
  const sid = unverifiedClaim(accessToken, 'sid');
  return typeof sid === 'string' && /^[\w-]{1,64}$/.test(sid) ? sid : null;
}

/** What is left alive at the server when it was not told, and how to end it later from any other login. */
function stillLive(product: Product, credential: StoredCredential | null, kind: string): string {
  const cli = product.command;
  const sid = credential ? sessionIdOf(credential.access_token) : null;
  if (sid) {
    return `the session ${sid} is still live on the server; end it from any other login with \`${cli} sessions revoke ${sid}\``;
  }
  if (kind === 'api_key')
    return `the API key still works; revoke it from any other login with \`${cli} keys revoke KEY_ID\` (\`${cli} keys list\` shows it)`;
  return `its session is still live on the server; end it from any other login: \`${cli} sessions list\`, then \`${cli} sessions revoke SESSION_ID\``;
}

export type LoggedOut = {
  name: string;
  context: Context;
  /** Whether the server was told (and ended the session or key). */
  revoked: boolean;
  /** Why the server was not told, and what is left live; null when it was. */
  warning: string | null;
  /** Which context is current now, for the person ('' when nothing changed). */
  next: string;
};

export async function logout(deps: ClientDeps, selection: Selection, requested: string | undefined): Promise<LoggedOut> {
  const product = productOf(deps);
  const config = await deps.config.read();
  const { name, context } = selectContext(config, requested ?? selection.context, product);
  // The refresh token goes to the server that issued it, and a run naming another is refused.
  boundServer(deps, selection, name, context);
  const store = openSecretStore(deps.secrets, context.secretStore);
  let revoked = false;
  let warning: string | null = null;
  const credential = await store.read(name).catch((error: unknown) => {
    const why = error instanceof Error ? error.message : 'unknown error';
    warning = `could not read the stored credential (${why}), so the server was not told: ${stillLive(product, null, context.kind)}`;
    return null;
  });
  if (credential) {
    const client = await deps.client(context.server, context.clientId);
    try {
      await client.revoke(credential.refresh_token ?? credential.access_token);
      revoked = true;
    } catch (error) {
      if (!(error instanceof LatchkeyError)) throw error;
      warning = `${error.message}; the server was not told: ${stillLive(product, credential, context.kind)}`;
    }
  }
  await store.remove(name);
  const next = await forgetContext(deps, name);
  return { name, context, revoked, warning, next };
}
