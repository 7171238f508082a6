/**
 * One-line checks on a verified principal. Each throws a VerifyError (403, error
 * `insufficient_scope`) whose challenge carries the realm and resource metadata of the
 * verifier that produced the principal.
 */
import { type ChallengeContext, VerifyError } from './errors.ts';
import { type Principal, ROLE_ORDER, type Role } from './principal.ts';

const contexts = new WeakMap<Principal, ChallengeContext>();

/** Called by the verifier: the challenge context later checks on `principal` answer with. */
export function rememberContext(principal: Principal, context: ChallengeContext): Principal {
  contexts.set(principal, context);
  return principal;
}

/** Every one of `scopes` must have been granted. */
export function requireScope(principal: Principal, ...scopes: string[]): Principal {
  if (scopes.every((scope) => principal.scope.includes(scope))) return principal;
  throw new VerifyError('insufficient_scope', 'the request requires higher privileges than provided by the access token', {
    scope: scopes,
    context: contexts.get(principal) ?? {},
  });
}

/** The credential must be for `org` (a person's token for no org is refused too). */
export function requireOrg(principal: Principal, org: string): Principal {
  if (principal.org === org) return principal;
  throw new VerifyError('wrong_org', `the credential is not for org ${org}`, { context: contexts.get(principal) ?? {} });
}

/**
 * The credential must reach `project` of `org` (when given): an org-wide credential reaches
 * every project of its org, a project credential only its own.
 */
export function requireProject(principal: Principal, project: string, org?: string): Principal {
  if (org !== undefined) requireOrg(principal, org);
  if (principal.org !== null && (principal.project === null || principal.project === project)) return principal;
  throw new VerifyError('wrong_project', `the credential does not reach project ${project}`, {
    context: contexts.get(principal) ?? {},
  });
}

/** The credential's org role must be `role` or above (member < admin < owner). Only API keys carry a role. */
export function requireRole(principal: Principal, role: Role): Principal {
  const have = principal.role === null ? -1 : ROLE_ORDER.indexOf(principal.role);
  if (have >= ROLE_ORDER.indexOf(role)) return principal;
  throw new VerifyError('insufficient_role', `the credential does not act as ${role} or above`, {
    context: contexts.get(principal) ?? {},
  });
}
