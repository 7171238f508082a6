/**
 * Bench only: the floor under any refresh grant that keeps issue 18's guarantees (one
 * successor under concurrent refresh, reuse detected) with its state in a Durable Object.
 * Such a grant must make at least one durable compare-and-set per refresh; this Worker
 * makes exactly that and nothing else: no token is signed, hashed or checked beyond
 * equality, no claim built. Its req/s is what the same workerd process and disk allow a
 * refresh with the guarantee at all, so the bench can say how far latchkey is from it.
 *
 * - `POST /login`: a new chain (one object), its first value out as `refresh_token`.
 * - `POST /oauth/token` (form `refresh_token=<chain>.<value>`): the chain's object swaps
 *   the value for a new one if it is the current one (else 400), in one SQLite write.
 */
import { DurableObject } from 'cloudflare:workers';

type Env = { FLOOR: DurableObjectNamespace<Chain> };

export class Chain extends DurableObject<Env> {
  #made = false;
  #table() {
    if (this.#made) return;
    this.ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS chain (id INTEGER PRIMARY KEY, value TEXT NOT NULL)');
    this.#made = true;
  }
  start(value: string): void {
    this.#table();
    this.ctx.storage.sql.exec('INSERT OR REPLACE INTO chain VALUES (1, ?)', value);
  }
  /** The compare-and-set: true if `presented` was current and is now replaced by `next`. */
  rotate(presented: string, next: string): boolean {
    this.#table();
    const current = this.ctx.storage.sql.exec<{ value: string }>('SELECT value FROM chain WHERE id = 1').toArray()[0];
    if (current?.value !== presented) return false;
    this.ctx.storage.sql.exec('UPDATE chain SET value = ? WHERE id = 1', next);
    return true;
  }
}

const fresh = () => {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, '');
};

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (request.method !== 'POST') return new Response(null, { status: 405 });
    if (pathname === '/login') {
      const chain = fresh();
      const value = fresh();
      await env.FLOOR.get(env.FLOOR.idFromName(chain)).start(value);
      return Response.json({ access_token: '', refresh_token: `${chain}.${value}` });
    }
    if (pathname !== '/oauth/token') return new Response(null, { status: 404 });
    const presented = new URLSearchParams(await request.text()).get('refresh_token') ?? '';
    const [chain = '', value = ''] = presented.split('.');
    const next = fresh();
    const rotated = chain !== '' && (await env.FLOOR.get(env.FLOOR.idFromName(chain)).rotate(value, next));
    if (!rotated) return Response.json({ error: 'invalid_grant' }, { status: 400 });
    return Response.json({ token_type: 'Bearer', refresh_token: `${chain}.${next}` });
  },
};
