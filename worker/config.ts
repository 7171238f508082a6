/**
 * Every setting of DESIGN's "Configuration" table, parsed once per isolate. A bad value
 * stops start-up with a ConfigError naming the setting (never echoing a secret's value).
 */
import * as z from 'zod';
import { DURATION_HINT, durationSeconds } from '../shared/duration.ts';
import { AUTHORIZATION_CODE_GRANT, DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT } from '../shared/schemas.ts';
import { ClaimName, GITHUB_ACTIONS_ISSUER, GITLAB_ISSUER, type TrustPolicy, TrustPolicyInput } from '../shared/trust-policy.ts';
import {
  Accent,
  type Branding,
  branding,
  ClientId,
  ClientName,
  DEFAULT_CLI_CLIENT,
  ProductName,
  SecretPrefixesSetting,
} from './branding.ts';
import { DEFAULT_OWNER_CLAIMS, normalizePolicy, type OwnerClaims, PolicyRejected } from './policy/trust-policy.ts';
import { checkSigningKeys, parseSigningKeys } from './tokens/signing-keys.ts';

/** A revocation answers only once every isolate's copy has expired; longer would keep callers waiting. */
const MAX_SESSION_CACHE_MS = 10_000;

/** "900", "15m", "30d" -> seconds. */
const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const seconds = durationSeconds(value);
      if (seconds === null) {
        ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT}` });
        return z.NEVER;
      }
      return seconds;
    });

/** One entry of LATCHKEY_CLIENTS: an operator's own public client. */
export const ClientConfig = z.strictObject({
  id: ClientId,
  name: z.string().min(1).max(80),
  grants: z
    .array(z.enum([DEVICE_CODE_GRANT, AUTHORIZATION_CODE_GRANT, REFRESH_TOKEN_GRANT]))
    .min(1)
    .optional(),
  redirect_uris: z.array(z.string().url()).optional(),
});
export type ClientConfig = z.infer<typeof ClientConfig>;

/** A setting holding a JSON array; `expected` says what, when it is not JSON at all. */
const jsonArray = <T extends z.ZodType>(item: T, max: number, expected: string) =>
  z
    .string()
    .default('[]')
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: `not JSON (expected ${expected})` });
        return z.NEVER;
      }
    })
    .pipe(z.array(item).max(max));

/** The whole LATCHKEY_CLIENTS setting. */
const clientList = jsonArray(ClientConfig, 100, 'an array of {id, name, grants, redirect_uris}');

/** LATCHKEY_CI_POLICIES: trust policies (until the org API holds them). */
const policyList = jsonArray(TrustPolicyInput, 500, 'an array of trust policies');

const commaList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    );

const count = (fallback: number) => z.coerce.number().int().positive().max(1_000_000).default(fallback);

export function isLoopbackUrl(url: URL): boolean {
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** A URL of this server or of an upstream provider: https, or plain http on loopback for tests. */
const upstreamUrl = z
  .string()
  .url()
  .transform((value) => new URL(value))
  .refine((url) => url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackUrl(url)), {
    message: 'must be https (plain http only on loopback)',
  });

/**
 * One entry of LATCHKEY_CI_ISSUERS: an issuer, and after `=` the claim its tokens carry
 * the immutable id of their owner in (GitHub Actions and gitlab.com need none declared).
 * Without one, no policy on the issuer is accepted, presets included: GitHub Enterprise
 * Server needs `=repository_owner_id`, self-managed GitLab `=namespace_id`.
 * Issuer URLs carry no query, so the last `=` is the separator.
 */
const ciIssuer = z.union(
  [
    z.literal('none'),
    z
      .string()
      .transform((entry) => {
        const at = entry.lastIndexOf('=');
        return at < 0 ? { url: entry } : { url: entry.slice(0, at), ownerClaim: entry.slice(at + 1) };
      })
      .pipe(z.object({ url: upstreamUrl, ownerClaim: ClaimName.optional() }))
      .transform(({ url, ownerClaim }) => ({ issuer: url.href.replace(/\/$/, ''), ownerClaim })),
  ],
  {
    message:
      'expected comma-separated https issuer URLs (plain http only on loopback), each optionally followed by =OWNER_ID_CLAIM, or none',
  },
);

const RawConfig = z.object({
  LATCHKEY_ISSUER: upstreamUrl.refine((url) => url.search === '' && url.hash === '', {
    message: 'must not carry a query or fragment',
  }),
  LATCHKEY_SIGNING_KEYS: z.string().optional(),
  LATCHKEY_HASH_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  LATCHKEY_STORE: z.enum(['kv', 'redis', 'deno-kv', 'memory']).optional(),
  // No default here: `dev` is assumed only for a loopback issuer (see parseConfig).
  LATCHKEY_IDENTITY: z.enum(['oidc', 'github', 'dev']).optional(),
  LATCHKEY_OIDC_ISSUER: upstreamUrl.optional(),
  LATCHKEY_OIDC_CLIENT_ID: z.string().min(1).max(256).optional(),
  LATCHKEY_OIDC_CLIENT_SECRET: z.string().min(1).max(1024).optional(),
  // The operator's word that this provider only issues verified addresses, for providers
  // that leave `email_verified` out; an explicit `false` is refused regardless.
  LATCHKEY_OIDC_EMAILS_VERIFIED: z.enum(['true', 'false'], { message: 'expected true or false' }).default('false'),
  // The operator's word that the provider's `amr` is honest: `mfa` in it stands in for latchkey's own second step.
  LATCHKEY_OIDC_TRUST_AMR: z.enum(['true', 'false'], { message: 'expected true or false' }).default('false'),
  LATCHKEY_GITHUB_CLIENT_ID: z.string().min(1).max(256).optional(),
  LATCHKEY_GITHUB_CLIENT_SECRET: z.string().min(1).max(1024).optional(),
  /** GitHub Enterprise Server, or a loopback stand-in in tests. */
  LATCHKEY_GITHUB_URL: upstreamUrl.default(new URL('https://github.com')),
  /** Derived from LATCHKEY_GITHUB_URL when absent (see githubApiUrl). */
  LATCHKEY_GITHUB_API_URL: upstreamUrl.optional(),
  /** The DNS-over-HTTPS resolver (RFC 8484's JSON form) that checks an org's domain TXT records; a loopback one in tests. */
  LATCHKEY_DOH_URL: upstreamUrl.default(new URL('https://cloudflare-dns.com/dns-query')),
  LATCHKEY_ALLOWED_EMAIL_DOMAINS: commaList('')
    .transform((domains) => domains.map((domain) => domain.toLowerCase()))
    .pipe(z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'expected comma-separated domain names'))),
  LATCHKEY_ACCESS_TOKEN_TTL: duration('15m'),
  LATCHKEY_CI_TOKEN_TTL: duration('10m'),
  // `none` (or an empty value) trusts no CI issuer at all.
  LATCHKEY_CI_ISSUERS: commaList(`${GITHUB_ACTIONS_ISSUER},${GITLAB_ISSUER}`).pipe(z.array(ciIssuer)),
  LATCHKEY_CI_POLICIES: policyList,
  LATCHKEY_OPERATORS: commaList('')
    .transform((emails) => emails.map((email) => email.toLowerCase()))
    .pipe(z.array(z.string().email('expected comma-separated email addresses'))),
  LATCHKEY_REFRESH_TOKEN_TTL: duration('30d'),
  LATCHKEY_REFRESH_IDLE_TTL: duration('7d'),
  LATCHKEY_REFRESH_GRACE: duration('10s'),
  LATCHKEY_DEVICE_CODE_TTL: duration('10m'),
  LATCHKEY_DEVICE_POLL_INTERVAL: duration('5s'),
  // How recent a second factor must be for a sensitive act on the API (RFC 9470 `max_age`).
  LATCHKEY_STEP_UP_MAX_AGE: duration('10m'),
  LATCHKEY_API_KEY_TTL: duration('90d'),
  LATCHKEY_API_KEY_MAX_TTL: duration('365d'),
  LATCHKEY_CLIENTS: clientList,
  LATCHKEY_USER_CODE_ATTEMPTS: count(5),
  LATCHKEY_ADDRESS_ATTEMPTS: count(30),
  // How long an isolate may trust a session record it read; every revocation waits it out
  // before answering, so it stays short (see accounts/isolate-cache.ts).
  LATCHKEY_SESSION_CACHE: z
    .string()
    .default('1s')
    .transform((value, ctx) => {
      const match = /^(\d+)(ms|s)?$/.exec(value.trim());
      const ms = match ? Number(match[1]) * (match[2] === 'ms' ? 1 : 1000) : Number.NaN;
      if (!(ms <= MAX_SESSION_CACHE_MS)) {
        ctx.addIssue({ code: 'custom', message: 'expected 0 (off) or a duration of at most 10s, such as 1s or 500ms' });
        return z.NEVER;
      }
      return ms;
    }),
  // A Cloudflare deployment upgraded from the per-key layout (one Durable Object per key)
  // reads each key's old object once (worker/store/durable-object.ts).
  LATCHKEY_MIGRATE_FROM: z.enum(['per-key']).optional(),
  // A deployment's brand (worker/branding.ts); each absent is latchkey's own.
  LATCHKEY_PRODUCT_NAME: ProductName.optional(),
  LATCHKEY_ACCENT: Accent.optional(),
  LATCHKEY_SECRET_PREFIXES: SecretPrefixesSetting.optional(),
  LATCHKEY_CLI_CLIENT_ID: ClientId.optional(),
  LATCHKEY_CLI_CLIENT_NAME: ClientName.optional(),
});

export type Config = {
  issuer: URL;
  /** The issuer without a trailing slash, for building endpoint URLs. */
  base: string;
  loopback: boolean;
  signingKeys: string | undefined;
  hashSecret: string | undefined;
  store: 'kv' | 'redis' | 'deno-kv' | 'memory' | undefined;
  identity: 'oidc' | 'github' | 'dev';
  /** The upstream OpenID provider when `identity` is `oidc`; `emailsVerified` trusts an address sent without `email_verified`. */
  oidc: {
    issuer: string;
    clientId: string;
    clientSecret: string | undefined;
    emailsVerified: boolean;
    /** Whether an ID token's `amr` holding `mfa` counts as the person's second factor (LATCHKEY_OIDC_TRUST_AMR). */
    trustAmr: boolean;
  } | null;
  /** The GitHub OAuth app when `identity` is `github`. */
  github: { clientId: string; clientSecret: string; webUrl: string; apiUrl: string } | null;
  allowedEmailDomains: string[];
  /** Where an org's domain verification looks up TXT records (DNS-over-HTTPS, JSON API). */
  dohUrl: string;
  clients: ClientConfig[];
  /** Issuers whose CI tokens may be exchanged; empty trusts none. */
  ciIssuers: string[];
  /**
   * Issuer -> the claim holding the immutable id of a token's owner, which every policy
   * for the issuer pins exactly: declared in LATCHKEY_CI_ISSUERS, over the defaults.
   */
  ciOwnerClaims: OwnerClaims;
  ciPolicies: TrustPolicy[];
  /** People (by verified email) who may run operator tools such as the policy dry-run. */
  operators: string[];
  ttl: {
    accessToken: number;
    ciToken: number;
    refreshToken: number;
    refreshIdle: number;
    refreshGrace: number;
    deviceCode: number;
    devicePollInterval: number;
    /** Seconds: how long a proven second factor covers sensitive acts (step-up, RFC 9470). */
    stepUpMaxAge: number;
    apiKey: number;
    apiKeyMax: number;
  };
  limits: { userCodeAttempts: number; addressAttempts: number };
  /** How long an isolate may trust a session record it read, in ms; 0 reads it on every check. */
  sessionCacheMs: number;
  /** `per-key`: read through to the Durable Object layout before 0.2 (Cloudflare only). */
  migrateFrom: 'per-key' | undefined;
  /** Product name, accent, secret prefixes and built-in client; latchkey's own unless configured. */
  branding: Branding;
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly settings: string[];
  constructor(settings: string[], message: string) {
    super(message);
    this.settings = settings;
  }
}

/** `LATCHKEY_CI_POLICIES[1].audience`: where in a JSON setting the problem is. */
function issuePath(path: PropertyKey[]): string {
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index > 0 ? '.' : ''}${String(part)}`)).join('');
}

