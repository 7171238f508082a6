/** Builds the RFC 6749 §5.1 response every user grant ends with. */
import { MFA_ACR, type TokenResponse } from '../../shared/schemas.ts';
import type { Family, SignInProof } from '../accounts/sessions.ts';
import type { Services } from '../services.ts';
import { type AccessTokenInput, signAccessToken } from '../tokens/access-token.ts';
import { generateId } from '../tokens/opaque.ts';

export async function tokenResponse(
  services: Services,
  session: { sid: string; family: Family; refreshToken: string; scope?: string },
): Promise<TokenResponse> {
  const { config, keys, now } = services;
  const scope = session.scope ?? session.family.scope;
  const { token } = await signAccessToken(
    keys,
    {
      sub: session.family.sub,
      jti: generateId(),
      scope,
      // A sign-in established for an org acts in that org only (policy/roles.ts); refresh keeps it.
      org: session.family.org,
      project: null,
      kind: 'user',
      sid: session.sid,
      client_id: session.family.clientId,
      ...(session.family.email ? { email: session.family.email } : {}),
      ...proofClaims(session.family),
    },
    { issuer: config.base, audience: config.base, ttlSeconds: config.ttl.accessToken, now: now() },
  );
  return {
    access_token: token,
    token_type: 'Bearer',
    expires_in: config.ttl.accessToken,
    refresh_token: session.refreshToken,
    scope,
  };
}

/** What the session's sign-in proved, as OpenID Connect names it in tokens; nothing for a session that did not record it. */
export const proofClaims = (proof: SignInProof): Pick<AccessTokenInput, 'amr' | 'auth_time' | 'acr'> => ({
  ...(proof.amr.length > 0 ? { amr: proof.amr } : {}),
  ...(proof.authTime !== null ? { auth_time: Math.floor(proof.authTime / 1000) } : {}),
  ...(proof.mfaAt !== null ? { acr: MFA_ACR } : {}),
});

/** RFC 6749 §6: a refresh may ask for less than was granted, never more. */
export function narrowScope(granted: string, requested: string | undefined): string | null {
  if (requested === undefined || requested === '') return granted;
  const allowed = new Set(granted.split(' '));
  return requested.split(' ').every((part) => allowed.has(part)) ? requested : null;
}
