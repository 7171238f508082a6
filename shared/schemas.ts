/**
 * The wire protocol both the Worker and the CLI speak. Every type either side uses for a
 * request or a response is inferred from these schemas, never written twice.
 */
import * as z from 'zod';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const REFRESH_TOKEN_GRANT = 'refresh_token';
export const AUTHORIZATION_CODE_GRANT = 'authorization_code';
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** latchkey's own CLI. A deployment may name its built-in client otherwise (LATCHKEY_CLI_CLIENT_ID); this one stays known. */
export const BUILTIN_CLIENT_ID = 'latchkey-cli';

/** RFC 8693 §3 token type identifiers. */
export const TOKEN_TYPE = {
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
} as const;

/** Org and project slugs: lower-case, digits and single hyphens, 1-40 characters. */
export const Slug = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$/, 'slugs are 1-40 lower-case letters, digits and inner hyphens');

/** Scopes latchkey understands; a request naming anything else is `invalid_scope`. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export const DEFAULT_SCOPE = 'read write';

const bounded = (max: number) => z.string().min(1).max(max);

/** RFC 6749 §3.3: space-delimited scope tokens, each from our closed list, no repeats. */
export const ScopeString = z
  .string()
  .max(256)
  .transform((value) => value.split(' ').filter((part) => part !== ''))
  .superRefine((parts, ctx) => {
    const unknown = parts.filter((part) => !(SCOPES as readonly string[]).includes(part));
    if (unknown.length > 0) {
      ctx.addIssue({ code: 'custom', message: `unknown scope "${unknown[0]?.slice(0, 32)}"` });
    }
    if (new Set(parts).size !== parts.length) {
      ctx.addIssue({ code: 'custom', message: 'scope repeats a value' });
    }
  })
  .transform((parts) => parts.join(' '));

export const ClientId = bounded(64).regex(/^[a-z0-9][a-z0-9._-]*$/, 'malformed client_id');

/** RFC 8628 §3.1 */
export const DeviceAuthorizationRequest = z.strictObject({
  client_id: ClientId,
  scope: ScopeString.optional(),
  /** Not RFC 8628: the org this sign-in is for; its tokens then act in that org only. */
  org: Slug.optional(),
});
export type DeviceAuthorizationRequest = z.infer<typeof DeviceAuthorizationRequest>;

/** RFC 8628 §3.2 */
export const DeviceAuthorizationResponse = z.object({
  device_code: z.string(),
  user_code: z.string(),
  verification_uri: z.string().url(),
  verification_uri_complete: z.string().url(),
  expires_in: z.number().int().positive(),
  interval: z.number().int().positive(),
});
export type DeviceAuthorizationResponse = z.infer<typeof DeviceAuthorizationResponse>;

const opaque = bounded(512);

/** RFC 7636 §4.1: 43–128 characters of [A-Z a-z 0-9 - . _ ~]. */
export const PkceVerifier = z.string().regex(/^[A-Za-z0-9\-._~]{43,128}$/, 'code_verifier must be 43-128 unreserved characters');

/** RFC 6749 §4.1.1 with RFC 7636 §4.3: S256 only, `plain` is refused. */
export const AuthorizeRequest = z.strictObject({
  response_type: z.literal('code', { message: 'response_type must be "code"' }),
  client_id: ClientId,
  redirect_uri: bounded(512),
  code_challenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'code_challenge must be a base64url SHA-256 (43 characters)'),
  code_challenge_method: z.literal('S256', { message: 'code_challenge_method must be S256 (plain is not accepted)' }),
  state: z.string().min(1).max(512).optional(),
  scope: ScopeString.optional(),
  /** Not RFC 6749: the org this sign-in is for; its tokens then act in that org only. */
  org: Slug.optional(),
});
export type AuthorizeRequest = z.infer<typeof AuthorizeRequest>;

/**
 * What a signing-in client calls the machine it runs on (the CLI sends the host name), so
 * a person can tell their sessions apart. Not an OAuth parameter; printable text only.
 */
