/** The public clients latchkey knows. Operators' own clients arrive with LATCHKEY_CLIENTS. */
import { OAuthError } from '../shared/errors.ts';
import { BUILTIN_CLIENT_ID, DEFAULT_SCOPE, DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT } from '../shared/schemas.ts';

export type Client = { id: string; name: string; grants: readonly string[]; defaultScope: string };

const BUILTIN: Client = {
  id: BUILTIN_CLIENT_ID,
  name: 'latchkey CLI',
  grants: [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT],
  defaultScope: DEFAULT_SCOPE,
};

export function findClient(id: string, grant?: string): Client {
  if (id !== BUILTIN.id) throw new OAuthError('invalid_client', 'unknown client_id');
  if (grant && !BUILTIN.grants.includes(grant)) {
    throw new OAuthError('unauthorized_client', 'this client may not use this grant');
  }
  return BUILTIN;
}
