/**
 * Reading request input the way RFC 6749 asks: form-encoded bodies, no parameter twice,
 * bounded size. Everything that fails here is a 4xx `invalid_request`, never a 5xx.
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { readCapped, strictUtf8 } from '../streams.ts';

/** No legitimate OAuth request comes near this; a 100 KB value is refused unread. */
export const MAX_BODY_BYTES = 16 * 1024;

/** The request's media type, lower-cased, without parameters such as charset. */
const mediaType = (c: Context) => (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();

/**
 * How long a body may take to arrive. Ours are at most MAX_BODY_BYTES, sent at once by a
 * CLI or a CI job; a client that declares a Content-Length longer than what it sends would
 * otherwise hold the request open until it gives up.
 */
export const BODY_TIMEOUT_MS = 5000;

/** The body as text, refused (413) past MAX_BODY_BYTES whether declared or sent, and (408) past BODY_TIMEOUT_MS. */
async function bodyText(c: Context): Promise<string> {
  const declared = c.req.header('content-length');
  if (Number(declared ?? '0') > MAX_BODY_BYTES) throw tooLarge();
  // A declared length within the bound is all the body there is (the runtime reads no
  // further), so it is read in one call; only a chunked body needs counting as it comes.
  if (declared !== undefined && /^\d+$/.test(declared)) {
    return utf8(new Uint8Array(await inTime(c.req.raw.arrayBuffer())));
  }
  return inTime(readBounded(c.req.raw));
}

function inTime<T>(reading: Promise<T>): Promise<T> {
  // Once the answer is out, a read the client then abandons fails with nobody to hear it.
  reading.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const message = `the body did not arrive within ${BODY_TIMEOUT_MS / 1000} s (is Content-Length longer than the body?)`;
      reject(new OAuthError('invalid_request', message, { status: 408, headers: { Connection: 'close' } }));
    }, BODY_TIMEOUT_MS);
  });
  return Promise.race([reading, late]).finally(() => clearTimeout(timer));
}

export async function readForm(c: Context): Promise<Record<string, string>> {
  if (mediaType(c) !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'Content-Type must be application/x-www-form-urlencoded', { status: 415 });
  }
  return toRecord(new URLSearchParams(await bodyText(c)));
}

/**
 * A /v1 request body: JSON (an object of plain values) or a form, with the same size and
 * prototype rules as OAuth forms.
 */
export async function readBody(c: Context): Promise<Record<string, unknown>> {
  if (mediaType(c) !== 'application/json') return readForm(c);
  const parsed = await readJson(c);
  const out: Record<string, unknown> = Object.create(null);
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === 'object' && value !== null)
      throw new OAuthError('invalid_request', `parameter "${name.slice(0, 40)}" must be a plain value`);
    out[name] = value;
  }
  return out;
}

/**
 * A JSON object body with nested values (a trust policy), for a schema to check whole;
 * same size bound as every body. Nothing but JSON is accepted.
 */
export async function readJson(c: Context): Promise<object> {
  if (mediaType(c) !== 'application/json') {
    throw new OAuthError('invalid_request', 'Content-Type must be application/json', { status: 415 });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await bodyText(c));
  } catch (error) {
    if (error instanceof OAuthError) throw error;
    throw new OAuthError('invalid_request', 'body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new OAuthError('invalid_request', 'body must be a JSON object');
  }
  return parsed;
}

/** Query parameters, with the same duplicate rule as bodies. */
export function readQuery(c: Context): Record<string, string> {
  return toRecord(new URL(c.req.url).searchParams);
}

/** Parses with a shared schema; the first issue becomes the error description. */
export function parseInput<T extends z.ZodType>(
  schema: T,
  input: unknown,
  code: 'invalid_request' = 'invalid_request',
): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? String(issue.path[0]) : '';
  // RFC 6749 §5.2: an unknown, malformed or repeated scope is `invalid_scope`.
  const error = where === 'scope' ? 'invalid_scope' : code;
  const message =
    issue?.code === 'unrecognized_keys'
      ? `unknown parameter "${String(issue.keys[0]).slice(0, 40)}"`
      : issue?.code === 'invalid_type' && issue.input === undefined
        ? `missing parameter "${where}"`
        : `invalid parameter "${where}": ${issue?.message ?? 'malformed'}`;
  throw new OAuthError(error, message);
}

function toRecord(params: URLSearchParams): Record<string, string> {
  // No prototype: a parameter named `__proto__` must be an own key the schemas refuse, not a
  // silently ignored prototype assignment that also slips past the duplicate check.
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of params) {
    if (Object.hasOwn(out, name))
      throw new OAuthError('invalid_request', `parameter "${name.slice(0, 40)}" appears more than once`);
    out[name] = value;
  }
  return out;
}

async function readBounded(request: Request): Promise<string> {
  if (!request.body) return '';
  const bytes = await readCapped(request.body, MAX_BODY_BYTES, async (reader, read) => {
    await drain(reader, read);
    return tooLarge();
  });
  return utf8(bytes);
}

/** A refused body is read to its end, up to this, before the 413 goes out. */
const DRAIN_LIMIT_BYTES = 1024 * 1024;

/**
 * Reads and drops the rest of a body refused as too large, so a client still sending it
 * reads the 413 instead of a connection closed under its write (EPIPE); a body past
 * DRAIN_LIMIT_BYTES is cut off instead.
 */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, read: number): Promise<void> {
  let size = read;
  while (size <= DRAIN_LIMIT_BYTES) {
    const { done, value } = await reader.read();
    if (done) return;
    size += value.byteLength;
  }
  await reader.cancel();
}

function utf8(bytes: Uint8Array): string {
  try {
    return strictUtf8(bytes);
  } catch {
    throw new OAuthError('invalid_request', 'body is not valid UTF-8');
  }
}

function tooLarge(): OAuthError {
  return new OAuthError('invalid_request', `body exceeds ${MAX_BODY_BYTES} bytes`, { status: 413 });
}

/** `Authorization: Bearer <token>` (RFC 6750 §2.1), or a 401 with a challenge. */
export const bearerToken = (c: Context): string => bearerFrom(c.req.header('authorization'));

/** The token of an `Authorization` header's value, as {@link bearerToken}. */
export function bearerFrom(header: string | null | undefined): string {
  const match = /^Bearer ([\w.~+/-]+=*)$/i.exec(header ?? '');
  if (!match?.[1] || match[1].length > 4096) {
    throw new OAuthError('invalid_token', 'a Bearer credential is required', {
      headers: { 'WWW-Authenticate': 'Bearer realm="latchkey"' },
    });
  }
  return match[1];
}
