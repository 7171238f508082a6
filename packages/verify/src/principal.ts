/** Who a verified credential speaks for, the same shape whether it came from a JWT or an API key. */

export type PrincipalKind = 'user' | 'api_key' | 'ci';

/** An org role, lowest first. latchkey's own list is `ROLES` in shared/schemas.ts; a test keeps the two equal. */
export const ROLE_ORDER = ['member', 'admin', 'owner'] as const;
export type Role = (typeof ROLE_ORDER)[number];

export type Principal = {
  kind: PrincipalKind;
  /** A person's id, a key's id, or a CI runner's subject. */
  sub: string;
  /** A person's email (users only). */
  email: string | null;
  /** The org the credential is for, or null (a person's token from a login for no org). */
  org: string | null;
  /** The one project it is confined to, or null (org-wide). */
  project: string | null;
  /** The org role it acts with; only API keys carry one. */
  role: Role | null;
  scope: string[];
  /** Expiry, seconds since the epoch. */
  exp: number;
  client_id: string | null;
};

export function isRole(value: unknown): value is Role {
  return (ROLE_ORDER as readonly unknown[]).includes(value);
}

/**
 * Reads a principal out of token claims or a `/v1/me` answer; null when the shape is wrong.
 * Checked by hand so the package depends on jose alone.
 */
export function principalFrom(claims: Record<string, unknown>): Principal | null {
  const { kind, sub, scope, exp, org, project, email, role, client_id } = claims;
  if (kind !== 'user' && kind !== 'api_key' && kind !== 'ci') return null;
  if (typeof sub !== 'string' || typeof scope !== 'string' || typeof exp !== 'number' || !Number.isInteger(exp)) return null;
  const nullableString = (value: unknown) => value === undefined || value === null || typeof value === 'string';
  if (!nullableString(org) || !nullableString(project) || !nullableString(email) || !nullableString(client_id)) return null;
  if (role !== undefined && role !== null && !isRole(role)) return null;
  return {
    kind,
    sub,
    email: (email as string | null | undefined) ?? null,
    org: (org as string | null | undefined) ?? null,
    project: (project as string | null | undefined) ?? null,
    role: (role as Role | null | undefined) ?? null,
    scope: scope.split(' ').filter(Boolean),
    exp,
    client_id: (client_id as string | null | undefined) ?? null,
  };
}
