/**
 * Trust policies: expanding the presets into one normal form, refusing policies that
 * would trust too much, and matching a verified token's claims. Pure: no I/O, no clock.
 */
import { GITHUB_ACTIONS_ISSUER, GITLAB_ISSUER, type TrustPolicy, type TrustPolicyInput } from '../../shared/trust-policy.ts';
import { hasWildcard, matchesEverything, matchesGlob, pinsAnOwner } from './glob.ts';

/** A policy that cannot be accepted, with the reason to show whoever wrote it. */
export class PolicyRejected extends Error {
  override readonly name = 'PolicyRejected';
}

const defined = (entries: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(entries).filter((entry): entry is [string, string] => entry[1] !== undefined));

/** Presets become plain claim conditions, immutable ids included; then the policy is checked. */
export function normalizePolicy(input: TrustPolicyInput): TrustPolicy {
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
  checkPolicy(policy);
  return policy;
}

/** Refuses a policy that would trust anyone: no conditions, a match-all pattern, no owner. */
export function checkPolicy(policy: TrustPolicy): void {
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
  if (!entries.some(([, pattern]) => pinsAnOwner(pattern))) {
    throw new PolicyRejected(
      `policy "${policy.id}": no condition pins an owner — give one exact claim (such as repository_id) or a glob with a fixed owner part (such as repo:acme/*)`,
    );
  }
}

export type ClaimFailure = { claim: string; expected: string; actual: string | null };

/** A claim as the patterns see it: strings as they are, numbers and booleans as text. */
function claimText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/** Every condition the claims fail (empty: the policy matches). The audience comes first. */
export function policyFailures(policy: TrustPolicy, claims: Record<string, unknown>): ClaimFailure[] {
  const failures: ClaimFailure[] = [];
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(policy.audience)) {
    failures.push({
      claim: 'aud',
      expected: policy.audience,
      actual: audiences.map(claimText).filter(Boolean).join(' ') || null,
    });
  }
  for (const [claim, pattern] of Object.entries(policy.claims)) {
    const actual = Object.hasOwn(claims, claim) ? claimText(claims[claim]) : null;
    if (actual === null || !matchesGlob(pattern, actual)) failures.push({ claim, expected: pattern, actual });
  }
  return failures;
}
