/**
 * CI trust policies as people write them (an org's admins through
 * `/v1/orgs/{org}/trust-policies`, the operator in LATCHKEY_CI_POLICIES) and as the
 * dry-run reports on them. Three forms (`preset`): `github-actions` and
 * `gitlab`, which name the documented claims and require the immutable ids, and `custom`
 * with any claims. Every policy pins its issuer's owner id claim to one exact value; a
 * preset's id claim is that only on its own issuer or one LATCHKEY_CI_ISSUERS declares
 * with it. The Worker expands each into one normal form and checks it
 * (worker/policy/trust-policy.ts).
 */
import * as z from 'zod';
import { SCOPES, Slug } from './schemas.ts';

export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';
export const GITLAB_ISSUER = 'https://gitlab.com';

/**
 * The audience an org's CI jobs request their ID tokens for, and the only one its own
 * policies may use (worker/accounts/trust-policies.ts says why).
 */
export const orgAudience = (server: string, org: string) => `${server.replace(/\/+$/, '')}/orgs/${org}`;

/**
 * An exact value, or a glob: `*` matches within one segment (never `/` or `:`), `**`
 * matches anything. Anchored at both ends.
 */
export const ClaimPattern = z.string().min(1).max(512);
const NumericId = z.string().regex(/^\d{1,20}$/, 'ids are the numeric strings the CI puts in its tokens');
export const ClaimName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'claim names are letters, digits, "_", "." and "-"');

export const TrustPolicyGrant = z.strictObject({
  project: Slug,
  scopes: z.array(z.enum(SCOPES)).min(1, 'grant at least one scope'),
  /** Seconds; never longer than LATCHKEY_CI_TOKEN_TTL either. */
  max_ttl: z.number().int().positive().max(86400).optional(),
});

const common = {
  id: Slug,
  org: Slug.optional(),
  description: z.string().max(200).optional(),
  audience: z
    .string({ message: 'a policy needs an audience: the "aud" the CI job requests its token for' })
    .min(1, 'a policy needs an audience: the "aud" the CI job requests its token for')
    .max(256),
  grant: TrustPolicyGrant,
  /** Further conditions on any claim. */
  claims: z.record(ClaimName, ClaimPattern).optional(),
};

/** GitHub Actions: claims from "About security hardening with OpenID Connect". */
export const GithubActionsPolicy = z.strictObject({
  ...common,
  preset: z.literal('github-actions'),
  /**
   * GitHub Enterprise Server: https://HOSTNAME/_services/token, which the operator declares
   * in LATCHKEY_CI_ISSUERS with `=repository_owner_id` (otherwise the policy is refused).
   */
  issuer: z.string().url().optional(),
  repository: ClaimPattern,
  repository_owner_id: NumericId,
  /** Required when `repository` names one repository (no wildcard). */
  repository_id: NumericId.optional(),
  /** `repo:OWNER/REPO:ref:…`, `…:environment:NAME`, `…:pull_request`: shapes vary by run. */
  sub: ClaimPattern.optional(),
  ref: ClaimPattern.optional(),
  environment: ClaimPattern.optional(),
  job_workflow_ref: ClaimPattern.optional(),
  event_name: ClaimPattern.optional(),
});

/** GitLab: claims from "OpenID Connect (OIDC) Authentication Using ID Tokens". */
export const GitlabPolicy = z.strictObject({
  ...common,
  preset: z.literal('gitlab'),
  /** Self-managed GitLab: its base URL, declared in LATCHKEY_CI_ISSUERS with `=namespace_id`. */
  issuer: z.string().url().optional(),
  project_path: ClaimPattern,
  namespace_id: NumericId,
  /** Required when `project_path` names one project (no wildcard). */
  project_id: NumericId.optional(),
  ref: ClaimPattern.optional(),
  ref_type: z.enum(['branch', 'tag']).optional(),
  ref_protected: z.boolean().optional(),
  environment: ClaimPattern.optional(),
});

/**
 * Any claims; one of them must be the issuer's owner id claim, exact: `repository_owner_id`
 * for GitHub Actions, `namespace_id` for GitLab, what LATCHKEY_CI_ISSUERS declares for others.
 */
export const CustomPolicy = z.strictObject({
  ...common,
  preset: z.literal('custom'),
  issuer: z.string().url(),
  claims: z.record(ClaimName, ClaimPattern),
});

export const TrustPolicyInput = z.discriminatedUnion('preset', [GithubActionsPolicy, GitlabPolicy, CustomPolicy], {
  message: 'every policy needs "preset": "github-actions", "gitlab" or "custom"',
});
export type TrustPolicyInput = z.infer<typeof TrustPolicyInput>;

const PRESETS = ['github-actions', 'gitlab', 'custom'] as const;

/** What the Worker keeps and matches: one issuer, one audience, claim patterns, a grant. */
export const TrustPolicy = z.object({
  id: Slug,
  org: Slug.nullable(),
  /** The form it was written in, and its note: kept to show it back, never matched on. */
  preset: z.enum(PRESETS),
  description: z.string().nullable(),
  issuer: z.string(),
  audience: z.string(),
  claims: z.record(z.string(), z.string()),
  grant: TrustPolicyGrant,
});
export type TrustPolicy = z.infer<typeof TrustPolicy>;

/**
 * A policy as `GET /v1/orgs/{org}/trust-policies` shows it: made through the API
 * (`source: api`, deletable there), or set by the operator (`config`: LATCHKEY_CI_POLICIES).
 */
export const TrustPolicyInfo = TrustPolicy.extend({
  source: z.enum(['api', 'config']),
  created_at: z.number().nullable(),
  created_by: z.string().nullable(),
});
export type TrustPolicyInfo = z.infer<typeof TrustPolicyInfo>;
export const TrustPolicyList = z.object({ policies: z.array(TrustPolicyInfo) });
export type TrustPolicyList = z.infer<typeof TrustPolicyList>;

/** `POST /v1/trust-policies/dry-run`: a CI token, and optionally the project it is for. */
export const DryRunRequest = z.strictObject({
  subject_token: z.string().min(1).max(8192),
  audience: Slug.optional(),
});

/** The dry-run's answer: the token's checks, then each policy for the project, and why. */
export const DryRunResponse = z.object({
  token: z.object({
    issuer: z.string().nullable(),
    trusted_issuer: z.boolean(),
    verified: z.boolean(),
    error: z.string().nullable(),
  }),
  policies: z.array(
    z.object({
      id: z.string(),
      org: z.string().nullable(),
      matched: z.boolean(),
      failed: z.array(z.object({ claim: z.string(), expected: z.string(), actual: z.string().nullable() })),
    }),
  ),
  would_issue: z
    .object({ policy: z.string(), org: z.string().nullable(), project: z.string(), scope: z.string(), expires_in: z.number() })
    .nullable(),
  /** Why the exchange would refuse a token that verified, as the refusal would say it. */
  would_refuse: z.string().nullable(),
});
export type DryRunResponse = z.infer<typeof DryRunResponse>;
