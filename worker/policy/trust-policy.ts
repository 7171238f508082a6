/**
 * Trust policies: expanding the presets into one normal form, refusing policies that
 * would trust too much, and matching a verified token's claims. Pure: no I/O, no clock.
 */
import { GITHUB_ACTIONS_ISSUER, GITLAB_ISSUER, type TrustPolicy, type TrustPolicyInput } from '../../shared/trust-policy.ts';
import { hasWildcard, matchesEverything, matchesGlob } from './glob.ts';

/** A policy that cannot be accepted, with the reason to show whoever wrote it. */
export class PolicyRejected extends Error {
  override readonly name = 'PolicyRejected';
}

const defined = (entries: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(entries).filter((entry): entry is [string, string] => entry[1] !== undefined));

/**
 * Issuer -> the claim that carries the immutable id of a token's owner (the account or
 * group whose jobs may request it): LATCHKEY_CI_ISSUERS' declarations over the defaults
 * (config's `ciOwnerClaims`).
 */
export type OwnerClaims = Readonly<Record<string, string>>;

/** Known without being declared: the owner ids of GitHub Actions' and gitlab.com's tokens. */
export const DEFAULT_OWNER_CLAIMS: OwnerClaims = {
  [GITHUB_ACTIONS_ISSUER]: 'repository_owner_id',
  [GITLAB_ISSUER]: 'namespace_id',
};

/**
 * The claim a preset names as its owner id, and the one issuer where that holds without
 * the operator's word. GitHub Enterprise Server and self-managed GitLab issue the same
 * claims, but any other issuer may let its users set a claim of that name, so there it
 * counts only when LATCHKEY_CI_ISSUERS declares it (`https://ghes.example/_services/token=repository_owner_id`).
 */
const PRESET_OWNER: Partial<Record<TrustPolicy['preset'], { claim: string; issuer: string }>> = {
  'github-actions': { claim: 'repository_owner_id', issuer: GITHUB_ACTIONS_ISSUER },
  gitlab: { claim: 'namespace_id', issuer: GITLAB_ISSUER },
};

/**
 * The claim a policy must pin, exactly: its issuer's owner id claim as declared (GitHub
 * Actions' and gitlab.com's by default); null for an issuer that declares none, whatever
 * the preset (the preset is never matched on).
 */
export function ownerClaimOf(policy: Pick<TrustPolicy, 'issuer'>, owners: OwnerClaims): string | null {
  return Object.hasOwn(owners, policy.issuer) ? (owners[policy.issuer] ?? null) : null;
}

/** Why a policy on an issuer that declares no owner id claim pins no owner: as the dry-run and a refusal say it. */
function undeclaredOwner(policy: Pick<TrustPolicy, 'issuer' | 'preset'>): { failure: ClaimFailure; reason: string } {
  const preset = PRESET_OWNER[policy.preset];
  if (preset) {
    return {
      failure: {
        claim: 'iss',
        expected: `${preset.issuer}, or an issuer LATCHKEY_CI_ISSUERS declares with =${preset.claim}`,
        actual: policy.issuer,
      },
      reason: `the ${policy.preset} preset's ${preset.claim} is an owner id only on ${preset.issuer} or an issuer the operator declares with it; ${policy.issuer} declares no owner id claim, and its users might set ${preset.claim} freely. The operator declares it in LATCHKEY_CI_ISSUERS (${policy.issuer}=${preset.claim})`,
    };
  }
  return {
    failure: { claim: 'iss', expected: 'an issuer whose owner id claim LATCHKEY_CI_ISSUERS declares', actual: policy.issuer },
    reason: `its issuer ${policy.issuer} has no declared owner id claim, so no condition can pin an owner; the operator declares it in LATCHKEY_CI_ISSUERS (${policy.issuer}=CLAIM)`,
  };
}

/**
 * Whether the policy admits only tokens of one owner: it pins its issuer's owner id claim
 * to one exact value. Anything else — a branch, an event, a name, a glob — is shared by
 * every owner's jobs, and an org's audience is public, so any repository could ask for it.
 * Null when pinned; otherwise the failure as the dry-run shows it, and its reason.
 */
export function unpinnedOwner(policy: TrustPolicy, owners: OwnerClaims): { failure: ClaimFailure; reason: string } | null {
  const claim = ownerClaimOf(policy, owners);
  if (claim === null) return undeclaredOwner(policy);
  const pattern = Object.hasOwn(policy.claims, claim) ? policy.claims[claim] : undefined;
  if (pattern !== undefined && !hasWildcard(pattern)) return null;
  return {
    failure: {
      claim,
      expected: `one exact ${claim} pinned by the policy, which ${pattern === undefined ? 'has none' : `has the glob "${pattern}"`}: it admits no token until re-created`,
      actual: null,
    },
    reason:
      pattern === undefined
        ? `no condition pins an owner — give ${claim}, the immutable id of the owner of ${policy.issuer}'s tokens, as one exact value`
        : `${claim} must be one exact value, the immutable id of the owner of ${policy.issuer}'s tokens, not the glob "${pattern}"`,
  };
}

