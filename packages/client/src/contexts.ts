/** Named logins in config.json: listing, switching, forgetting one, and which becomes current after. */
import { selectContext } from './config.ts';
import type { ClientDeps } from './deps.ts';
import { productOf } from './product.ts';
import { openSecretStore } from './secrets/select.ts';

/** Makes the context `name` current; one that does not exist is refused with the ones that do. */
export async function useContext(deps: Pick<ClientDeps, 'config' | 'product'>, name: string): Promise<void> {
  const config = await deps.config.read();
  selectContext(config, name, productOf(deps));
  await deps.config.write({ ...config, current: name });
}

/**
 * Forgets the context `name` here: its secret, then its entry. Nothing is revoked at the
 * server (logout does that). Returns the note forgetContext returns.
 */
export async function removeContext(deps: Pick<ClientDeps, 'config' | 'secrets' | 'product'>, name: string): Promise<string> {
  const config = await deps.config.read();
  const { context } = selectContext(config, name, productOf(deps));
  await openSecretStore(deps.secrets, context.secretStore).remove(name);
  return forgetContext(deps, name);
}

/**
 * Drops a context from config.json. When it was the current one, the one context left
 * becomes current; with several left none does, and the note says which there are and
 * how to choose. Returns that note for the person ('' when there is nothing to say).
 */
export async function forgetContext(deps: Pick<ClientDeps, 'config' | 'product'>, name: string): Promise<string> {
  const latest = await deps.config.read();
  const { [name]: _removed, ...contexts } = latest.contexts;
  const left = Object.keys(contexts);
  const wasCurrent = latest.current === name;
  const current = wasCurrent ? (left.length === 1 ? (left[0] as string) : null) : latest.current;
  await deps.config.write({ ...latest, contexts, current });
  if (!wasCurrent || left.length === 0) return '';
  if (current !== null) return `Now using context "${current}".\n`;
  const names = left.map((other) => `"${other}"`).join(', ');
  return `No context is current now; the others are ${names}. Choose one with \`${productOf(deps).command} contexts use NAME\`.\n`;
}
