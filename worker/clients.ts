/**
 * The public clients latchkey knows: the built-in one (`latchkey-cli`, or a branded
 * deployment's LATCHKEY_CLI_CLIENT_ID) and operators' own from LATCHKEY_CLIENTS. Public
 * clients have no secret; what binds them is the client id, the grants they may use, and
 * (for browser login) their loopback redirect URIs.
 *
 * A deployment that names its own built-in client still knows `latchkey-cli`, with the
 * same grants: a session records its client and refreshes only as it, so sessions signed
 * in before the rebrand keep refreshing, and latchkey's own CLI keeps working there.
 * Both ids are answered before LATCHKEY_CLIENTS, so config.ts refuses an entry there
 * under either (it would be shadowed, its grants ignored).
 */
import { OAuthError } from '../shared/errors.ts';
import { AUTHORIZATION_CODE_GRANT, DEFAULT_SCOPE, DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT } from '../shared/schemas.ts';
import { DEFAULT_CLI_CLIENT } from './branding.ts';
import type { Config } from './config.ts';

export type Client = {
  id: string;
  name: string;
  grants: readonly string[];
  defaultScope: string;
  redirectUris: readonly string[];
};

const ALL_GRANTS = [DEVICE_CODE_GRANT, AUTHORIZATION_CODE_GRANT, REFRESH_TOKEN_GRANT];
/** RFC 8252 §7.3: loopback IP literals, any port; `localhost` is not used (§8.3). */
const LOOPBACK_CALLBACKS = ['http://127.0.0.1/callback', 'http://[::1]/callback'];

const builtin = (id: string, name: string): Client => ({
  id,
  name,
  grants: ALL_GRANTS,
  defaultScope: DEFAULT_SCOPE,
  redirectUris: LOOPBACK_CALLBACKS,
});

export function findClient(config: Config, id: string, grant?: string): Client {
  const own = config.branding.cliClient;
  const configured = config.clients.find((client) => client.id === id);
  const client: Client | undefined =
    id === own.id
      ? builtin(own.id, own.name)
      : id === DEFAULT_CLI_CLIENT.id
        ? builtin(DEFAULT_CLI_CLIENT.id, DEFAULT_CLI_CLIENT.name)
        : configured && {
            id: configured.id,
            name: configured.name,
            grants: configured.grants ?? ALL_GRANTS,
            defaultScope: DEFAULT_SCOPE,
            redirectUris: configured.redirect_uris ?? LOOPBACK_CALLBACKS,
          };
  if (!client) throw new OAuthError('invalid_client', 'unknown client_id');
  if (grant && !client.grants.includes(grant)) throw new OAuthError('unauthorized_client', 'this client may not use this grant');
  return client;
}

/**
 * A redirect URI is accepted when it is http on a loopback IP literal and equals one the
 * client registered in everything but the port (RFC 8252 §7.3).
 */
export function isRegisteredRedirect(client: Client, candidate: string): boolean {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' || !['127.0.0.1', '[::1]'].includes(url.hostname) || url.hash || url.username || url.password) {
    return false;
  }
  const withoutPort = `${url.protocol}//${url.hostname}${url.pathname}${url.search}`;
  return client.redirectUris.some((registered) => {
    const known = new URL(registered);
    return withoutPort === `${known.protocol}//${known.hostname}${known.pathname}${known.search}`;
  });
}
