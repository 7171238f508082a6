/**
 * Signing in, from choosing where the secret goes to the context written: the steps the
 * latchkey CLI's `login` and a product's `login()` share. Where the secret goes is chosen
 * (and a new file's passphrase asked) before anyone approves anything, so a refusal costs
 * nothing; the credential is checked against /v1/me before it is kept.
 */
import type { MeResponse } from '../../../shared/schemas.ts';
import { type BrowserLoginEvent, browserLogin } from './browser-login.ts';
import type { LatchkeyClient } from './client.ts';
import type { Context, SecretStoreName } from './config.ts';
import type { ClientDeps } from './deps.ts';
import { type DeviceLoginOptions, deviceLogin, storedFrom } from './device-login.ts';
import { LatchkeyError } from './errors.ts';
import { productOf } from './product.ts';
import type { SecretStore, StoredCredential } from './secrets/secret-store.ts';
import { chooseSecretStore, openSecretStore } from './secrets/select.ts';

export type ChosenStore = { name: SecretStoreName; reason: string; store: SecretStore };

/** The store a login under `name` keeps its secret in, opened and ready (a new file's passphrase chosen). */
export async function loginStore(deps: ClientDeps, name: string, requested: SecretStoreName | undefined): Promise<ChosenStore> {
  const chosen = await chooseSecretStore(deps.secrets, requested);
  if (chosen.name === 'env' || chosen.name === 'none') {
    throw new LatchkeyError(
      'usage',
      `the secret store "${chosen.name}" keeps no token; set ${productOf(deps).env.token} instead of logging in`,
    );
  }
  const store = openSecretStore(deps.secrets, chosen.name);
  await store.prepare?.(name);
  return { ...chosen, store };
}

export type InteractiveLoginOptions = DeviceLoginOptions & {
  flow: 'browser' | 'device';
  /** false: the browser login's URL is handed over (an event) instead of opened. */
  open: boolean;
  openBrowser: (url: string) => Promise<boolean | string>;
  onBrowserEvent?: (event: BrowserLoginEvent) => void;
  /** The browser could not be opened (why, if the opener said); the device flow follows. */
  onFallback?: (reason: string | null) => void;
};

/**
 * A browser login, or the device flow; a browser that fails to start falls back to the
 * device flow rather than leaving the person stuck.
 */
export async function interactiveLogin(
  deps: ClientDeps,
  client: LatchkeyClient,
  options: InteractiveLoginOptions,
): Promise<StoredCredential> {
  if (options.flow === 'browser') {
    const result = await browserLogin(deps, client, {
      scope: options.scope,
      open: options.open,
      org: options.org,
      openBrowser: options.openBrowser,
      ...(options.onBrowserEvent ? { onEvent: options.onBrowserEvent } : {}),
    });
    if (result.opened) return storedFrom(deps, result.tokens);
    options.onFallback?.(result.reason);
  }
  return deviceLogin(deps, client, options);
}

/**
 * Keeps a credential under context `name`: who it belongs to (/v1/me, which also refuses
 * a token the server does not take), the secret in its store, the context in config.json,
 * made current.
 */
export async function keepLogin(
  deps: ClientDeps,
  input: {
    name: string;
    client: LatchkeyClient;
    chosen: ChosenStore;
    credential: StoredCredential;
    via: 'sign-in' | 'with-token';
  },
): Promise<{ context: Context; me: MeResponse }> {
  const { name, client, chosen, credential } = input;
  const me = await client.me(credential.access_token);
  const stored: StoredCredential = {
    ...credential,
    expires_at: credential.expires_at ?? (me.kind === 'api_key' ? null : me.exp),
  };
  await chosen.store.write(name, stored);
  const context: Context = {
    server: client.server,
    clientId: client.clientId,
    secretStore: chosen.name,
    secretStoreReason: chosen.reason,
    user: { sub: me.sub, email: me.email },
    kind: me.kind,
    org: me.org,
    project: me.project,
    createdAt: new Date(deps.now()).toISOString(),
    via: input.via,
  };
  const latest = await deps.config.read();
  await deps.config.write({ ...latest, current: name, contexts: { ...latest.contexts, [name]: context } });
  return { context, me };
}
