/** The one small interface every secret backend fills in. */
import * as z from 'zod/mini';
import type { SecretStoreName } from '../config.ts';

export const StoredCredential = z.object({
  access_token: z.string(),
  refresh_token: z.nullable(z.string()),
  /** Seconds since the epoch; null for credentials that do not say (API keys). */
  expires_at: z.nullable(z.number()),
});
export type StoredCredential = z.infer<typeof StoredCredential>;

export interface SecretStore {
  readonly name: SecretStoreName;
  read(context: string): Promise<StoredCredential | null>;
  write(context: string, credential: StoredCredential): Promise<void>;
  /**
   * Asks now for whatever a write will need (a new file's passphrase, chosen and confirmed),
   * so `login` asks before anyone approves anything and a refusal costs nothing.
   */
  prepare?(context: string): Promise<void>;
  remove(context: string): Promise<void>;
}