const GITHUB_COM = 'github.com';
const GITHUB_COM_API = 'https://api.github.com';

/**
 * Where GitHub's REST API lives for this web URL: api.github.com for github.com only; a
 * GitHub Enterprise Server answers at https://HOST/api/v3 and must never see its tokens
 * sent to github.com.
 */
function githubApiUrl(web: URL, api: URL | undefined): string {
  const isGithubCom = web.hostname === GITHUB_COM;
  if (api === undefined) return isGithubCom ? GITHUB_COM_API : `${web.origin}/api/v3`;
  if (!isGithubCom && api.hostname === new URL(GITHUB_COM_API).hostname) {
    throw new ConfigError(
      ['LATCHKEY_GITHUB_API_URL'],
      `LATCHKEY_GITHUB_API_URL names api.github.com, but LATCHKEY_GITHUB_URL is ${web.host}; leave it out to use ${web.origin}/api/v3`,
    );
  }
  return api.href.replace(/\/$/, '');
}

/** Parses the environment (wrangler vars + secrets, or process env). Throws ConfigError. */
export function parseConfig(env: Record<string, unknown>): Config {
  const strings: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('LATCHKEY_') && typeof value === 'string' && value !== '') strings[name] = value;
  }
  // An issuer list set but empty means "trust none", never "use the defaults".
  if (env.LATCHKEY_CI_ISSUERS === '') strings.LATCHKEY_CI_ISSUERS = 'none';
  // wrangler.toml holds no [vars], so a bare `wrangler deploy` lands here, not on dev defaults.
  if (strings.LATCHKEY_ISSUER === undefined) {
    throw new ConfigError(
      ['LATCHKEY_ISSUER'],
      'LATCHKEY_ISSUER is required: the public https URL this server is reached at (npm start sets a loopback one for development)',
    );
  }
  const parsed = RawConfig.safeParse(strings);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issuePath(issue.path)}: ${issue.message}`);
    const settings = parsed.error.issues.map((issue) => String(issue.path[0]));
    throw new ConfigError(settings, `invalid configuration — ${problems.join('; ')}`);
  }
  const raw = parsed.data;
  const loopback = isLoopbackUrl(raw.LATCHKEY_ISSUER);
  if (raw.LATCHKEY_SIGNING_KEYS !== undefined) {
    try {
      parseSigningKeys(raw.LATCHKEY_SIGNING_KEYS);
    } catch (error) {
      // The message names the setting and what is wrong, never the key material.
      throw new ConfigError(['LATCHKEY_SIGNING_KEYS'], error instanceof Error ? error.message : 'LATCHKEY_SIGNING_KEYS: invalid');
    }
  }
  if (!loopback && raw.LATCHKEY_IDENTITY === undefined) {
    throw new ConfigError(
      ['LATCHKEY_IDENTITY'],
      'LATCHKEY_IDENTITY is required when the issuer is not loopback: oidc or github (dev runs only on loopback)',
    );
  }
  const identity = raw.LATCHKEY_IDENTITY ?? 'dev';
  if (!loopback) {
    // Outside loopback, generated secrets would differ per isolate and die with it.
    if (!raw.LATCHKEY_SIGNING_KEYS) {
      throw new ConfigError(
        ['LATCHKEY_SIGNING_KEYS'],
        'LATCHKEY_SIGNING_KEYS is required when the issuer is not loopback (npm run keys:generate)',
      );
    }
    if (!raw.LATCHKEY_HASH_SECRET) {
      throw new ConfigError(['LATCHKEY_HASH_SECRET'], 'LATCHKEY_HASH_SECRET is required when the issuer is not loopback');
    }
    if (identity === 'dev') {
      throw new ConfigError(['LATCHKEY_IDENTITY'], 'LATCHKEY_IDENTITY=dev signs in anyone and runs only with a loopback issuer');
    }
  }
  if (identity === 'oidc' && (!raw.LATCHKEY_OIDC_ISSUER || !raw.LATCHKEY_OIDC_CLIENT_ID)) {
    throw new ConfigError(
      ['LATCHKEY_OIDC_ISSUER', 'LATCHKEY_OIDC_CLIENT_ID'],
      'LATCHKEY_IDENTITY=oidc needs LATCHKEY_OIDC_ISSUER and LATCHKEY_OIDC_CLIENT_ID (and LATCHKEY_OIDC_CLIENT_SECRET for a confidential client)',
    );
  }
  if (identity === 'github' && (!raw.LATCHKEY_GITHUB_CLIENT_ID || !raw.LATCHKEY_GITHUB_CLIENT_SECRET)) {
    throw new ConfigError(
      ['LATCHKEY_GITHUB_CLIENT_ID', 'LATCHKEY_GITHUB_CLIENT_SECRET'],
      'LATCHKEY_IDENTITY=github needs LATCHKEY_GITHUB_CLIENT_ID and LATCHKEY_GITHUB_CLIENT_SECRET (a GitHub OAuth app)',
    );
  }
  const trustedIssuers = raw.LATCHKEY_CI_ISSUERS.flatMap((entry) => (entry === 'none' ? [] : [entry]));
  const ciIssuers = trustedIssuers.map((entry) => entry.issuer);
  const ciOwnerClaims: OwnerClaims = {
    ...DEFAULT_OWNER_CLAIMS,
    ...Object.fromEntries(trustedIssuers.flatMap(({ issuer, ownerClaim }) => (ownerClaim ? [[issuer, ownerClaim]] : []))),
  };
  const ciPolicies = raw.LATCHKEY_CI_POLICIES.map((input) => {
    try {
      return normalizePolicy(input, ciOwnerClaims);
    } catch (error) {
      if (error instanceof PolicyRejected)
        throw new ConfigError(['LATCHKEY_CI_POLICIES'], `LATCHKEY_CI_POLICIES: ${error.message}`);
      throw error;
    }
  });
  const ids = new Set<string>();
  for (const policy of ciPolicies) {
    if (ids.has(policy.id))
      throw new ConfigError(['LATCHKEY_CI_POLICIES'], `LATCHKEY_CI_POLICIES: policy id "${policy.id}" is used twice`);
    ids.add(policy.id);
    if (!ciIssuers.includes(policy.issuer)) {
      throw new ConfigError(
        ['LATCHKEY_CI_POLICIES', 'LATCHKEY_CI_ISSUERS'],
        `LATCHKEY_CI_POLICIES: policy "${policy.id}" names issuer ${policy.issuer}, which LATCHKEY_CI_ISSUERS does not trust`,
      );
    }
  }
  if (raw.LATCHKEY_API_KEY_TTL > raw.LATCHKEY_API_KEY_MAX_TTL) {
    throw new ConfigError(['LATCHKEY_API_KEY_TTL'], 'LATCHKEY_API_KEY_TTL must not exceed LATCHKEY_API_KEY_MAX_TTL');
  }
  const clashing = raw.LATCHKEY_CLI_CLIENT_ID && raw.LATCHKEY_CLIENTS.find((client) => client.id === raw.LATCHKEY_CLI_CLIENT_ID);
  if (clashing) {
    throw new ConfigError(
      ['LATCHKEY_CLI_CLIENT_ID', 'LATCHKEY_CLIENTS'],
      `LATCHKEY_CLI_CLIENT_ID "${clashing.id}" is also in LATCHKEY_CLIENTS: the built-in client's id must be its own`,
    );
  }
  // latchkey's own CLI stays known whatever the brand, answered before LATCHKEY_CLIENTS
  // (clients.ts): an entry there meant to rename it or take grants from it would be ignored.
  if (raw.LATCHKEY_CLIENTS.some((client) => client.id === DEFAULT_CLI_CLIENT.id)) {
    throw new ConfigError(
      ['LATCHKEY_CLIENTS'],
      `LATCHKEY_CLIENTS names "${DEFAULT_CLI_CLIENT.id}", latchkey's built-in client, which it cannot redefine or restrict`,
    );
  }
  if (raw.LATCHKEY_REFRESH_IDLE_TTL > raw.LATCHKEY_REFRESH_TOKEN_TTL) {
    throw new ConfigError(['LATCHKEY_REFRESH_IDLE_TTL'], 'LATCHKEY_REFRESH_IDLE_TTL must not exceed LATCHKEY_REFRESH_TOKEN_TTL');
  }
  return {
    issuer: raw.LATCHKEY_ISSUER,
    base: raw.LATCHKEY_ISSUER.href.replace(/\/$/, ''),
    loopback,
    signingKeys: raw.LATCHKEY_SIGNING_KEYS,
    hashSecret: raw.LATCHKEY_HASH_SECRET,
    store: raw.LATCHKEY_STORE,
    identity,
    oidc:
      identity === 'oidc' && raw.LATCHKEY_OIDC_ISSUER && raw.LATCHKEY_OIDC_CLIENT_ID
        ? {
            issuer: raw.LATCHKEY_OIDC_ISSUER.href.replace(/\/$/, ''),
            clientId: raw.LATCHKEY_OIDC_CLIENT_ID,
            clientSecret: raw.LATCHKEY_OIDC_CLIENT_SECRET,
            emailsVerified: raw.LATCHKEY_OIDC_EMAILS_VERIFIED === 'true',
            trustAmr: raw.LATCHKEY_OIDC_TRUST_AMR === 'true',
          }
        : null,
    github:
      identity === 'github' && raw.LATCHKEY_GITHUB_CLIENT_ID && raw.LATCHKEY_GITHUB_CLIENT_SECRET
        ? {
            clientId: raw.LATCHKEY_GITHUB_CLIENT_ID,
            clientSecret: raw.LATCHKEY_GITHUB_CLIENT_SECRET,
            webUrl: raw.LATCHKEY_GITHUB_URL.href.replace(/\/$/, ''),
            apiUrl: githubApiUrl(raw.LATCHKEY_GITHUB_URL, raw.LATCHKEY_GITHUB_API_URL),
          }
        : null,
    allowedEmailDomains: raw.LATCHKEY_ALLOWED_EMAIL_DOMAINS,
    dohUrl: raw.LATCHKEY_DOH_URL.href,
    clients: raw.LATCHKEY_CLIENTS,
    ciIssuers,
    ciOwnerClaims,
    ciPolicies,
    operators: raw.LATCHKEY_OPERATORS,
    ttl: {
      accessToken: raw.LATCHKEY_ACCESS_TOKEN_TTL,
      ciToken: raw.LATCHKEY_CI_TOKEN_TTL,
      refreshToken: raw.LATCHKEY_REFRESH_TOKEN_TTL,
      refreshIdle: raw.LATCHKEY_REFRESH_IDLE_TTL,
      refreshGrace: raw.LATCHKEY_REFRESH_GRACE,
      deviceCode: raw.LATCHKEY_DEVICE_CODE_TTL,
      devicePollInterval: raw.LATCHKEY_DEVICE_POLL_INTERVAL,
      stepUpMaxAge: raw.LATCHKEY_STEP_UP_MAX_AGE,
      apiKey: raw.LATCHKEY_API_KEY_TTL,
      apiKeyMax: raw.LATCHKEY_API_KEY_MAX_TTL,
    },
    limits: { userCodeAttempts: raw.LATCHKEY_USER_CODE_ATTEMPTS, addressAttempts: raw.LATCHKEY_ADDRESS_ATTEMPTS },
    sessionCacheMs: raw.LATCHKEY_SESSION_CACHE,
    migrateFrom: raw.LATCHKEY_MIGRATE_FROM,
    branding: branding({
      productName: raw.LATCHKEY_PRODUCT_NAME,
      accent: raw.LATCHKEY_ACCENT,
      prefixes: raw.LATCHKEY_SECRET_PREFIXES,
      cliClient: { id: raw.LATCHKEY_CLI_CLIENT_ID, name: raw.LATCHKEY_CLI_CLIENT_NAME },
    }),
  };
}

/**
 * Start-up's check that every configured signing key is a working pair (beyond the shape
 * parseConfig checks): each entry runs it before it serves, so a bad key stops start-up
 * (Node, Deno) or the isolate's first request (Workers) naming the setting.
 */
export async function checkConfiguredSigningKeys(config: Config): Promise<void> {
  if (!config.signingKeys) return;
  await checkSigningKeys(config.signingKeys).catch((error: Error) => {
    throw new ConfigError(['LATCHKEY_SIGNING_KEYS'], error.message);
  });
}
