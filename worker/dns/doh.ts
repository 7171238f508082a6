/**
 * TXT lookups over DNS-over-HTTPS, in the JSON form Cloudflare and Google serve
 * (`GET <resolver>?name=…&type=TXT`, `Accept: application/dns-json`). The resolver is the
 * operator's (LATCHKEY_DOH_URL) but its answer is still read as untrusted input: bounded in
 * time and size and checked by a schema, so a slow, huge or broken resolver costs one
 * refused verification, never the isolate's memory or a 500.
 */
import * as z from 'zod';
import { readCapped, strictUtf8 } from '../streams.ts';

/** A resolver answers in well under a second; one that takes longer is treated as down. */
export const DOH_TIMEOUT_MS = 5000;
/** A TXT answer worth reading fits many times over; anything longer is not read to its end. */
export const DOH_MAX_BYTES = 64 * 1024;

/** DNS RCODEs (RFC 1035 §4.1.1) that mean "no such record", which is an answer, not a failure. */
const NOERROR = 0;
const NXDOMAIN = 3;
/** Record types (RFC 1035 §3.2.2). */
const TXT = 16;
const CNAME = 5;

const DohAnswer = z.object({
  Status: z.number().int().nonnegative(),
  Answer: z
    .array(z.object({ name: z.string(), type: z.number().int(), data: z.string() }))
    .max(1000)
    .optional(),
});

export type DohFailure = 'unreachable' | 'timeout' | 'too_large' | 'malformed' | 'refused' | 'failed';

export class DohError extends Error {
  override readonly name = 'DohError';
  readonly code: DohFailure;
  constructor(code: DohFailure, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
  }
}

export type DohOptions = { timeoutMs?: number; maxBytes?: number };

/**
 * The TXT records at `name`, each as one string (its character-strings joined, as RFC 7208
 * §3.3 reads a record split into several). No such name or no TXT there: an empty list.
 */
export async function lookupTxt(
  fetcher: typeof fetch,
  resolver: string,
  name: string,
  options: DohOptions = {},
): Promise<string[]> {
  const timeoutMs = options.timeoutMs ?? DOH_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DOH_MAX_BYTES;
  const url = new URL(resolver);
  url.searchParams.set('name', name);
  url.searchParams.set('type', 'TXT');
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // One deadline for the answer and its body: a resolver that sends headers at once and
  // the body a byte a minute is as slow as one that sends nothing.
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new DohError('timeout', `the DNS resolver did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
  });
  const reading = answerText(fetcher, url, abort.signal, maxBytes);
  reading.catch(() => {}); // settled after the deadline: nobody is listening any more
  let text: string;
  try {
    text = await Promise.race([reading, late]);
  } finally {
    clearTimeout(timer);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new DohError('malformed', 'the DNS resolver answered something other than JSON', { cause });
  }
  const parsed = DohAnswer.safeParse(json);
  if (!parsed.success) throw new DohError('malformed', 'the DNS resolver answered JSON of an unexpected shape');
  const { Status: status, Answer: answers = [] } = parsed.data;
  if (status === NXDOMAIN) return [];
  if (status !== NOERROR) throw new DohError('failed', `the DNS resolver could not look the name up (DNS status ${status})`);
  const chain = chainFrom(name, answers);
  return answers.flatMap((answer) => {
    // Only records at the name asked or along its CNAME chain: a TXT for some other name
    // riding in the answer (a resolver's bug, a poisoned cache) proves nothing about this one.
    if (answer.type !== TXT || !chain.has(canonical(answer.name))) return [];
    const joined = joinCharacterStrings(answer.data);
    return joined === null ? [] : [joined];
  });
}

/** DNS names compare without case and without the root's dot, which resolvers add or not. */
const canonical = (name: string) => (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();

/**
 * The name asked and every name a CNAME in the answer leads to from it, in any order the
 * resolver lists them; a CNAME that does not start on the chain adds nothing.
 */
function chainFrom(name: string, answers: { name: string; type: number; data: string }[]): Set<string> {
  const chain = new Set([canonical(name)]);
  for (let grown = true; grown; ) {
    grown = false;
    for (const answer of answers) {
      if (answer.type !== CNAME || !chain.has(canonical(answer.name)) || chain.has(canonical(answer.data))) continue;
      chain.add(canonical(answer.data));
      grown = true;
    }
  }
  return chain;
}

async function answerText(fetcher: typeof fetch, url: URL, signal: AbortSignal, maxBytes: number): Promise<string> {
  let response: Response;
  try {
    response = await fetcher(url.href, { headers: { accept: 'application/dns-json' }, redirect: 'manual', signal });
  } catch (cause) {
    throw new DohError('unreachable', 'the DNS resolver could not be reached', { cause });
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    throw new DohError('refused', `the DNS resolver answered HTTP ${response.status}`);
  }
  if (Number(response.headers.get('content-length') ?? '0') > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge(maxBytes);
  }
  if (!response.body) return '';
  const bytes = await readCapped(response.body, maxBytes, async (reader) => {
    await reader.cancel().catch(() => {});
    return tooLarge(maxBytes);
  });
  try {
    return strictUtf8(bytes);
  } catch (cause) {
    throw new DohError('malformed', 'the DNS resolver answered bytes that are not UTF-8', { cause });
  }
}

const tooLarge = (maxBytes: number) =>
  new DohError('too_large', `the DNS resolver's answer is longer than ${maxBytes / 1024} KiB; it was not read`);

/**
 * A TXT record's data as a JSON resolver gives it: Cloudflare in presentation form, each
 * character-string quoted (`"v=spf1 " "-all"`, with `\"`, `\\` and `\DDD` escapes), Google
 * as the bare text. The strings are joined with nothing between them. Null: quoted data
 * that does not parse (that record is skipped; it cannot be the one asked for).
 */
export function joinCharacterStrings(data: string): string | null {
  if (!data.startsWith('"')) return data;
  let out = '';
  let index = 0;
  while (index < data.length) {
    if (data[index] === ' ') {
      index++;
      continue;
    }
    if (data[index] !== '"') return null;
    index++;
    for (;;) {
      const char = data[index];
      if (char === undefined) return null;
      index++;
      if (char === '"') break;
      if (char !== '\\') {
        out += char;
        continue;
      }
      const digits = /^\d{3}/.exec(data.slice(index))?.[0];
      if (digits !== undefined) {
        const code = Number(digits);
        if (code > 255) return null;
        out += String.fromCharCode(code);
        index += 3;
        continue;
      }
      const escaped = data[index];
      if (escaped === undefined) return null;
      out += escaped;
      index++;
    }
  }
  return out;
}
