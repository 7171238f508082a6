/**
 * Step-up (RFC 9470) on the API: sensitive acts (keys of admin or above, role changes,
 * deleting trust policies, ending someone else's sessions) by a person who has a second
 * factor need one proven within LATCHKEY_STEP_UP_MAX_AGE, as the token's `acr` and
 * `auth_time` say. Otherwise 401 `insufficient_user_authentication`, whose challenge names
 * the `acr_values` and `max_age` to come back with (grants/step-up.ts is how). People
 * without a factor have nothing to step up with and act as before; keys are not people.
 */
import type { Context } from 'hono';
import { bearerChallenge } from '../../packages/verify/src/errors.ts';
import { OAuthError } from '../../shared/errors.ts';
import { MFA_ACR } from '../../shared/schemas.ts';
import type { KeyActGate } from '../accounts/api-keys.ts';
import { needsSecondFactor } from '../accounts/factors.ts';
import { readOrg } from '../accounts/orgs.ts';
import { sessionOwner } from '../accounts/sessions.ts';
import type { AppEnv } from '../app.ts';
import { atLeast, authorize, type Permission, type Principal } from '../policy/roles.ts';

/** Throws the step-up challenge unless the caller may do `what` (a phrase: "create a key of admin or above") now. */
export async function requireStepUp(c: Context<AppEnv>, principal: Principal, what: string): Promise<void> {
  if (principal.kind !== 'user') return;
  const { services } = c.var;
  const maxAge = services.config.ttl.stepUpMaxAge;
  const claims = c.var.claims;
  const age = claims?.auth_time === undefined ? Number.POSITIVE_INFINITY : services.now() / 1000 - claims.auth_time;
  if (claims?.acr === MFA_ACR && age <= maxAge) return;
  if (!(await needsSecondFactor(services, sessionOwner(principal)))) return;
  const minutes = Math.max(1, Math.round(maxAge / 60));
  const description = `to ${what} you need to prove your second factor (a code from your authenticator app) within the last ${minutes} minutes`;
  throw new OAuthError('insufficient_user_authentication', description, {
    headers: {
      'WWW-Authenticate': bearerChallenge({
        realm: 'latchkey',
        error: 'insufficient_user_authentication',
        description,
        acrValues: [MFA_ACR],
        maxAge,
      }),
    },
  });
}

/**
 * The step-up of a person's act in an org: `permission` there is checked first, so a caller
 * who may not act is told that rather than asked for a code; keys pass on to the act's own checks.
 */
export async function requireStepUpIn(
  c: Context<AppEnv>,
  principal: Principal,
  slug: string,
  permission: Permission,
  what: string,
): Promise<void> {
  if (principal.kind !== 'user') return;
  authorize(await readOrg(c.var.services, slug), principal, permission);
  await requireStepUp(c, principal, what);
}

/** The step-up gate of key acts on the API (accounts/api-keys.ts `KeyActGate`): keys of admin or above. */
export const keyStepUp =
  (c: Context<AppEnv>, principal: Principal): KeyActGate =>
  async (role) => {
    if (atLeast(role, 'admin')) await requireStepUp(c, principal, `make or rotate a key with the ${role} role`);
  };
