/**
 * Sends generated requests (grammar.ts) to a running server and judges every answer:
 * never a 5xx; never a stack trace or an internal name; never one of the run's secrets in
 * a body; every refusal the same shape (RFC 6749 JSON with a request id; an HTML page on
 * the browser routes); no token issued with a scope its grant did not have; and, over the
 * whole run, no credential redeemed twice (`Redemptions`). A failure
 * is shrunk by fast-check to a minimal request, reported as a regression row for
 * test/fuzz/regressions.json, which every run replays first.
 */
import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { deviceLogin, FormBrowser, startDeviceLogin } from '../fixtures/oauth-client.ts';
import { type Endpoint, type Generated, type Live, requestFor } from './grammar.ts';

/** What an HTTP server answers by itself: a malformed request, an URI or headers too long. */
const RUNTIME_REFUSALS = [400, 413, 414, 431];

export type Answer = { status: number; contentType: string; requestId: string | null; body: string };
export type Failure = { endpoint: string; request: Generated; problem: string };

const INTERNAL =
  /\n\s+at \S|\b(TypeError|ReferenceError|RangeError|SyntaxError|ZodError|StoreError)\b|node_modules|\/worker\/|\.ts:\d/;

export async function send(base: string, request: Generated): Promise<Answer> {
  const response = await fetch(`${base}${request.path}`, {
    method: request.method,
    headers: request.headers,
    redirect: 'manual',
    ...(request.body === undefined ? {} : { body: request.body }),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    requestId: response.headers.get('x-request-id'),
    body: await response.text(),
  };
}

/** What is wrong with the answer to `request`, or null. `granted`: the scopes any issued token may carry. */
export function judge(endpoint: Endpoint, request: Generated, answer: Answer, live: Live, granted: Set<string>): string | null {
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.body.slice(0, 200)}`;
  const sent = `${request.path} ${request.body ?? ''} ${JSON.stringify(request.headers)}`;
  const internal = INTERNAL.exec(answer.body);
  if (internal && !sent.includes(internal[0])) return `the answer shows an internal detail: ${internal[0]}`;
  for (const [name, secret] of [
    ['access token', live.access],
    ['refresh token', live.refresh],
    ['API key', live.apiKey],
  ] as const) {
    if (answer.body.includes(secret)) return `the answer holds the run's ${name}`;
  }
  // The runtime's own HTTP server refuses some requests before any handler (a request line
  // or headers past its limits): a bare status, no body of ours. Those never reached the app.
  const runtimeRefusal = RUNTIME_REFUSALS.includes(answer.status) && answer.requestId === null && !answer.body.startsWith('{');
  if (runtimeRefusal) return null;
  if (answer.requestId === null || !/^req_[\w-]{16,}$/.test(answer.requestId)) return 'no X-Request-Id';
  if (answer.status >= 400) {
    const html = answer.contentType.startsWith('text/html');
    if (html && endpoint.page) return null;
    if (!answer.contentType.startsWith('application/json')) return `a ${answer.status} that is not JSON (${answer.contentType})`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body);
    } catch {
      return `a ${answer.status} whose body is not JSON`;
    }
    const error = parsed as { error?: unknown; error_description?: unknown };
    if (typeof error.error !== 'string' || !/^[a-z_]+$/.test(error.error)) return `a ${answer.status} without an error code`;
    if (error.error_description !== undefined && typeof error.error_description !== 'string')
      return 'error_description is not text';
    return null;
  }
  if (endpoint.route === '/oauth/token' && answer.status === 200) {
    const issued = JSON.parse(answer.body) as { access_token?: string };
    const scope = issued.access_token ? String(decodeJwt(issued.access_token).scope ?? '') : '';
    const wider = scope.split(' ').filter((part) => part !== '' && !granted.has(part));
    if (wider.length > 0) return `a token issued with scope it was not granted: ${wider.join(' ')}`;
  }
  return null;
}

const label = (endpoint: Endpoint) => `${endpoint.method} ${endpoint.route}`;

/** A failure's row for display: long values cut, so a 20 KB value is one line that says so. */
export const abbreviated = (failure: Failure): string =>
  JSON.stringify(failure, (_key, value) =>
    typeof value === 'string' && value.length > 160 ? `${value.slice(0, 80)}…(${value.length} characters)` : value,
  );