/** Presets become plain claim conditions, immutable ids included; then the policy is checked. */
export function normalizePolicy(input: TrustPolicyInput, owners: OwnerClaims): TrustPolicy {
  const base = {
    id: input.id,
    org: input.org ?? null,
    preset: input.preset,
    description: input.description ?? null,
    audience: input.audience,
    grant: input.grant,
  };
  let issuer: string;
  let claims: Record<string, string>;
  if (input.preset === 'github-actions') {
    if (!hasWildcard(input.repository) && !input.repository_id) {
      throw new PolicyRejected(
        `policy "${input.id}": give repository_id for ${input.repository}, so a deleted and re-created repository of that name is not trusted`,
      );
    }
    issuer = input.issuer ?? GITHUB_ACTIONS_ISSUER;
    // `sub` only when asked for: it changes shape with environments and pull requests,
    // while these claims are always present and mean one thing each.
    claims = defined({
      sub: input.sub,
      repository: input.repository,
      repository_owner_id: input.repository_owner_id,
      repository_id: input.repository_id,
      ref: input.ref,
      environment: input.environment,
      job_workflow_ref: input.job_workflow_ref,
      event_name: input.event_name,
    });
  } else if (input.preset === 'gitlab') {
    if (!hasWildcard(input.project_path) && !input.project_id) {
      throw new PolicyRejected(
        `policy "${input.id}": give project_id for ${input.project_path}, so a deleted and re-created project of that path is not trusted`,
      );
    }
    issuer = input.issuer ?? GITLAB_ISSUER;
    claims = defined({
      project_path: input.project_path,
      namespace_id: input.namespace_id,
      project_id: input.project_id,
      ref: input.ref,
      ref_type: input.ref_type,
      ref_protected: input.ref_protected === undefined ? undefined : String(input.ref_protected),
      environment: input.environment,
    });
  } else {
    issuer = input.issuer;
    claims = {};
  }
  const policy: TrustPolicy = {
    ...base,
    issuer: issuer.replace(/\/$/, ''),
    claims: { ...(input.claims ?? {}), ...claims },
  };
  checkPolicy(policy, owners);
  return policy;
}

/** Refuses a policy that would trust anyone: no conditions, a match-all pattern, no owner. */
export function checkPolicy(policy: TrustPolicy, owners: OwnerClaims): void {
  const entries = Object.entries(policy.claims);
  if (entries.length === 0)
    throw new PolicyRejected(
      `policy "${policy.id}": it has no claim conditions, so it would trust every token of ${policy.issuer}`,
    );
  for (const [claim, pattern] of entries) {
    if (matchesEverything(pattern)) {
      throw new PolicyRejected(`policy "${policy.id}": the pattern "${pattern}" for ${claim} matches everything`);
    }
  }
  const unpinned = unpinnedOwner(policy, owners);
  if (unpinned) throw new PolicyRejected(`policy "${policy.id}": ${unpinned.reason}`);
}

export type ClaimFailure = { claim: string; expected: string; actual: string | null };

/** A claim as the patterns see it: strings as they are, numbers and booleans as text. */
function claimText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/**
 * Every condition the claims fail (empty: the policy matches). The audience comes first.
 * A policy that does not pin its issuer's owner id (stored before that was required, a
 * preset on an issuer that declared nothing, or since the operator changed the issuer's
 * owner claim) always fails, and says so: it is checked here, on every use, not only when
 * it was made.
 */
export function policyFailures(policy: TrustPolicy, claims: Record<string, unknown>, owners: OwnerClaims): ClaimFailure[] {
  const failures: ClaimFailure[] = [];
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(policy.audience)) {
    failures.push({
      claim: 'aud',
      expected: policy.audience,
      actual: audiences.map(claimText).filter(Boolean).join(' ') || null,
    });
  }
  const unpinned = unpinnedOwner(policy, owners);
  if (unpinned) {
    const { claim } = unpinned.failure;
    failures.push({ ...unpinned.failure, actual: Object.hasOwn(claims, claim) ? claimText(claims[claim]) : null });
  }
  for (const [claim, pattern] of Object.entries(policy.claims)) {
    const actual = Object.hasOwn(claims, claim) ? claimText(claims[claim]) : null;
    if (actual === null || !matchesGlob(pattern, actual)) failures.push({ claim, expected: pattern, actual });
  }
  return failures;
}
