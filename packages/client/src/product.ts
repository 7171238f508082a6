/**
 * Everything that makes a CLI built on this library its own rather than latchkey's: the
 * name its files and keychain entry go under, the variables it reads, the client id it
 * signs in as and the words its messages tell a person to type. One object threaded
 * through (ClientDeps.product); LATCHKEY is the latchkey CLI's, and the default.
 */
export type Product = {
  /** Config dir `$XDG_CONFIG_HOME/<appName>` (or `~/.config/<appName>`), keychain service, session-cache dir, page titles. */
  appName: string;
  /** The OAuth client id it signs in as. */
  clientId: string;
  /** Sent with every request. */
  userAgent: string;
  /** The CLI's own name in messages (`latchkey contexts use NAME`). */
  command: string;
  /** How a message tells the person to sign in (`latchkey login`, `acme auth login`). */
  loginCommand: string;
  /** The environment variables it reads. */
  env: {
    /** A token that overrides any stored login. */
    token: string;
    /** The server, over the configured default. */
    server: string;
    /** The config dir, over `$XDG_CONFIG_HOME/<appName>`. */
    configDir: string;
    /** A passphrase for the encrypted-file store. */
    passphrase: string;
    /** Which secret store a login uses. */
    secretStore: string;
    /** `0` turns the session token cache off. */
    tokenCache: string;
  };
};

export const LATCHKEY: Product = {
  appName: 'latchkey',
  clientId: 'latchkey-cli',
  userAgent: 'latchkey-cli',
  command: 'latchkey',
  loginCommand: 'latchkey login',
  env: {
    token: 'LATCHKEY_TOKEN',
    server: 'LATCHKEY_SERVER',
    configDir: 'LATCHKEY_CONFIG_DIR',
    passphrase: 'LATCHKEY_SECRET_PASSPHRASE',
    secretStore: 'LATCHKEY_SECRET_STORE',
    tokenCache: 'LATCHKEY_TOKEN_CACHE',
  },
};

/** The product a set of dependencies carries; latchkey's when it names none. */
export const productOf = (deps: { product?: Product | undefined }): Product => deps.product ?? LATCHKEY;

/** `latchkey login`, or with a context: `latchkey login --name work`. */
export const loginWith = (product: Product, context?: string): string =>
  context === undefined ? product.loginCommand : `${product.loginCommand} --name ${context}`;
