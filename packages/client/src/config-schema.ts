/** The shape of config.json, checked on every full read (see config.ts). */
import * as z from 'zod/mini';
import { SECRET_STORES } from './config.ts';

export const Context = z.object({
  server: z.url(),
  clientId: z.string(),
  secretStore: z.enum(SECRET_STORES),
  /** Why that store was chosen, for `status`. */
  secretStoreReason: z.string(),
  user: z.nullable(z.object({ sub: z.string(), email: z.nullable(z.string()) })),
  kind: z.enum(['user', 'api_key', 'ci']),
  org: z.nullable(z.string()),
  project: z.nullable(z.string()),
  createdAt: z.string(),
  /** How the credential came: a sign-in (browser or device) or `login --with-token`; absent in older files. */
  via: z.optional(z.enum(['sign-in', 'with-token'])),
  /** Hosts besides the server's that `latchkey credential-helper` answers git for (`setup-git --host`). */
  gitHosts: z.optional(z.array(z.string())),
  /** Registries `docker-credential-latchkey` answers for (`setup-docker --registry`). */
  dockerRegistries: z.optional(z.array(z.string())),
});
export type Context = z.infer<typeof Context>;

export const ConfigFile = z.object({
  version: z.literal(1),
  current: z.nullable(z.string()),
  contexts: z.record(z.string(), Context),
});
export type ConfigFile = z.infer<typeof ConfigFile>;
