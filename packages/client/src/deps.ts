/**
 * What the library is given instead of reaching for globals, so a product CLI (and a test)
 * can supply any of it. The latchkey CLI's dependencies (cli/deps.ts) extend these.
 */
import type { LatchkeyClient } from './client.ts';
import type { ConfigStore } from './config.ts';
import type { Product } from './product.ts';
import type { SecretDeps } from './secrets/select.ts';

export type ClientDeps = {
  env: Record<string, string | undefined>;
  now: () => number;
  config: ConfigStore;
  secrets: SecretDeps;
  /** Loaded on first use, so commands that never touch the network start faster. */
  client: (server: string, clientId: string) => Promise<LatchkeyClient>;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Plain HTTP, for what is not a latchkey server (a CI runner's ID-token endpoint). */
  fetch: typeof fetch;
  /** Aborts a wait (a login's polling) when the person gives up. */
  signal: AbortSignal;
  /** Names, variables and message words; latchkey's when absent (product.ts). */
  product?: Product;
};

/** Which login a call means: a named context (else the current one), and a server the caller names. */
export type Selection = { context?: string; server?: string };
