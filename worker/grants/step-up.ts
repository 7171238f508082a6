/**
 * Step-up with a refresh (RFC 9470): a person whose token is refused with
 * `insufficient_user_authentication` proves a second factor by sending a code (`otp`) with
 * the session's refresh token, and the session's second factor and `auth_time` become now
 * (grants/refresh-token.ts records it as the token rotates). The latchkey CLI asks
 * "Enter TOTP code:" and does this, then retries the refused command.
 */
import { OAuthError } from '../../shared/errors.ts';
import { listFactors, proveSecondFactor } from '../accounts/factors.ts';
import { type StepUp, sessionOwner } from '../accounts/sessions.ts';
import { TWO_STEP_PAGE } from '../policy/roles.ts';
import type { Services } from '../services.ts';
import { lookupRefreshToken } from './refresh-token.ts';

/**
 * Checks `code` against the factors of the person whose session `presented` belongs to.
 * Only the holder of a live refresh token of this client spends that person's wrong-code
 * guesses: a session id alone (org admins see them) must not let anyone guess codes, or
 * use up the person's guesses to lock them out. Undefined: no code is checked (see below).
 */
export async function proveStepUp(
  services: Services,
  presented: string,
  clientId: string,
  code: string,
): Promise<StepUp | undefined> {
  const found = await lookupRefreshToken(services, presented);
  if (!found || found.family.clientId !== clientId) throw new OAuthError('invalid_grant', 'refresh token is invalid or expired');
  // A spent token (or an ended session's) is the rotation's to answer, code or not: a retry in
  // the grace window gets the successor its first request made (stepped up if that one was),
  // and past it the reuse ends the session. Refused here instead, a thief could try a stolen
  // token with any code and learn it was spent without ending the session.
  if (!found.live) return undefined;
  const owner = sessionOwner(found.family);
  const factors = await listFactors(services, owner);
  const passkey = factors.some((factor) => factor.kind === 'webauthn');
  const codesLeft = factors.some((factor) => factor.kind === 'recovery' && factor.left > 0);
  // Recovery codes stand in only beside an authenticator or passkey (factors.ts proveSecondFactor).
  const typeable = factors.some((factor) => factor.kind === 'totp') || (passkey && codesLeft);
  if (!typeable && passkey)
    // A passkey answers a browser, not a terminal: signing in again asks for it.
    throw new OAuthError(
      'invalid_request',
      'your second factor is a passkey or security key, which a code cannot stand in for: sign in again (latchkey login), and your browser will ask for it',
    );
  if (!typeable)
    throw new OAuthError(
      'invalid_request',
      `you have no second factor to prove; add an authenticator app at ${services.config.base}${TWO_STEP_PAGE}`,
    );
  const proof = await proveSecondFactor(services, owner, code);
  if (proof.outcome === 'limited') throw new OAuthError('rate_limited', 'too many wrong codes; wait 15 minutes, then try again');
  if (proof.outcome !== 'ok')
    throw new OAuthError('invalid_grant', 'that code is not right, or it was used already; try the next code your app shows');
  // A recovery code is a one-time password too (RFC 8176 `otp`).
  return { at: services.now(), methods: ['otp'] };
}
