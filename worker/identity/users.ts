/**
 * Who a signed-in person is to latchkey: a stable `usr_…` id per upstream identity,
 * created once (create-if-absent, so two first sign-ins at once agree on one id).
 */
import * as z from 'zod';
import type { Services } from '../services.ts';
import { parseRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { generateId } from '../tokens/opaque.ts';

export type Person = { sub: string; email: string | null };

const Identity = z.object({ sub: z.string(), email: z.string().nullable() });
/** Identities are kept as long as the store keeps anything: ten years, renewed on sign-in. */
const IDENTITY_TTL_SECONDS = 10 * 365 * 86400;

export async function resolvePerson(
  services: Services,
  upstream: { provider: string; subject: string; email: string | null },
): Promise<Person> {
  const { store, hasher } = services;
  const key = storeKey('identity', await hasher.hash('idn', `${upstream.provider}\0${upstream.subject}`));
  for (let attempt = 0; attempt < 3; attempt++) {
    const raw = await store.get(key);
    if (raw !== null) {
      const known = parseRecord(Identity, raw);
      if (known.email === upstream.email) return known;
      const updated = { ...known, email: upstream.email };
      if (await store.swap(key, raw, JSON.stringify(updated), IDENTITY_TTL_SECONDS)) return updated;
      continue;
    }
    const person: Person = { sub: generateId('usr_'), email: upstream.email };
    if (await store.swap(key, null, JSON.stringify(person), IDENTITY_TTL_SECONDS)) return person;
  }
  throw new Error('identity record kept changing');
}
