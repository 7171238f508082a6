import type { z } from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import type { Store } from './store.ts';
import { StoreError } from './store.ts';

/** A stored JSON record with the exact text it was read as, for a later `swap`. */
export type Versioned<T> = { raw: string; value: T };

export async function readRecord<T extends z.ZodType>(
  store: Store,
  key: string,
  schema: T,
): Promise<Versioned<z.infer<T>> | null> {
  const raw = await store.get(key);
  return raw === null ? null : { raw, value: parseRecord(schema, raw) };
}

export function parseRecord<T extends z.ZodType>(schema: T, raw: string): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new StoreError('stored record is not JSON', { cause });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new StoreError('stored record has an unexpected shape');
  return parsed.data;
}

/**
 * Read, change, swap: retried from a fresh read when another writer got there first. An
 * absent record reads as `ifAbsent()` gives it (which may throw instead); a change that
 * alters nothing writes nothing. `change` may throw to refuse.
 */
export async function updateRecord<T extends z.ZodType>(
  store: Store,
  key: string,
  schema: T,
  options: { ifAbsent: () => z.infer<T>; ttlSeconds: number; what: string },
  change: (current: z.infer<T>) => z.infer<T>,
): Promise<z.infer<T>> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const raw = await store.get(key);
    const current = raw === null ? options.ifAbsent() : parseRecord(schema, raw);
    const next = change(current);
    const text = JSON.stringify(next);
    if (text === raw || (await store.swap(key, raw, text, options.ttlSeconds))) return next;
  }
  throw new OAuthError('temporarily_unavailable', `the ${options.what} kept changing; retry`);
}
