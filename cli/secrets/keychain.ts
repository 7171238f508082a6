/**
 * The OS keychain, driven as a subprocess: `secret-tool` (Linux Secret Service over
 * D-Bus) or `security` (macOS). It holds one thing: the 32-byte key of the encrypted
 * credential files. A keychain that does not answer in time is locked, not absent — that
 * is an error, never a reason to fall back to something weaker.
 */
import { randomBytes } from 'node:crypto';
import { CliError } from '../errors.ts';
import type { Runner } from './secret-store.ts';

const SERVICE = 'latchkey';
const ACCOUNT = 'file-key';
/** Long enough for a healthy daemon, short enough that a prompt nobody answers fails. */
const KEYCHAIN_TIMEOUT_MS = 5000;

export type Keychain = {
  /** Whether a keychain answers here, and if not, why (for `status` and the fail-closed message). */
  probe(): Promise<{ available: true } | { available: false; reason: string }>;
  /** The file key, created on first use. */
  fileKey(options: { create: boolean }): Promise<Buffer>;
};

export function osKeychain(run: Runner, platform: NodeJS.Platform): Keychain {
  const commands =
    platform === 'darwin'
      ? {
          tool: 'security',
          lookup: ['find-generic-password', '-s', SERVICE, '-a', ACCOUNT, '-w'],
          // `security` takes the secret only as an argument; it is a key, never a token.
          store: (value: string) => ({
            args: ['add-generic-password', '-U', '-s', SERVICE, '-a', ACCOUNT, '-w', value],
            input: undefined,
          }),
          notFound: (code: number | null) => code === 44,
          // A locked macOS keychain prompts, so it shows up as the timeout below.
          locked: async () => false,
        }
      : platform === 'linux' || platform === 'freebsd'
        ? {
            tool: 'secret-tool',
            lookup: ['lookup', 'service', SERVICE, 'account', ACCOUNT],
            store: (value: string) => ({
              args: ['store', '--label=latchkey credential file key', 'service', SERVICE, 'account', ACCOUNT],
              input: value,
            }),
            notFound: (code: number | null) => code === 1,
            // A locked collection also answers `lookup` with "nothing found"; `search`
            // tells the two apart by refusing the secret of a locked item.
            locked: async () => {
              const search = await run('secret-tool', ['search', 'service', SERVICE, 'account', ACCOUNT], {
                timeoutMs: KEYCHAIN_TIMEOUT_MS,
              });
              return search.timedOut || /locked/i.test(search.stderr);
            },
          }
        : null;

  const lookup = async (): Promise<string | null> => {
    if (!commands) throw new CliError('secret_store_unavailable', `no keychain support on ${platform} yet`);
    const result = await run(commands.tool, commands.lookup, { timeoutMs: KEYCHAIN_TIMEOUT_MS });
    if (result.missing) throw new CliError('secret_store_unavailable', `${commands.tool} is not installed`);
    if (result.timedOut) {
      throw new CliError('keychain_locked', 'the keychain did not answer (locked, or waiting for a prompt); unlock it and retry');
    }
    if (result.code === 0 && result.stdout.trim() !== '') return result.stdout.trim();
    if (await commands.locked()) {
      throw new CliError('keychain_locked', 'the keychain is locked; unlock it (or log in to your desktop session) and retry');
    }
    if (commands.notFound(result.code) && result.stderr.trim() === '') return null;
    throw new CliError('secret_store_unavailable', `keychain unavailable: ${firstLine(result.stderr) || `exit ${result.code}`}`);
  };

  return {
    async probe() {
      try {
        await lookup();
        return { available: true };
      } catch (error) {
        if (error instanceof CliError && error.code === 'secret_store_unavailable')
          return { available: false, reason: error.message };
        throw error;
      }
    },
    async fileKey({ create }) {
      const existing = await lookup();
      if (existing) {
        const key = Buffer.from(existing, 'base64');
        if (key.length === 32) return key;
        throw new CliError(
          'secret_file_corrupt',
          'the key latchkey keeps in the keychain is malformed; delete it and log in again',
        );
      }
      if (!create) throw new CliError('not_logged_in', 'no latchkey key in the keychain; run `latchkey login`');
      if (!commands) throw new CliError('secret_store_unavailable', `no keychain support on ${platform} yet`);
      const value = randomBytes(32).toString('base64');
      const { args, input } = commands.store(value);
      const stored = await run(commands.tool, args, { timeoutMs: KEYCHAIN_TIMEOUT_MS, ...(input ? { input } : {}) });
      if (stored.timedOut) throw new CliError('keychain_locked', 'the keychain did not answer; unlock it and retry');
      if (stored.code !== 0) {
        throw new CliError('secret_store_unavailable', `could not store a key in the keychain: ${firstLine(stored.stderr)}`);
      }
      return Buffer.from(value, 'base64');
    },
  };
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.slice(0, 200) ?? '';
}
