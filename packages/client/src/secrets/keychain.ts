/**
 * The OS keychain, in-process through @napi-rs/keyring: macOS Keychain, Windows Credential
 * Manager, the Linux Secret Service over D-Bus. It holds one thing: the 32-byte key of
 * the encrypted credential files. A keychain that is locked, or does not answer in time,
 * is an error — never a reason to fall back to something weaker.
 */
import { LatchkeyError } from '../errors.ts';

const ACCOUNT = 'file-key';
/** Long enough for a healthy daemon, short enough that a prompt nobody answers fails. */
const KEYCHAIN_TIMEOUT_MS = 5000;

/** The slice of @napi-rs/keyring's AsyncEntry used here; tests may pass another. */
export type KeyringEntry = {
  getPassword(signal?: AbortSignal): Promise<string | null>;
  setPassword(password: string, signal?: AbortSignal): Promise<void>;
};

export type Keychain = {
  /** Whether a keychain answers here, and if not, why (for `status` and the fail-closed message). */
  probe(): Promise<{ available: true } | { available: false; reason: string }>;
  /** The file key; created on first use only when `create`. */
  fileKey(options: { create: boolean }): Promise<Buffer>;
};

export function osKeychain(options: {
  platform: NodeJS.Platform;
  env: Record<string, string | undefined>;
  entry?: () => Promise<KeyringEntry>;
  /** The keychain service the file key is kept under, and the name in messages (default `latchkey`). */
  appName?: string;
  /** How to sign in again, for a missing key (default `latchkey login`). */
  loginCommand?: string;
}): Keychain {
  const { platform, env } = options;
  const appName = options.appName ?? 'latchkey';
  const openEntry =
    options.entry ??
    (async () => {
      const { AsyncEntry } = await import('@napi-rs/keyring');
      return new AsyncEntry(appName, ACCOUNT);
    });

  const unavailableHere = (): string | null => {
    if (!['darwin', 'win32', 'linux', 'freebsd'].includes(platform)) return `no keychain support on ${platform}`;
    // Without a session bus the Secret Service cannot answer; the library would then quietly say "not found".
    if ((platform === 'linux' || platform === 'freebsd') && !env.DBUS_SESSION_BUS_ADDRESS) {
      return 'no D-Bus session bus, so no Secret Service (gnome-keyring, KWallet) to ask';
    }
    return null;
  };

  const call = async <T>(run: (entry: KeyringEntry, signal: AbortSignal) => Promise<T>): Promise<T> => {
    const reason = unavailableHere();
    if (reason) throw new LatchkeyError('secret_store_unavailable', `keychain unavailable: ${reason}`);
    let entry: KeyringEntry;
    try {
      entry = await openEntry();
    } catch (cause) {
      throw new LatchkeyError('secret_store_unavailable', 'keychain unavailable: the keyring library did not load', { cause });
    }
    try {
      return await run(entry, AbortSignal.timeout(KEYCHAIN_TIMEOUT_MS));
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      if (
        (cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError')) ||
        /lock|prompt|dismiss|interaction/i.test(message)
      ) {
        throw new LatchkeyError('keychain_locked', 'the keychain is locked or waiting for a prompt; unlock it and retry', {
          cause,
        });
      }
      throw new LatchkeyError('secret_store_unavailable', `keychain unavailable: ${message.split('\n')[0]?.slice(0, 200)}`, {
        cause,
      });
    }
  };

  return {
    async probe() {
      try {
        await call((entry, signal) => entry.getPassword(signal));
        return { available: true };
      } catch (error) {
        if (error instanceof LatchkeyError && error.code === 'secret_store_unavailable')
          return { available: false, reason: error.message };
        throw error;
      }
    },
    async fileKey({ create }) {
      const existing = await call((entry, signal) => entry.getPassword(signal));
      if (existing) {
        const key = Buffer.from(existing, 'base64');
        if (key.length === 32) return key;
        throw new LatchkeyError(
          'secret_file_corrupt',
          `the key ${appName} keeps in the keychain is malformed; delete it and log in again`,
        );
      }
      if (!create)
        throw new LatchkeyError(
          'not_logged_in',
          `no ${appName} key in the keychain; run \`${options.loginCommand ?? 'latchkey login'}\``,
        );
      const value = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
      await call((entry, signal) => entry.setPassword(value, signal));
      return Buffer.from(value, 'base64');
    },
  };
}