export const DeviceName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\p{L}\p{N} ._'()-]+$/u, "device_name is 1-64 letters, digits, spaces and . _ ' ( ) -");

/**
 * What a token exchange is for (RFC 8693 §2.1 `audience` or `resource`): a project's slug,
 * or `<issuer>/orgs/<org>/projects/<project>`, which also names the org the project is in.
 */
export const ExchangeTarget = bounded(512).refine(
  (value) => Slug.safeParse(value).success || /^https?:\/\/\S+\/orgs\/[^/\s]+\/projects\/[^/\s]+$/.test(value),
  'audience and resource name a project: its slug, or <issuer>/orgs/<org>/projects/<project>',
);

/** RFC 8628 §3.4 and RFC 6749 §6; one schema per grant, chosen by `grant_type`. */
export const TokenRequest = z.discriminatedUnion('grant_type', [
  z.strictObject({
    grant_type: z.literal(DEVICE_CODE_GRANT),
    device_code: opaque,
    client_id: ClientId,
    device_name: DeviceName.optional(),
  }),
  z.strictObject({
    grant_type: z.literal(AUTHORIZATION_CODE_GRANT),
    code: opaque,
    redirect_uri: bounded(512),
    client_id: ClientId,
    code_verifier: PkceVerifier,
    device_name: DeviceName.optional(),
  }),
  z.strictObject({
    grant_type: z.literal(REFRESH_TOKEN_GRANT),
    refresh_token: opaque,
    client_id: ClientId,
    scope: ScopeString.optional(),
    /**
     * A step-up (RFC 9470) with the refresh: a code from the person's authenticator app, or
     * a recovery code. A right one makes the session's second factor (and its `auth_time`) now.
     */
    otp: bounded(64).optional(),
  }),
  /** RFC 8693 §2.1: `audience` (or `resource`) names the project the token is for. */
  z.strictObject({
    grant_type: z.literal(TOKEN_EXCHANGE_GRANT),
    subject_token: bounded(8192),
    subject_token_type: z.enum([TOKEN_TYPE.idToken, TOKEN_TYPE.jwt, TOKEN_TYPE.accessToken], {
      message: 'subject_token_type must be the id_token, jwt or access_token token type',
    }),
    audience: ExchangeTarget.optional(),
    resource: ExchangeTarget.optional(),
    scope: ScopeString.optional(),
    requested_token_type: z
      .literal(TOKEN_TYPE.accessToken, { message: 'only access tokens are issued (requested_token_type)' })
      .optional(),
    client_id: ClientId.optional(),
  }),
]);
export type TokenRequest = z.infer<typeof TokenRequest>;
export const SUPPORTED_GRANTS = [DEVICE_CODE_GRANT, AUTHORIZATION_CODE_GRANT, REFRESH_TOKEN_GRANT, TOKEN_EXCHANGE_GRANT] as const;

/** RFC 8693 §2.2.1 */
export const TokenExchangeResponse = z.object({
  access_token: z.string(),
  issued_token_type: z.literal(TOKEN_TYPE.accessToken),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int().positive(),
  scope: z.string(),
});
export type TokenExchangeResponse = z.infer<typeof TokenExchangeResponse>;

/** RFC 6749 §5.1 */
export const TokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int().positive(),
  refresh_token: z.string().optional(),
  scope: z.string(),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

/** RFC 7009 §2.1 and RFC 7662 §2.1 share one request shape. */
export const TokenLookupRequest = z.strictObject({
  token: bounded(4096),
  token_type_hint: z.string().max(64).optional(),
  client_id: ClientId.optional(),
});
export type TokenLookupRequest = z.infer<typeof TokenLookupRequest>;

