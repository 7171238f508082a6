/**
 * The session's access-token cache. Opening a sealed credential costs a scrypt (~50 ms)
 * or a Secret Service round trip (~11 ms), and `latchkey token` runs in every script
 * step. So once a run has opened it, the access token — only that, never the refresh
 * token or an API key — is kept until a minute before it expires in $XDG_RUNTIME_DIR:
 * the per-login directory the system makes private to this user, in memory, removed
 * when the user's last session ends. Nothing of it reaches a disk.
 *
 * An entry is bound to the sealed file it came from (its digest): a new login, a refresh
 * or a logout rewrites or removes that file, and the entry no longer matches. Where
 * $XDG_RUNTIME_DIR is unset, not a directory, not ours or open to others, or
 * LATCHKEY_TOKEN_CACHE=0, there is no cache and every run opens the sealed file.
 */
import { sealedPath } from './config.ts';
import { fileInfo, readText } from './host.ts';
import { LATCHKEY, type Product } from './product.ts';
import { isVisibleAscii } from './token-text.ts';

/**
 * An entry is five lines: this header, the sealed file's path, its stamp, the expiry
 * (seconds since the epoch) and the access token. Lines, not JSON through a zod schema:
 * loading zod would cost a cached run more than all the rest of it.
 */
const HEADER = 'latchkey-token-cache/1';

export type TokenCache = {
  /** The cached access token of `context` and its expiry, if its sealed file is unchanged. */
  get(context: string): Promise<{ access_token: string; expires_at: number } | null>;
  /** The sealed file as it is now; take it before reading the file, hand it to `put`. */
  stamp(context: string): Promise<string | null>;
  /**
   * Remembers what was read from the sealed file when it had `stamp`; nothing if the file
   * changed since (another process logged in or refreshed meanwhile) or never expires.
   */
  put(context: string, stamp: string | null, credential: { access_token: string; expires_at: number | null }): Promise<void>;
  forget(context: string): Promise<void>;
};

export function tokenCache(options: {
  env: Record<string, string | undefined>;
  configDir: string;
  uid: number | undefined;
  /** Whose variable turns it off and whose directory it keeps (`$XDG_RUNTIME_DIR/<appName>`); latchkey's when absent. */
  product?: Product;
}): TokenCache | null {
  const { env, configDir, uid } = options;
  const product = options.product ?? LATCHKEY;
  const runtime = env.XDG_RUNTIME_DIR;
  if (!runtime?.startsWith('/') || uid === undefined) return null;
  // Off still forgets: an entry a run left before the cache was turned off goes at logout.
  const off = env[product.env.tokenCache] === '0';
  const dir = `${runtime}/${product.appName}`;
  // One directory may serve several config dirs (LATCHKEY_CONFIG_DIR); keep them apart.
  const pathOf = (context: string) => `${dir}/${fnv1a(configDir)}-${context}.json`;
  // $XDG_RUNTIME_DIR as the XDG spec promises it: a directory of this user, closed to others.
  let usable: Promise<boolean> | undefined;
  const privateRuntime = () => {
    usable ??= off
      ? Promise.resolve(false)
      : fileInfo(runtime).then(
          (info) => info !== null && info.directory && info.uid === uid && (info.mode & 0o077) === 0,
          () => false,
        );
    return usable;
  };

  return {
    async get(context) {
      if (!(await privateRuntime())) return null;
      const lines = (await readText(pathOf(context)).catch(() => null))?.split('\n');
      if (!lines) return null; // none yet: open the sealed file instead
      const [header, sealed, stamp, expiry, token] = lines;
      const expiresAt = Number(expiry);
      const wellFormed =
        header === HEADER && lines.length === 5 && Number.isSafeInteger(expiresAt) && isVisibleAscii(token ?? '');
      if (!wellFormed || sealed !== sealedPath(configDir, context) || stamp !== (await stampOf(configDir, context))) return null;
      return { access_token: token as string, expires_at: expiresAt };
    },
    stamp: (context) => stampOf(configDir, context),
    async put(context, stamp, credential) {
      if (credential.expires_at === null || stamp === null || !(await privateRuntime())) return;
      if ((await stampOf(configDir, context)) !== stamp) return;
      // A run that read the file before another learned the session was revoked keeps its token out.
      if ((await readText(revokedMarkPath(configDir, context)).catch(() => null)) === stamp) return;
      const sealed = sealedPath(configDir, context);
      const entry = [HEADER, sealed, stamp, String(credential.expires_at), credential.access_token].join('\n');
      const { mkdir, rename, rm, writeFile } = await import('node:fs/promises');
      const temp = `${pathOf(context)}.${process.pid}.tmp`;
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await writeFile(temp, entry, { mode: 0o600, flag: 'wx' });
        await rename(temp, pathOf(context));
      } catch {
        // A cache that cannot be written only costs the next run its speed.
        await rm(temp, { force: true }).catch(() => {});
      }
    },
    async forget(context) {
      // Never in the way of a logout: an entry left behind no longer matches its file.
      const { rm } = await import('node:fs/promises');
      await rm(pathOf(context), { force: true }).catch(() => {});
    },
  };
}

/**
 * Where a run that learned from the server that a context's session is over (revoked, or
 * its refresh token refused) leaves the sealed file's stamp (see credential.ts,
 * markSessionEnded): beside the file, so it outlives the runtime directory, and bound to
 * the file as it was, so a new login (a new file) is not held to it.
 */
export const revokedMarkPath = (configDir: string, context: string) => `${sealedPath(configDir, context)}.revoked`;

/**
 * A 64-bit hash of the sealed file's text. Every write seals with a fresh random IV, so
 * it changes with each write and an entry matches only the very file it was read from —
 * unlike inode and mtime, which a filesystem may hand out again. Not a cryptographic
 * hash, and it need not be: only this user can write either file, and WebCrypto's digest
 * costs a cached run ~1 ms to start. Null when the file is absent or unreadable.
 */
export async function stampOf(configDir: string, context: string): Promise<string | null> {
  const text = await readText(sealedPath(configDir, context)).catch(() => null);
  return text === null ? null : `${fnv1a(text)}${fnv1a(text, 0x050c5d1f)}`;
}

/** 32-bit FNV-1a, hex (another offset basis gives an independent lane); not a MAC. */
function fnv1a(text: string, basis = 0x811c9dc5): string {
  let hash = basis;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}
