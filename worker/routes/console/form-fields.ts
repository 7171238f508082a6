import type { OrgMembers, Permission, Principal } from '../../policy/roles.ts';
import { authorize } from '../../policy/roles.ts';

/**
 * The fields of a console form that a /v1 request body would carry: the CSRF token and
 * anything not named left out, and an empty optional field treated as absent (as a JSON
 * body leaves it out), so the API's strict schemas read it.
 */
export function formFields(form: Record<string, string>, names: string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const name of names) {
    const value = form[name];
    if (value !== undefined && value !== '') out[name] = value;
  }
  return out;
}

/** Whether a page should offer an action: the policy's own answer, never a rule of the console's. */
export function may(org: OrgMembers, principal: Principal, permission: Permission): boolean {
  try {
    authorize(org, principal, permission);
    return true;
  } catch {
    return false;
  }
}
