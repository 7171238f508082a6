import type { z } from 'zod';
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
