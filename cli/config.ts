/**
 * The CLI's configuration: named contexts and which one is current. Metadata only — no
 * token ever lands here. Written atomically (temp file, fsync, rename) with mode 0600, so
 * a crash leaves the old file or the new one, never half of either.
 */
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { CliError } from './errors.ts';

export const SECRET_STORES = ['keychain', 'encrypted-file', 'env', 'none'] as const;
export type SecretStoreName = (typeof SECRET_STORES)[number];

export const Context = z.object({
  server: z.string().url(),
  clientId: z.string(),
  secretStore: z.enum(SECRET_STORES),
  /** Why that store was chosen, for `status`. */
  secretStoreReason: z.string(),
  user: z.object({ sub: z.string(), email: z.string().nullable() }).nullable(),
  kind: z.enum(['user', 'api_key', 'ci']),
  org: z.string().nullable(),
  project: z.string().nullable(),
  createdAt: z.string(),
});
export type Context = z.infer<typeof Context>;

export const ConfigFile = z.object({
  version: z.literal(1),
  current: z.string().nullable(),
  contexts: z.record(z.string(), Context),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

export const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function configDir(env: Record<string, string | undefined>): string {
  if (env.LATCHKEY_CONFIG_DIR) return env.LATCHKEY_CONFIG_DIR;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'latchkey');
}

export type ConfigStore = {
  dir: string;
  read(): Promise<ConfigFile>;
  write(config: ConfigFile): Promise<void>;
};

export function configStore(dir: string): ConfigStore {
  const path = join(dir, 'config.json');
  return {
    dir,
    async read() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, current: null, contexts: {} };
        throw error;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new CliError('failed', `${path} is not valid JSON; fix or remove it`);
      }
      const parsed = ConfigFile.safeParse(json);
      if (!parsed.success) throw new CliError('failed', `${path} has an unexpected shape; fix or remove it`);
      return parsed.data;
    },
    async write(config) {
      await writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`);
    },
  };
}

/** Temp file beside the target, 0600 from creation, fsync'd, then renamed over it. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf('/')) || '.';
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** The context a command runs under: `--context`, else the current one. */
export function selectContext(config: ConfigFile, requested: string | undefined): { name: string; context: Context } {
  const name = requested ?? config.current;
  if (!name) throw new CliError('not_logged_in', 'not logged in; run `latchkey login --server URL`');
  const context = config.contexts[name];
  if (!context) {
    const known = Object.keys(config.contexts);
    throw new CliError(
      'not_logged_in',
      `no context named "${name}"${known.length ? ` (known: ${known.join(', ')})` : ''}; run \`latchkey login --name ${name}\``,
    );
  }
  return { name, context };
}
