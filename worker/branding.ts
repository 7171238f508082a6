/**
 * A deployment's brand: the product name and accent its pages show, the prefixes of the
 * secrets it issues, and the built-in client's id and name. Unset, each is latchkey's own.
 *
 * Prefixes exist so secret scanners find leaked tokens; they also say which kind a
 * presented token is (API key, refresh token, browser session) before any store is read,
 * so no prefix may be a prefix of another kind's. Secrets issued under latchkey's default
 * prefixes stay accepted after a rebrand: the kind they name is still unambiguous.
 */
import * as z from 'zod';
import { DEFAULT_API_KEY_PREFIXES } from '../packages/verify/src/api-key.ts';
import { BUILTIN_CLIENT_ID, TOKEN_PREFIX } from '../shared/schemas.ts';

/** The secret kinds LATCHKEY_SECRET_PREFIXES names, with latchkey's prefix for each. */
export const DEFAULT_SECRET_PREFIXES = {
  org_key_live: DEFAULT_API_KEY_PREFIXES[0],
  org_key_test: DEFAULT_API_KEY_PREFIXES[1],
  project_key_live: DEFAULT_API_KEY_PREFIXES[0],
  project_key_test: DEFAULT_API_KEY_PREFIXES[1],
  refresh_token: TOKEN_PREFIX.refreshToken,
  device_code: TOKEN_PREFIX.deviceCode,
  authorization_code: TOKEN_PREFIX.authorizationCode,
  browser_session: TOKEN_PREFIX.session,
} as const;
export type SecretKind = keyof typeof DEFAULT_SECRET_PREFIXES;
export type SecretPrefixes = Record<SecretKind, string>;

const API_KEY_KINDS: readonly SecretKind[] = ['org_key_live', 'org_key_test', 'project_key_live', 'project_key_test'];
/** The kind a presented token is told apart as: all API keys are one (the record says org or project, live or test). */
const family = (kind: SecretKind) => (API_KEY_KINDS.includes(kind) ? 'api_key' : kind);

export const DEFAULT_PRODUCT_NAME = 'latchkey';
export const DEFAULT_ACCENT = '#2563eb';
/** latchkey's own CLI: the built-in client unbranded, and still known when a deployment names its own. */
export const DEFAULT_CLI_CLIENT = { id: BUILTIN_CLIENT_ID, name: 'latchkey CLI' } as const;

export type Branding = {
  productName: string;
  /** `#rrggbb`. */
  accent: string;
  /** What this deployment issues, per kind. */
  prefixes: SecretPrefixes;
  /** What it accepts: its own prefixes and latchkey's defaults, so nothing issued before a rebrand is lost. */
  accepted: { apiKey: readonly string[]; refreshToken: readonly string[]; browserSession: readonly string[] };
  /** The built-in public client. `latchkey-cli` stays known beside a configured one (see clients.ts). */
  cliClient: { id: string; name: string };
};

/** Plain text: no control characters (a newline in a <title> or a log line is nobody's brand). */
const plainText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max, `at most ${max} characters`)
    .refine((text) => !/\p{Cc}/u.test(text), 'plain text without control characters');

export const ProductName = plainText(40);
export const Accent = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'expected a colour as #rrggbb, such as #0f766e');
export const ClientId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'client ids are lower-case letters, digits, ".", "_" and "-"');
export const ClientName = plainText(80);

const PREFIX_SHAPE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*_$/;
const Prefix = z
  .string()
  .min(3, 'a prefix has 3 to 16 characters')
  .max(16, 'a prefix has 3 to 16 characters')
  .regex(PREFIX_SHAPE, 'a prefix is lower-case letters and digits in words joined by "_", ending in "_" (rsk_live_)');

/** LATCHKEY_SECRET_PREFIXES: a JSON object from some kinds to their prefix; the rest keep latchkey's. */
export const SecretPrefixesSetting = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: `not JSON (expected an object such as {"org_key_live":"rsk_live_"})` });
      return z.NEVER;
    }
  })
  .pipe(z.strictObject(Object.fromEntries(Object.keys(DEFAULT_SECRET_PREFIXES).map((kind) => [kind, Prefix.optional()]))))
  .transform((configured, ctx) => {
    const problem = overlap(configured as Partial<SecretPrefixes>);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return { ...DEFAULT_SECRET_PREFIXES, ...(configured as Partial<SecretPrefixes>) } as SecretPrefixes;
  });

const related = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);

/**
 * Why these prefixes would make a token's kind ambiguous, or null. Prefixes of kinds told
 * apart when presented must differ and not start one another; and since latchkey's
 * defaults stay accepted, none may be related to a default of another kind either. API
 * keys are one kind when presented (the record says org or project, live or test), so they
 * may share a prefix, with each other or with latchkey's (`rbtk_sk_` for every key, or the
 * defaults written out), but not have one that starts another's (`rsk_`, `rsk_live_`).
 */
function overlap(configured: Partial<SecretPrefixes>): string | null {
  const entries = Object.entries(configured).filter((entry): entry is [SecretKind, string] => entry[1] !== undefined);
  for (const [i, [kind, prefix]] of entries.entries()) {
    for (const [other, otherPrefix] of entries.slice(i + 1)) {
      if (prefix === otherPrefix && family(other) === family(kind)) continue;
      if (prefix === otherPrefix) return `${kind} and ${other} are both "${prefix}": each kind needs its own prefix`;
      if (related(prefix, otherPrefix))
        return `${kind} "${prefix}" and ${other} "${otherPrefix}": one starts the other, so a token's kind would be ambiguous`;
    }
    for (const [other, fallback] of Object.entries(DEFAULT_SECRET_PREFIXES) as [SecretKind, string][]) {
      if (prefix === fallback && family(other) === family(kind)) continue;
      if (related(prefix, fallback))
        return `${kind} "${prefix}" and latchkey's ${other} "${fallback}" (still accepted for secrets issued before): one starts the other`;
    }
  }
  return null;
}

const unique = (values: string[]) => [...new Set(values)];

export function branding(input: {
  productName?: string | undefined;
  accent?: string | undefined;
  prefixes?: SecretPrefixes | undefined;
  cliClient?: { id?: string | undefined; name?: string | undefined };
}): Branding {
  const prefixes = input.prefixes ?? { ...DEFAULT_SECRET_PREFIXES };
  const productName = input.productName ?? DEFAULT_PRODUCT_NAME;
  const id = input.cliClient?.id ?? DEFAULT_CLI_CLIENT.id;
  return {
    productName,
    accent: (input.accent ?? DEFAULT_ACCENT).toLowerCase(),
    prefixes,
    accepted: {
      apiKey: unique([...API_KEY_KINDS.map((kind) => prefixes[kind]), ...DEFAULT_API_KEY_PREFIXES]),
      refreshToken: unique([prefixes.refresh_token, DEFAULT_SECRET_PREFIXES.refresh_token]),
      browserSession: unique([prefixes.browser_session, DEFAULT_SECRET_PREFIXES.browser_session]),
    },
    // Unnamed, it is named after the product: "latchkey CLI" unbranded, "Acme CLI" for Acme.
    cliClient: { id, name: input.cliClient?.name ?? `${productName} CLI` },
  };
}

/** The prefix of `token` among `prefixes`, if any (they never start one another, so at most one). */
export const prefixOf = (token: string, prefixes: readonly string[]) => prefixes.find((prefix) => token.startsWith(prefix));

/** latchkey's own brand: a deployment that configures none of it. */
export const DEFAULT_BRANDING: Branding = branding({});
