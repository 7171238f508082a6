/**
 * Who may do what in an org. Pure: the caller (a person by verified email, or an API key)
 * and the org record in, a decision out. A refusal names the permission that was missing.
 */
import { OAuthError } from '../../shared/errors.ts';
import { type AccessTokenClaims, ROLES, type Role } from '../../shared/schemas.ts';

export type Principal =
  /**
   * `org`: the org the sign-in was established for; its tokens act in no other. `project`:
   * the project a token was narrowed to (token exchange); it acts there only, as a project key does.
   */
  | {
      kind: 'user';
      sub: string;
      email: string | null;
      sid: string | null;
      org: string | null;
      project: string | null;
      /**
       * Whether the sign-in behind the credential proved a second factor (`amr` holds `mfa`,
       * RFC 8176): what an org that requires two-step sign-in asks of its members.
       */
      mfa: boolean;
    }
  | { kind: 'api_key'; id: string; org: string; project: string | null; role: Role };

/** The principal a verified token acts as; CI tokens have none (they never use the org API). */
export function principalOf(claims: AccessTokenClaims): Principal {
  if (claims.kind === 'user')
    return {
      kind: 'user',
      sub: claims.sub,
      email: claims.email ?? null,
      sid: claims.sid,
      org: claims.org,
      project: claims.project,
      mfa: claims.amr?.includes('mfa') ?? false,
    };
  if (claims.kind === 'api_key' && claims.org && claims.role) {
    return { kind: 'api_key', id: claims.sub, org: claims.org, project: claims.project, role: claims.role };
  }
  throw new OAuthError('forbidden', 'CI tokens cannot use the org API');
}

/** What an org's record says about who may act in it: its members' roles, and whether it requires two-step sign-in. */
export type OrgMembers = { slug: string; members: Record<string, Role>; requireMfa?: boolean };

/** Each permission and the weakest role that holds it. */
export const PERMISSIONS = {
  'org:read': 'member',
  'projects:create': 'admin',
  'members:read': 'member',
  'members:write': 'admin',
  'keys:read': 'admin',
  'keys:write': 'admin',
  'sessions:read': 'admin',
  'sessions:write': 'admin',
  'audit:read': 'admin',
  'policies:read': 'member',
  'policies:write': 'admin',
  'domains:read': 'admin',
  'domains:write': 'admin',
  'mfa:write': 'owner',
} as const satisfies Record<string, Role>;
export type Permission = keyof typeof PERMISSIONS;

export const atLeast = (role: Role, minimum: Role) => ROLES.indexOf(role) >= ROLES.indexOf(minimum);

export function roleIn(org: OrgMembers, principal: Principal): Role | null {
  if (principal.kind === 'user') {
    // A sign-in established for one org is nobody in any other, whatever the person is there.
    if (principal.org !== null && principal.org !== org.slug) return null;
    return principal.email ? (org.members[principal.email.toLowerCase()] ?? null) : null;
  }
  return principal.org === org.slug ? principal.role : null;
}

/**
 * The project a project key or a narrowed token is confined to; null for a person's own
 * sign-in or an org key. Listing and reading routes authorize at this scope and show only
 * that project's part of the org.
 */
export const ownProject = (principal: Principal): string | null => principal.project;

/**
 * The person acting as themselves: a sign-in neither established for one org nor narrowed
 * to a project. Only it may do what reaches beyond an org (make orgs, answer invitations,
 * use operator tools); `what` names the refused act.
 */
export function wholePerson(principal: Principal, what: string): Extract<Principal, { kind: 'user' }> {
  if (principal.kind !== 'user') throw new OAuthError('forbidden', `only a signed-in person can ${what}; API keys cannot`);
  if (principal.project !== null)
    throw new OAuthError('forbidden', `this token is narrowed to project "${principal.project}" and cannot ${what}`);
  if (principal.org !== null)
    throw new OAuthError(
      'forbidden',
      `this sign-in acts only in org "${principal.org}" and cannot ${what}; sign in without an org`,
    );
  return principal;
}

