/**
 * The CLI's configuration: named contexts and which one is current. Metadata only — no
 * token ever lands here. Written atomically (temp file, fsync, rename) with mode 0600, so
 * a crash leaves the old file or the new one, never half of either.
 */

import type { ConfigFile, Context } from './config-schema.ts';
import { LatchkeyError } from './errors.ts';
import { readText } from './host.ts';
import { LATCHKEY, loginWith, type Product } from './product.ts';

export const SECRET_STORES = ['keychain', 'encrypted-file', 'env', 'none'] as const;
export type SecretStoreName = (typeof SECRET_STORES)[number];

export type { ConfigFile, Context } from './config-schema.ts';

export const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `env[product.env.configDir]`, else `$XDG_CONFIG_HOME/<appName>`, else `~/.config/<appName>`. */
export function configDir(env: Record<string, string | undefined>, product: Product = LATCHKEY): string {
  const named = env[product.env.configDir];
  if (named) return named;
  // node:os only when HOME is unset: every run computes this, and each module loaded costs.
  const home = env.HOME || process.getBuiltinModule('node:os').homedir();
  return `${env.XDG_CONFIG_HOME || `${home}/.config`}/${product.appName}`;
}

/** Where a context's sealed credential lives (the keychain and encrypted-file stores). */
export const sealedPath = (dir: string, context: string) => `${dir}/secrets/${context}.enc`;

export type ConfigStore = {
  dir: string;
  read(): Promise<ConfigFile>;
  /**
   * The name of the context a run would use (`requested`, else the current one) if the
   * file lists it, and the server it names, the rest of the file unchecked: all a cached
   * `latchkey token` needs (token-cache.ts). Null otherwise; a full read then says what is wrong.
   */
  quickContext(requested: string | undefined): Promise<{ name: string; server: unknown } | null>;
  write(config: ConfigFile): Promise<void>;
};

export function configStore(dir: string): ConfigStore {
  const path = `${dir}/config.json`;
  return {
    dir,
    async read() {
      const text = await readText(path);
      if (text === null) return { version: 1, current: null, contexts: {} };
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new LatchkeyError('failed', `${path} is not valid JSON; fix or remove it`);
      }
      // The schema (and zod) load here, not at start-up: a cached `latchkey token` never needs them.
      const { ConfigFile } = await import('./config-schema.ts');
      const parsed = ConfigFile.safeParse(json);
      if (!parsed.success) throw new LatchkeyError('failed', `${path} has an unexpected shape; fix or remove it`);
      return parsed.data;
    },
    async quickContext(requested) {
      try {
        const { current, contexts } = JSON.parse((await readText(path)) ?? '{}') as {
          current?: unknown;
          contexts?: Record<string, { server?: unknown } | null>;
        };
        const name = requested ?? current;
        const listed =
          typeof contexts === 'object' && contexts !== null && typeof name === 'string' && Object.hasOwn(contexts, name);
        return listed && CONTEXT_NAME.test(name) ? { name, server: contexts[name]?.server } : null;
      } catch {
        return null;
      }
    },
    async write(config) {
      await writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`);
    },
  };
}

/** Temp file beside the target, 0600 from creation, fsync'd, then renamed over it. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf('/')) || '.';
  const { chmod, mkdir, open, rename, rm } = await import('node:fs/promises');
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
export function selectContext(
  config: ConfigFile,
  requested: string | undefined,
  product: Product = LATCHKEY,
): { name: string; context: Context } {
  const name = requested ?? config.current;
  if (!name) throw new LatchkeyError('not_logged_in', `not logged in; run \`${product.loginCommand} --server URL\``);
  // Own keys only: `constructor` or `__proto__` is no context, whatever Object.prototype holds.
  const context = Object.hasOwn(config.contexts, name) ? config.contexts[name] : undefined;
  if (!context) {
    const known = Object.keys(config.contexts);
    throw new LatchkeyError(
      'not_logged_in',
      `no context named "${name}"${known.length ? ` (known: ${known.join(', ')})` : ''}; run \`${loginWith(product, name)}\``,
    );
  }
  return { name, context };
}
