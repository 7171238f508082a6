/**
 * Picks the secret backend for a context. Explicit choice wins; otherwise the keychain
 * where one answers, else the passphrase-encrypted file where a passphrase can be had,
 * else fail closed with what to install or set — never plain text.
 */
import type { SecretStoreName } from '../config.ts';
import { LatchkeyError } from '../errors.ts';
import { type Product, productOf } from '../product.ts';
import type { TokenCache } from '../token-cache.ts';
import { encryptedFileStore, type KeySource } from './encrypted-file.ts';
import type { Keychain } from './keychain.ts';
import { chooseAtTerminal, openQuestion, strongFromEnv, TERMINAL_TRIES } from './passphrase.ts';
import type { SecretStore, StoredCredential } from './secret-store.ts';

export type SecretDeps = {
  dir: string;
  env: Record<string, string | undefined>;
  keychain: Keychain;
  /** Asks on the terminal; null when there is no terminal to ask on. */
  promptPassphrase: ((question: string) => Promise<string>) | null;
  /** The session's access-token cache; null where there is none (see token-cache.ts). */
  tokenCache: TokenCache | null;
  /** Whose variables and words; latchkey's when absent (product.ts). */
  product?: Product;
};

export async function chooseSecretStore(
  deps: SecretDeps,
  requested: SecretStoreName | undefined,
): Promise<{ name: SecretStoreName; reason: string }> {
  const { env } = productOf(deps);
  if (requested) return { name: requested, reason: 'chosen with --secret-store' };
  const probe = await deps.keychain.probe();
  if (probe.available) return { name: 'keychain', reason: 'the OS keychain answered' };
  if (deps.env[env.passphrase]) {
    return { name: 'encrypted-file', reason: `no keychain (${probe.reason}); ${env.passphrase} is set` };
  }
  if (deps.promptPassphrase)
    return { name: 'encrypted-file', reason: `no keychain (${probe.reason}); passphrase from the terminal` };
  throw new LatchkeyError(
    'secret_store_unavailable',
    `nowhere safe to keep the token: ${probe.reason}. Install and unlock a keychain (Linux: gnome-keyring and libsecret-tools), ` +
      `or set ${env.passphrase} for an encrypted file, or choose the secret store "none" and pass ${env.token} yourself`,
  );
}

export function openSecretStore(deps: SecretDeps, name: SecretStoreName): SecretStore {
  switch (name) {
    case 'keychain':
    case 'encrypted-file': {
      // The same sealed file either way; only where its key comes from differs.
      const keySource: KeySource =
        name === 'keychain' ? { source: 'keychain', key: (create) => deps.keychain.fileKey({ create }) } : passphraseSource(deps);
      return forgetsCached(deps, encryptedFileStore({ dir: deps.dir, name, keySource, product: productOf(deps) }));
    }
    case 'env':
    case 'none':
      return nothingStored(name, productOf(deps));
  }
}

/** A credential removed (logout, contexts remove) takes its cached access token with it. */
function forgetsCached(deps: SecretDeps, store: SecretStore): SecretStore {
  return {
    ...store,
    async remove(context) {
      await deps.tokenCache?.forget(context);
      await store.remove(context);
    },
  };
}

/**
 * LATCHKEY_SECRET_PASSPHRASE (one try: a script cannot type another), else the terminal
 * (three). Either way a new file's passphrase is held to the rule (passphrase.ts); an
 * existing file opens with what it was sealed with.
 */
function passphraseSource(deps: SecretDeps): KeySource {
  const variable = productOf(deps).env.passphrase;
  const fromEnv = deps.env[variable];
  if (fromEnv) {
    return {
      source: 'scrypt',
      origin: `from ${variable}`,
      passphrase: async ({ path, purpose }) => (purpose === 'create' ? strongFromEnv(fromEnv, path, variable) : fromEnv),
    };
  }
  return {
    source: 'scrypt',
    tries: TERMINAL_TRIES,
    origin: `typed ${TERMINAL_TRIES} times`,
    passphrase: async ({ path, purpose, attempt }) => {
      // Read when asked, not when the store opens: whether there is a terminal is a getter.
      const ask = deps.promptPassphrase;
      if (!ask) throw new LatchkeyError('secret_store_unavailable', noTerminalMessage(deps, purpose));
      return purpose === 'create' ? chooseAtTerminal(ask, path) : ask(openQuestion(path, attempt));
    },
  };
}

/**
 * No terminal: git, Docker and kubectl run the helpers without one. The session cache
 * (token-cache.ts) is read before the sealed file is opened, so where there is one, a
 * `latchkey token` at a terminal (which opens the file and leaves the access token it
 * read there) lets the helpers answer without a passphrase until a minute before that
 * token expires; then they need the file again to renew it. A token that run renewed is
 * not cached by it (credential.ts says why) but by the run after. No cache, or a file
 * still to be made: the variable is the only way.
 */
function noTerminalMessage(deps: SecretDeps, purpose: 'open' | 'create'): string {
  const product = productOf(deps);
  const needs = `the encrypted file needs ${product.env.passphrase} (no terminal to ask on)`;
  // A cache turned off (LATCHKEY_TOKEN_CACHE=0) is still there to forget with, but serves nothing.
  if (purpose === 'create' || deps.tokenCache === null || deps.env[product.env.tokenCache] === '0') return needs;
  return (
    `${needs}, or run \`${product.command} token\` at a terminal first: the access token it reads from the file stays in the ` +
    'session cache ($XDG_RUNTIME_DIR) and serves the credential helpers until a minute before it expires ' +
    '(one it had to renew is cached by the next run: run it twice then)'
  );
}

/** `env` and `none`: the token lives outside latchkey (LATCHKEY_TOKEN, --token-stdin). */
function nothingStored(name: 'env' | 'none', product: Product): SecretStore {
  return {
    name,
    async read(): Promise<StoredCredential | null> {
      return null;
    },
    async write() {
      throw new LatchkeyError(
        'usage',
        `the "${name}" secret store keeps nothing; pass the token with ${product.env.token} or --token-stdin`,
      );
    },
    async remove() {},
  };
}