/** The session a person's access token belongs to, which session lists mark as current; null for a key. */
export const ownSession = (principal: Principal): string | null => (principal.kind === 'user' ? principal.sid : null);

/**
 * Whether the principal is one of the deployment's operators (LATCHKEY_OPERATORS), who are
 * above orgs, but only as a whole person: a sign-in for one org or a narrowed token holds
 * no power beyond its reach.
 */
export const isOperator = (operators: readonly string[], principal: Principal): boolean =>
  principal.kind === 'user' &&
  principal.org === null &&
  principal.project === null &&
  principal.email !== null &&
  operators.includes(principal.email.toLowerCase());

/**
 * Throws `forbidden` unless the principal holds `permission` in the org. `project` is the
 * project the operation touches (null: the org as a whole); a project key reaches only its own.
 */
export function authorize(org: OrgMembers, principal: Principal, permission: Permission, project: string | null = null): Role {
  const role = roleIn(org, principal);
  // Outsiders learn nothing about the org, not even that it exists.
  if (role === null) throw new OAuthError('not_found', `no org "${org.slug}"`);
  if (principal.kind === 'api_key' && permission === 'members:write')
    throw new OAuthError('forbidden', `lacks ${permission}: API keys cannot manage members`);
  // The org's own policy: a person acts in it only from a sign-in that proved a second
  // factor. Keys are not people and prove nothing of the kind; the org's owner made them.
  if (principal.kind === 'user' && org.requireMfa === true && !principal.mfa) throw mfaRequired(org.slug);
  // Whether the org's members must prove a second factor binds every member's sign-in and
  // the factors they may remove: an owner's say, as a person, never a key's.
  if (principal.kind === 'api_key' && permission === 'mfa:write')
    throw new OAuthError('forbidden', `lacks ${permission}: API keys cannot change whether an org requires two-step sign-in`);
  // A verified domain decides whose sign-ins an org's provider takes and who may join it:
  // a person's say, as membership is, never a key's (a key may still list them).
  if (principal.kind === 'api_key' && permission === 'domains:write')
    throw new OAuthError('forbidden', `lacks ${permission}: API keys cannot claim, verify or remove domains`);
  // A narrowed token reads and changes nothing beyond its subject's reach at narrowing and
  // its own life: it may read its project, never change the org (a key or a policy it
  // made would outlive it and its revocation).
  if (principal.kind === 'user' && principal.project !== null && !permission.endsWith(':read'))
    throw new OAuthError('forbidden', `lacks ${permission}: a token narrowed to a project cannot change the org`);
  // A project key or a narrowed token may see the org it belongs to, and act only on its own project.
  if (principal.project !== null && principal.project !== project && permission !== 'org:read') {
    throw new OAuthError('forbidden', `lacks ${permission} here: this credential is limited to project "${principal.project}"`);
  }
  const minimum = PERMISSIONS[permission];
  if (!atLeast(role, minimum)) {
    throw new OAuthError(
      'forbidden',
      `lacks ${permission}: it needs the ${minimum} role or above in org "${org.slug}" (you are ${role})`,
    );
  }
  return role;
}

/** Where a person adds an authenticator (the console's two-step page, on this server). */
export const TWO_STEP_PAGE = '/console/two-step';

/**
 * The refusal of a sign-in that proved no second factor, in an org that requires one: what
 * to do about it, since signing in again after enrolling is the only way through.
 */
export const mfaRequired = (slug: string) =>
  new OAuthError(
    'mfa_required',
    `org "${slug}" requires two-step sign-in: add an authenticator at ${TWO_STEP_PAGE} on this server's console, then sign in again`,
  );

/**
 * One rule for every key operation (create, rotate, revoke): a caller acts only on keys
 * whose role its own role covers, so an admin can neither mint an owner key nor obtain
 * one by rotating (or end one by revoking) an owner's key.
 */
export function mayHoldKey(mine: Role, keyRole: Role): void {
  if (!atLeast(mine, keyRole))
    throw new OAuthError('forbidden', `lacks ${keyRole}: a ${mine} cannot manage a key with role ${keyRole}`);
}