/**
 * `runs` generated requests for one endpoint, `concurrency` at a time; failures are shrunk
 * (one request at a time) to a minimal one each.
 */
/**
 * What the token endpoint issued for each credential presented (a device code, a code, a
 * refresh token), across every request of a run: one credential must never yield two
 * different refresh tokens — a device code or a code is redeemed once, and a refresh token
 * presented again within its grace window gets the successor it already got.
 */
export type Redemptions = Map<string, string>;

export function redeemedTwice(redemptions: Redemptions, request: Generated, answer: Answer): string | null {
  if (answer.status !== 200 || request.body === undefined || !request.path.startsWith('/oauth/token')) return null;
  const form = new URLSearchParams(request.body);
  const presented = form.get('device_code') ?? form.get('code') ?? form.get('refresh_token');
  const issued = (JSON.parse(answer.body) as { refresh_token?: string }).refresh_token;
  if (!presented || !issued) return null;
  const earlier = redemptions.get(presented);
  if (earlier === undefined) redemptions.set(presented, issued);
  else if (earlier !== issued)
    return `one ${form.get('grant_type')} credential redeemed twice, with two different refresh tokens`;
  return null;
}

export async function fuzzEndpoint(
  base: string,
  live: Live,
  granted: Set<string>,
  endpoint: Endpoint,
  options: { seed: number; runs: number; concurrency: number; redemptions?: Redemptions },
): Promise<{ sent: number; failures: Failure[] }> {
  const arbitrary = requestFor(live, endpoint);
  const requests = fc.sample(arbitrary, { seed: options.seed, numRuns: options.runs });
  const redemptions = options.redemptions ?? new Map();
  let next = 0;
  let failed = false;
  let twice: Failure | undefined;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < requests.length && !failed) {
        const request = requests[next++] as Generated;
        const problem = await send(base, request).then(
          (answer) => {
            const again = redeemedTwice(redemptions, request, answer);
            // A state invariant over the whole sequence: nothing to shrink, the request says it.
            if (again) twice = { endpoint: label(endpoint), request, problem: again };
            return again ?? judge(endpoint, request, answer, live, granted);
          },
          (error: Error) => `no answer: ${error.message}`,
        );
        if (problem !== null) failed = true;
      }
    }),
  );
  if (!failed) return { sent: requests.length, failures: [] };
  if (twice) return { sent: next, failures: [twice] };
  // Shrink: the same generator and seed, one request at a time, to the smallest that fails.
  const details = await fc.check(
    fc.asyncProperty(arbitrary, async (request) => {
      const answer = await send(base, request).catch((error: Error) => error);
      return !(answer instanceof Error) && judge(endpoint, request, answer, live, granted) === null;
    }),
    { seed: options.seed, numRuns: options.runs },
  );
  const request = details.counterexample?.[0] as Generated | undefined;
  if (!request)
    return {
      sent: next,
      failures: [
        {
          endpoint: label(endpoint),
          request: requests[next - 1] as Generated,
          problem: 'failed once, not again while shrinking',
        },
      ],
    };
  const answer = await send(base, request).catch((error: Error) => error);
  const problem =
    answer instanceof Error ? `no answer: ${answer.message}` : (judge(endpoint, request, answer, live, granted) ?? 'flaky');
  return { sent: next, failures: [{ endpoint: label(endpoint), request, problem }] };
}

/** A signed-in owner of an org with an API key: the live values requests are built from, and the scopes granted. */
export async function prepareLive(base: string): Promise<{ live: Live; granted: Set<string> }> {
  const owner = await deviceLogin(base, 'owner@fuzz.example');
  const approved = await startDeviceLogin(base);
  await new FormBrowser(base).decide(approved.user_code, 'approve', 'owner@fuzz.example');
  await ok(apiCall(base, 'POST', '/v1/orgs', owner.access_token, { slug: 'fuzz' }));
  const key = await ok(apiCall(base, 'POST', '/v1/orgs/fuzz/keys', owner.access_token, { name: 'fuzz', role: 'admin' }));
  const claims = decodeJwt(owner.access_token);
  const live: Live = {
    org: 'fuzz',
    access: owner.access_token,
    refresh: owner.refresh_token,
    apiKey: String(key.key),
    sessionId: String(claims.sid),
    keyId: String(key.id),
    deviceCode: approved.device_code,
  };
  return { live, granted: new Set(String(claims.scope ?? '').split(' ')) };
}