/** Org roles, weakest first. The creator of an org is its owner. */
export const ROLES = ['member', 'admin', 'owner'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

export const CredentialKind = z.enum(['user', 'api_key', 'ci']);
export type CredentialKind = z.infer<typeof CredentialKind>;

/** How many times a token may be narrowed from one that was itself narrowed; keeps `narrowed_from` short. */
export const MAX_NARROWING_DEPTH = 3;

/** The claims of every access token latchkey signs (DESIGN "Tokens"). */
export const AccessTokenClaims = z.object({
  iss: z.string(),
  sub: z.string(),
  aud: z.string(),
  exp: z.number().int(),
  iat: z.number().int(),
  jti: z.string(),
  scope: z.string(),
  org: z.string().nullable(),
  project: z.string().nullable(),
  kind: CredentialKind,
  sid: z.string().nullable(),
  client_id: z.string(),
  email: z.string().optional(),
  /** API keys only: the org role the key acts with. */
  role: Role.optional(),
  /**
   * Narrowed tokens only: the `jti`s of the tokens this one was narrowed from, oldest
   * first, so revoking any of them refuses this one too.
   */
  narrowed_from: z.array(z.string()).max(MAX_NARROWING_DEPTH).optional(),
  /**
   * A person's tokens only: how the person proved who they are in the sign-in behind the
   * session (RFC 8176 values; `mfa` once a second factor was proven), and when they last
   * did (seconds; a step-up moves it), as OpenID Connect names them and RFC 9470 reads them.
   */
  amr: z.array(z.string()).max(8).optional(),
  auth_time: z.number().int().optional(),
  /** `MFA_ACR` once a second factor was proven in the session; absent before. */
  acr: z.string().optional(),
});
export type AccessTokenClaims = z.infer<typeof AccessTokenClaims>;

/** RFC 7662 §2.2 */
export const IntrospectionResponse = z.union([
  z.object({ active: z.literal(false) }),
  z.object({
    active: z.literal(true),
    token_type: z.enum(['access_token', 'refresh_token']),
    sub: z.string(),
    client_id: z.string(),
    scope: z.string(),
    exp: z.number().int(),
    iat: z.number().int().optional(),
    iss: z.string(),
    jti: z.string().optional(),
    sid: z.string().nullable().optional(),
    kind: CredentialKind.optional(),
  }),
]);
export type IntrospectionResponse = z.infer<typeof IntrospectionResponse>;

export const MeResponse = z.object({
  sub: z.string(),
  kind: CredentialKind,
  email: z.string().nullable(),
  org: z.string().nullable(),
  project: z.string().nullable(),
  scope: z.string(),
  exp: z.number().int(),
  session_id: z.string().nullable(),
  client_id: z.string(),
  /** For an API key, the org role it acts with. */
  role: Role.optional(),
});
export type MeResponse = z.infer<typeof MeResponse>;

export const ErrorResponse = z.object({
  error: z.string(),
  error_description: z.string(),
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;

/**
 * The one authentication context class latchkey asserts (`acr`), and asks for in a step-up
 * challenge (RFC 9470): the person proved a second factor in the session.
 */
export const MFA_ACR = 'urn:latchkey:acr:mfa';
/** How a person may prove who they are here (RFC 8176 `amr` values): the first step, then a code or a passkey. */
export const AMR_VALUES = ['pwd', 'mfa', 'otp', 'hwk', 'swk', 'user'] as const;

/** RFC 8414 §2, the fields latchkey publishes. */
export const ServerMetadata = z.object({
  issuer: z.string().url(),
  token_endpoint: z.string().url(),
  device_authorization_endpoint: z.string().url(),
  revocation_endpoint: z.string().url(),
  introspection_endpoint: z.string().url(),
  jwks_uri: z.string().url(),
  userinfo_endpoint: z.string().url(),
  authorization_endpoint: z.string().url(),
  authorization_response_iss_parameter_supported: z.boolean(),
  grant_types_supported: z.array(z.string()),
  response_types_supported: z.array(z.string()),
  scopes_supported: z.array(z.string()),
  code_challenge_methods_supported: z.array(z.string()),
  token_endpoint_auth_methods_supported: z.array(z.string()),
  revocation_endpoint_auth_methods_supported: z.array(z.string()),
  introspection_endpoint_auth_methods_supported: z.array(z.string()),
  id_token_signing_alg_values_supported: z.array(z.string()).optional(),
  /** OpenID Connect Discovery's name, as RFC 9470 resource servers read it: the `acr` values tokens may carry. */
  acr_values_supported: z.array(z.string()).optional(),
  /** Not a registered name: the RFC 8176 `amr` values tokens may carry. */
  amr_values_supported: z.array(z.string()).optional(),
  service_documentation: z.string().url().optional(),
});
export type ServerMetadata = z.infer<typeof ServerMetadata>;

export const HealthResponse = z.object({
  status: z.enum(['ok', 'degraded']),
  store: z.enum(['up', 'down']),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

/** User codes: RFC 8628 §6.1, 8 characters from 20 consonants, 20^8 ≈ 2^34.6. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const UserCodeInput = z
  .string()
  .max(32)
  .transform((value) => value.toUpperCase().replace(/[\s-]/g, ''))
  .pipe(z.string().regex(new RegExp(`^[${USER_CODE_ALPHABET}]{8}$`), 'malformed user code'));

/** Token prefixes, so that secret scanners can find leaked ones: latchkey's defaults (a deployment may brand them, worker/branding.ts). */
export const TOKEN_PREFIX = {
  refreshToken: 'lk_rt_',
  deviceCode: 'lk_dc_',
  authorizationCode: 'lk_ac_',
  session: 'lk_ws_',
} as const;

/** Org slugs the console's own paths take (`/console/orgs/new`): an org by that name could never be opened there. */
export const RESERVED_ORG_SLUGS = ['new'] as const;
export const OrgCreateRequest = z.strictObject({
  slug: Slug.refine((slug) => !(RESERVED_ORG_SLUGS as readonly string[]).includes(slug), 'that slug is reserved; choose another'),
  name: z.string().min(1).max(100).optional(),
});
export const ProjectCreateRequest = z.strictObject({ slug: Slug });
export const MemberPutRequest = z.strictObject({ role: Role });
export const MemberEmail = z.string().email('members are named by their verified email').max(254);

export const Org = z.object({
  slug: z.string(),
  name: z.string(),
  created_at: z.number().int(),
  created_by: z.string(),
  projects: z.array(z.string()),
  members: z.array(z.object({ email: z.string(), role: Role })),
  /** Whether the org requires two-step sign-in of its members (`PUT /v1/orgs/{org}/mfa`); absent from servers before it. */
  require_mfa: z.boolean().default(false),
});
export type Org = z.infer<typeof Org>;

/** `expires_in` in seconds; the server caps it at LATCHKEY_API_KEY_MAX_TTL. */
export const KeyCreateRequest = z.strictObject({
  name: z.string().min(1).max(100),
  role: Role.default('member'),
  project: Slug.optional(),
  expires_in: z.coerce.number().int().positive().optional(),
});
/** `grace_seconds`: how long the old key keeps working; default 0 (at once). */
export const KeyRotateRequest = z.strictObject({
  grace_seconds: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86400)
    .default(0),
});

export const ApiKeyInfo = z.object({
  id: z.string(),
  name: z.string(),
  org: z.string(),
  project: z.string().nullable(),
  role: Role,
  created_at: z.number().int(),
  created_by: z.string(),
  expires_at: z.number().int(),
  last_used_at: z.number().int().nullable(),
  revoked_at: z.number().int().nullable(),
});
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;
/** Returned by create and rotate only: the secret is shown once and never again. */
export const ApiKeyList = z.object({ keys: z.array(ApiKeyInfo) });
export type ApiKeyList = z.infer<typeof ApiKeyList>;

export const ApiKeyCreated = ApiKeyInfo.extend({ key: z.string() });
export type ApiKeyCreated = z.infer<typeof ApiKeyCreated>;

/** Why a session ended: its person logged out, a spent refresh token was replayed, or an admin ended it. */
export const RevokeReason = z.enum(['logout', 'reuse', 'admin']);
export type RevokeReason = z.infer<typeof RevokeReason>;

/** A session's id as the server makes them: `ses_` and 20 base64url characters. */
export const SessionId = z.string().regex(/^ses_[A-Za-z0-9_-]{20}$/, 'not a session id (ses_…)');

/** One sign-in (refresh-token family), as `/v1/sessions` shows it. Times in seconds. */
export const SessionInfo = z.object({
  id: z.string(),
  sub: z.string(),
  email: z.string().nullable(),
  client_id: z.string(),
  device_name: z.string().nullable(),
  user_agent: z.string().nullable(),
  address: z.string().nullable(),
  scope: z.string(),
  created_at: z.number().int(),
  last_used_at: z.number().int().nullable(),
  expires_at: z.number().int(),
  revoked: RevokeReason.nullable(),
  /** The org the sign-in was established for (its tokens act only there); null: every org the person is in. */
  org: z.string().nullable().default(null),
  /** How the person proved who they are for this session (RFC 8176 values; `mfa`: a second factor too); empty when it was not recorded. */
  amr: z.array(z.string()).default([]),
  /** When the person last proved who they are for it (a step-up moves it); null when not recorded. */
  auth_time: z.number().int().nullable().default(null),
  /** When a second factor was last proven for it; null: never. */
  mfa_at: z.number().int().nullable().default(null),
  /** Whether the credential that asked belongs to this session. */
  current: z.boolean(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;
export const SessionList = z.object({ sessions: z.array(SessionInfo) });
export type SessionList = z.infer<typeof SessionList>;

/** The orgs the caller is a member of (`GET /v1/orgs`). */
export const OrgList = z.object({
  orgs: z.array(z.object({ slug: Slug, name: z.string(), role: Role })),
});
export type OrgList = z.infer<typeof OrgList>;

/**
 * Invitations: the only way a person joins an org. An admin invites a verified email with
 * a role; the person, signed in as that email, accepts or declines. `expires_in` in
 * seconds, one hour to 30 days (default 7 days).
 */
export const INVITATION_EXPIRES_IN = { default: 7 * 86400, min: 3600, max: 30 * 86400 } as const;
export const InvitationCreateRequest = z.strictObject({
  email: MemberEmail,
  role: Role.default('member'),
  expires_in: z.coerce
    .number()
    .int()
    .min(INVITATION_EXPIRES_IN.min, 'an invitation lasts at least an hour (3600 seconds)')
    .max(INVITATION_EXPIRES_IN.max, 'an invitation lasts at most 30 days (2592000 seconds)')
    .default(INVITATION_EXPIRES_IN.default),
});
/** An invitation's id as the server makes them: `inv_` and 20 base64url characters. */
export const InvitationId = z.string().regex(/^inv_[A-Za-z0-9_-]{20}$/, 'not an invitation id (inv_…)');
/** A pending invitation; times in seconds. */
export const Invitation = z.object({
  id: z.string(),
  org: z.string(),
  org_name: z.string(),
  email: z.string(),
  role: Role,
  invited_by: z.string(),
  created_at: z.number().int(),
  expires_at: z.number().int(),
});
export type Invitation = z.infer<typeof Invitation>;
export const InvitationList = z.object({ invitations: z.array(Invitation) });
export type InvitationList = z.infer<typeof InvitationList>;

/**
 * An email domain an org claims (`/v1/orgs/{org}/domains`), as DNS knows it: lower-case,
 * internationalized names in their ASCII (punycode) form as URL's hostname gives them, no
 * trailing dot, at least two labels, no IP address, at most 253 characters. Anything that
 * would make URL read a different host (a `/`, `@`, `:`, `%`, a space) is refused first.
 */
export const MAX_DOMAIN_LENGTH = 253;
const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const DomainName = z
  .string()
  .max(MAX_DOMAIN_LENGTH + 1, `a domain is at most ${MAX_DOMAIN_LENGTH} characters`)
  .transform((value, ctx) => {
    const refuse = (message: string) => {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    };
    if (!/^[^\s/\\?#@:%[\]\p{Cc}]+$/u.test(value)) return refuse('a domain is a bare DNS name, such as example.com');
    const host = URL.canParse(`http://${value}/`) ? new URL(`http://${value}/`).hostname : null;
    if (host === null) return refuse('not a valid domain name');
    const name = host.endsWith('.') ? host.slice(0, -1) : host;
    if (/^[\d.]+$/.test(name) || name.startsWith('[')) return refuse('a domain is a name, not an IP address');
    if (!name.includes('.')) return refuse('a domain has at least two labels (example.com, not example)');
    if (!DNS_NAME.test(name) || /^\d+$/.test(name.slice(name.lastIndexOf('.') + 1))) {
      return refuse(
        `not a valid domain name (labels of letters, digits and inner hyphens, at most ${MAX_DOMAIN_LENGTH} characters)`,
      );
    }
    return name;
  });
export const DomainClaimRequest = z.strictObject({ domain: DomainName });
export const DomainState = z.enum(['pending', 'verified']);
/** A claimed domain and the TXT record that proves it; times in seconds. */
export const DomainInfo = z.object({
  domain: z.string(),
  state: DomainState,
  claimed_at: z.number().int(),
  claimed_by: z.string(),
  verified_at: z.number().int().nullable(),
  /** What to publish in DNS: a TXT record of this name holding exactly this value. */
  record: z.object({ type: z.literal('TXT'), name: z.string(), value: z.string() }),
});
export type DomainInfo = z.infer<typeof DomainInfo>;
export const DomainList = z.object({ domains: z.array(DomainInfo) });
export type DomainList = z.infer<typeof DomainList>;

/** The roles just-in-time membership may give: never owner (an org's owners are made by its owners only). */
export const SsoJitRole = z.enum(['member', 'admin']);
export type SsoJitRole = z.infer<typeof SsoJitRole>;

/**
 * An org's SSO connection (`/v1/orgs/{org}/sso`): any OpenID provider by issuer, client id
 * and client secret. The write says the whole connection but the secret, which is needed
 * when the connection is made or its issuer or client id changes (the old one is never
 * sent to another provider) and kept otherwise. `enabled` and `enforced` left out keep what
 * they were (false for a new connection). Times in seconds.
 */
export const SsoConnectionWrite = z.strictObject({
  issuer: z.string().min(1).max(512),
  client_id: z.string().min(1).max(256),
  client_secret: z.string().min(1).max(1024).optional(),
  enabled: z.boolean().optional(),
  enforced: z.boolean().optional(),
  /** Just-in-time membership: the role a verified-domain person signing in through it joins with; null: off. Left out: kept. */
  jit_role: SsoJitRole.nullable().optional(),
});
export type SsoConnectionWrite = z.infer<typeof SsoConnectionWrite>;
/** A connection as anyone may read it: never its secret. */
export const SsoConnectionInfo = z.object({
  issuer: z.string(),
  client_id: z.string(),
  enabled: z.boolean(),
  enforced: z.boolean(),
  /** The role people of the org's verified domains join with when they first sign in through it; null: they do not. */
  jit_role: SsoJitRole.nullable(),
  /** When a test sign-in last worked for this issuer and client id; null: never since they were set. */
  tested_at: z.number().int().nullable(),
  tested_by: z.string().nullable(),
  created_at: z.number().int(),
  created_by: z.string(),
  updated_at: z.number().int(),
  /** Where the provider must send people back: register it with the provider as the client's redirect URI. */
  redirect_uri: z.string(),
});
export type SsoConnectionInfo = z.infer<typeof SsoConnectionInfo>;
/** A test sign-in begun: open the URL in a browser and sign in at the org's provider. */
export const SsoTestStart = z.object({ authorization_url: z.string(), expires_in: z.number().int() });
export type SsoTestStart = z.infer<typeof SsoTestStart>;
