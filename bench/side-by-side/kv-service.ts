/**
 * Bench only: the KV service behind every KV binding in the side-by-side workerd. workerd
 * has no KV of its own; a `kvNamespace` binding speaks HTTP to a service, in the protocol
 * Miniflare's KV worker serves: GET, PUT and DELETE on /<key>, GET on / to list, POST to
 * read many at once, metadata in `CF-KV-Metadata`, expiry as `expiration(_ttl)` in the
 * query. In memory, shared by latchkey and both peers, so none has a faster store.
 */
type Entry = { value: string; metadata?: unknown; expiresAt?: number };

const data = new Map<string, Entry>();
const METADATA = 'CF-KV-Metadata';

function live(key: string): Entry | undefined {
  const entry = data.get(key);
  if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    data.delete(key);
    return undefined;
  }
  return entry;
}

function keyOf(url: URL): string {
  const raw = url.pathname.slice(1);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function list(url: URL): Response {
  const prefix = url.searchParams.get('prefix') ?? '';
  const limit = Number(url.searchParams.get('key_count_limit') ?? 1000);
  const after = url.searchParams.get('cursor') ?? '';
  const names = [...data.keys()].filter((name) => name.startsWith(prefix) && name > after && live(name)).sort();
  const page = names.slice(0, limit);
  const keys = page.map((name) => {
    const entry = data.get(name) as Entry;
    return {
      name,
      ...(entry.expiresAt === undefined ? {} : { expiration: Math.floor(entry.expiresAt / 1000) }),
      ...(entry.metadata === undefined ? {} : { metadata: JSON.stringify(entry.metadata) }),
    };
  });
  const complete = names.length <= limit;
  return Response.json({ keys, list_complete: complete, ...(complete ? {} : { cursor: page.at(-1) }), cacheStatus: null });
}

async function bulkGet(request: Request): Promise<Response> {
  const body = (await request.json()) as { keys: string[]; type?: string; withMetadata?: boolean };
  const result: Record<string, unknown> = {};
  for (const key of body.keys) {
    const entry = live(key);
    const value = entry ? (body.type === 'json' ? JSON.parse(entry.value) : entry.value) : null;
    result[key] = value !== null && body.withMetadata ? { value, metadata: entry?.metadata ?? null } : value;
  }
  return Response.json(result);
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const key = keyOf(url);
    if (request.method === 'POST') return bulkGet(request);
    if (request.method === 'GET' && key === '') return list(url);
    if (request.method === 'GET') {
      const entry = live(key);
      if (!entry) return new Response('Not Found', { status: 404 });
      const headers = new Headers();
      if (entry.metadata !== undefined) headers.set(METADATA, JSON.stringify(entry.metadata));
      if (entry.expiresAt !== undefined) headers.set('CF-Expiration', String(Math.floor(entry.expiresAt / 1000)));
      return new Response(entry.value, { headers });
    }
    if (request.method === 'PUT') {
      const ttl = url.searchParams.get('expiration_ttl');
      const at = url.searchParams.get('expiration');
      const metadata = request.headers.get(METADATA);
      const entry: Entry = { value: await request.text() };
      if (metadata !== null) entry.metadata = JSON.parse(metadata);
      if (ttl !== null) entry.expiresAt = Date.now() + Number(ttl) * 1000;
      else if (at !== null) entry.expiresAt = Number(at) * 1000;
      data.set(key, entry);
      return new Response(null);
    }
    if (request.method === 'DELETE') {
      data.delete(key);
      return new Response(null);
    }
    return new Response(null, { status: 405 });
  },
};
