/** Named logins in config.json: forgetting one, and which becomes current after. */
import type { ClientDeps } from './deps.ts';
import { productOf } from './product.ts';

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
