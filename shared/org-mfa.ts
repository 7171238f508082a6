/**
 * An org's "require two-step sign-in" policy on the wire (`/v1/orgs/{org}/mfa`): what its
 * owner sends, and what members read back.
 */
import * as z from 'zod';

export const OrgMfaRequest = z.strictObject({ required: z.boolean() });
export type OrgMfaRequest = z.infer<typeof OrgMfaRequest>;

export const OrgMfaPolicy = z.object({
  org: z.string(),
  /** Whether members act in the org only from a sign-in that proved a second factor. */
  required: z.boolean(),
  /** A change only: how many of the org's sessions without a second factor it ended. */
  sessions_ended: z.number().int().nonnegative().optional(),
});
export type OrgMfaPolicy = z.infer<typeof OrgMfaPolicy>;
