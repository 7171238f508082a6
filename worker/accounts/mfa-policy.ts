/**
 * Orgs that require two-step sign-in of their members (issue #22): the owner's policy,
 * what it refuses, and whom it binds.
 */
import type { Services } from '../services.ts';

/**
 * Whether an org the person is in requires MFA, so their last factor may not be removed.
 * The org policy itself is being built (issue #22): until it lands no one is required to keep a factor.
 */
export async function mfaRequiredFor(_services: Services, _person: { sub: string; email: string | null }): Promise<boolean> {
  return false;
}
