/**
 * Every endpoint, fed what real clients, scanners and attackers send: each row must get
 * the 4xx it names with an RFC 6749 §5.2 JSON error (an HTML page for the browser pages),
 * and never a 5xx. Driven over HTTP against wrangler dev (real workerd).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceLogin, FormBrowser } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker, testTarget } from '../fixtures/worker-server.ts';
import { startWorkerdServe } from '../fixtures/workerd-serve.ts';

const FORM = 'application/x-www-form-urlencoded';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const big = 'a'.repeat(100 * 1024);
const REQUEST_ID = /^req_[\w-]{16,}$/;

type Row = {
  name: string;
  method?: string;
  path: string;
  type?: string | null;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  status: number;
  error?: string;
  html?: boolean;
  /** Filled in at run time with a live credential. */
  bearer?: 'valid';
};

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

const rows: Row[] = [
  // POST /oauth/device_authorization
  {
    name: 'device authz: no body',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: FORM,
    body: '',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'device authz: JSON body',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: 'application/json',
    body: '{"client_id":"latchkey-cli"}',
    status: 415,
    error: 'invalid_request',
  },
  {
    name: 'device authz: no content type',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: null,
    body: 'client_id=latchkey-cli',
    status: 415,
    error: 'invalid_request',
  },
  {
    name: 'device authz: text/plain',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: 'text/plain',
    body: 'client_id=latchkey-cli',
    status: 415,
    error: 'invalid_request',
  },
  {
    name: 'device authz: multipart',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: 'multipart/form-data; boundary=x',
    body: '--x\r\nContent-Disposition: form-data; name="client_id"\r\n\r\nlatchkey-cli\r\n--x--',
    status: 415,
    error: 'invalid_request',
  },
  {
    name: 'device authz: unknown client',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: FORM,
    body: form({ client_id: 'evil-cli' }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'device authz: malformed client id',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: FORM,
    body: form({ client_id: '../../etc/passwd' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'device authz: duplicated client_id',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: FORM,
    body: 'client_id=latchkey-cli&client_id=latchkey-cli',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'device authz: unknown scope',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: FORM,
    body: form({ client_id: 'latchkey-cli', scope: 'read root' }),
    status: 400,
    error: 'invalid_scope',
  },
  {
    name: 'device authz: repeated scope',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: FORM,
    body: form({ client_id: 'latchkey-cli', scope: 'read read' }),
    status: 400,
    error: 'invalid_scope',
  },
  {
    name: 'device authz: unknown parameter',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: FORM,
    body: form({ client_id: 'latchkey-cli', redirect_uri: 'https://evil.example' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'device authz: 100 KB value',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: FORM,
    body: form({ client_id: big }),
    status: 413,
    error: 'invalid_request',
  },
  {
    name: 'device authz: bad UTF-8',
    method: 'POST',
    path: '/oauth/device_authorization',
    type: FORM,
    body: new Uint8Array([0x63, 0x3d, 0xff, 0xfe, 0xfd]),
    status: 400,
    error: 'invalid_request',
  },
  { name: 'device authz: GET', method: 'GET', path: '/oauth/device_authorization', status: 404, error: 'not_found' },

  // POST /oauth/token
  {
    name: 'token: no grant_type',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ client_id: 'latchkey-cli' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token: unknown grant',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: 'password', username: 'a', password: 'b', client_id: 'latchkey-cli' }),
    status: 400,
    error: 'unsupported_grant_type',
  },
  {
    name: 'token: client_credentials',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: 'client_credentials', client_id: 'latchkey-cli' }),
    status: 400,
    error: 'unsupported_grant_type',
  },
  {
    name: 'token: implicit-looking grant',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: 'implicit' }),
    status: 400,
    error: 'unsupported_grant_type',
  },
  {
    name: 'token: device grant without device_code',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: DEVICE_GRANT, client_id: 'latchkey-cli' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token: device grant without client_id',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: DEVICE_GRANT, device_code: 'lk_dc_x' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token: unknown device code',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: DEVICE_GRANT, device_code: 'lk_dc_nope', client_id: 'latchkey-cli' }),
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'token: device grant, unknown client',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: DEVICE_GRANT, device_code: 'lk_dc_nope', client_id: 'other' }),
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'token: duplicated grant_type',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: `grant_type=refresh_token&grant_type=refresh_token&refresh_token=x&client_id=latchkey-cli`,
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token: duplicated device_code',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: `grant_type=${encodeURIComponent(DEVICE_GRANT)}&device_code=a&device_code=b&client_id=latchkey-cli`,
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token: refresh without token',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: 'refresh_token', client_id: 'latchkey-cli' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token: unknown refresh token',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: 'refresh_token', refresh_token: 'lk_rt_nope', client_id: 'latchkey-cli' }),
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'token: refresh with a JWT',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: 'refresh_token', refresh_token: 'eyJ.eyJ.sig', client_id: 'latchkey-cli' }),
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'token: refresh with a bad scope',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: 'refresh_token', refresh_token: 'lk_rt_x', client_id: 'latchkey-cli', scope: 'everything' }),
    status: 400,
    error: 'invalid_scope',
  },
  {
    name: 'token: 100 KB refresh token',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: 'refresh_token', refresh_token: big, client_id: 'latchkey-cli' }),
    status: 413,
    error: 'invalid_request',
  },
  {
    name: 'token: 10 KB refresh token',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: 'refresh_token', refresh_token: 'a'.repeat(10_000), client_id: 'latchkey-cli' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token: JSON body',
    method: 'POST',
    path: '/oauth/token',
    type: 'application/json',
    body: '{"grant_type":"refresh_token"}',
    status: 415,
    error: 'invalid_request',
  },
  {
    name: 'token: broken JSON body',
    method: 'POST',
    path: '/oauth/token',
    type: 'application/json',
    body: '{"grant_type":',
    status: 415,
    error: 'invalid_request',
  },
  {
    name: 'token: extra unknown parameter',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({ grant_type: 'refresh_token', refresh_token: 'lk_rt_x', client_id: 'latchkey-cli', client_secret: 's' }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token: NUL bytes',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: 'grant_type=refresh_token&refresh_token=%00%00&client_id=latchkey-cli',
    status: 400,
    error: 'invalid_grant',
  },
  { name: 'token: GET', method: 'GET', path: '/oauth/token?grant_type=refresh_token', status: 404, error: 'not_found' },
  { name: 'token: PUT', method: 'PUT', path: '/oauth/token', type: FORM, body: 'grant_type=x', status: 404, error: 'not_found' },

  // POST /oauth/revoke
  {
    name: 'revoke: no token',
    method: 'POST',
    path: '/oauth/revoke',
    type: FORM,
    body: '',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'revoke: duplicated token',
    method: 'POST',
    path: '/oauth/revoke',
    type: FORM,
    body: 'token=a&token=b',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'revoke: JSON',
    method: 'POST',
    path: '/oauth/revoke',
    type: 'application/json',
    body: '{"token":"a"}',
    status: 415,
    error: 'invalid_request',
  },
  {
    name: 'revoke: 100 KB token',
    method: 'POST',
    path: '/oauth/revoke',
    type: FORM,
    body: form({ token: big }),
    status: 413,
    error: 'invalid_request',
  },
  {
    name: 'revoke: unknown parameter',
    method: 'POST',
    path: '/oauth/revoke',
    type: FORM,
    body: form({ token: 'a', callback: 'x' }),
    status: 400,
    error: 'invalid_request',
  },

  // POST /oauth/introspect
  {
    name: 'introspect: no bearer',
    method: 'POST',
    path: '/oauth/introspect',
    type: FORM,
    body: form({ token: 'a' }),
    status: 401,
    error: 'invalid_token',
  },
  {
    name: 'introspect: basic auth',
    method: 'POST',
    path: '/oauth/introspect',
    type: FORM,
    body: form({ token: 'a' }),
    headers: { authorization: 'Basic bGF0Y2hrZXk6eA==' },
    status: 401,
    error: 'invalid_token',
  },
  {
    name: 'introspect: garbage bearer',
    method: 'POST',
    path: '/oauth/introspect',
    type: FORM,
    body: form({ token: 'a' }),
    headers: { authorization: 'Bearer not-a-token' },
    status: 401,
    error: 'invalid_token',
  },
  {
    name: 'introspect: forged JWT bearer',
    method: 'POST',
    path: '/oauth/introspect',
    type: FORM,
    body: form({ token: 'a' }),
    headers: { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' },
    status: 401,
    error: 'invalid_token',
  },
  {
    name: 'introspect: valid bearer, no token param',
    method: 'POST',
    path: '/oauth/introspect',
    type: FORM,
    body: '',
    bearer: 'valid',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'introspect: valid bearer, JSON body',
    method: 'POST',
    path: '/oauth/introspect',
    type: 'application/json',
    body: '{"token":"x"}',
    bearer: 'valid',
    status: 415,
    error: 'invalid_request',
  },
  {
    name: 'introspect: valid bearer, duplicated token',
    method: 'POST',
    path: '/oauth/introspect',
    type: FORM,
    body: 'token=a&token=b',
    bearer: 'valid',
    status: 400,
    error: 'invalid_request',
  },

  // GET /v1/me
  { name: 'me: no credential', path: '/v1/me', status: 401, error: 'invalid_token' },
  { name: 'me: empty bearer', path: '/v1/me', headers: { authorization: 'Bearer ' }, status: 401, error: 'invalid_token' },
  { name: 'me: two-part bearer', path: '/v1/me', headers: { authorization: 'Bearer a.b' }, status: 401, error: 'invalid_token' },
  {
    name: 'me: alg none JWT',
    path: '/v1/me',
    headers: { authorization: 'Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ1c3JfMSJ9.' },
    status: 401,
    error: 'invalid_token',
  },
  {
    name: 'me: JWT with junk signature',
    path: '/v1/me',
    headers: { authorization: 'Bearer eyJhbGciOiJFZERTQSIsImtpZCI6Im5vIn0.eyJzdWIiOiJ1c3JfMSJ9.AAAA' },
    status: 401,
    error: 'invalid_token',
  },
  {
    name: 'me: refresh token as bearer',
    path: '/v1/me',
    headers: { authorization: 'Bearer lk_rt_abcdef' },
    status: 401,
    error: 'invalid_token',
  },
  {
    name: 'me: 8 KB bearer',
    path: '/v1/me',
    headers: { authorization: `Bearer ${'a'.repeat(8000)}` },
    status: 401,
    error: 'invalid_token',
  },
  { name: 'me: POST', method: 'POST', path: '/v1/me', type: FORM, body: '', status: 404, error: 'not_found' },

  // Discovery and unknown paths
  {
    name: 'discovery: POST',
    method: 'POST',
    path: '/.well-known/oauth-authorization-server',
    type: FORM,
    body: '',
    status: 404,
    error: 'not_found',
  },
  { name: 'jwks: DELETE', method: 'DELETE', path: '/.well-known/jwks.json', status: 404, error: 'not_found' },
  { name: 'unknown path', path: '/admin', status: 404, error: 'not_found' },
  { name: 'path traversal', path: '/..%2f..%2fetc/passwd', status: 404, error: 'not_found' },
  { name: 'authorize: unknown client', path: '/oauth/authorize?response_type=code&client_id=evil', status: 401, html: true },
  {
    name: 'authorize: non-loopback redirect',
    path: '/oauth/authorize?response_type=code&client_id=latchkey-cli&redirect_uri=https%3A%2F%2Fevil.example%2Fcallback',
    status: 400,
    html: true,
  },
  {
    name: 'authorize: localhost redirect',
    path: '/oauth/authorize?response_type=code&client_id=latchkey-cli&redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Fcallback',
    status: 400,
    html: true,
  },
  {
    name: 'authorize: other path',
    path: '/oauth/authorize?response_type=code&client_id=latchkey-cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Fevil',
    status: 400,
    html: true,
  },
  {
    name: 'authorize: duplicated client_id',
    path: '/oauth/authorize?client_id=latchkey-cli&client_id=latchkey-cli',
    status: 400,
    html: true,
  },
  { name: 'authorize: POST', method: 'POST', path: '/oauth/authorize', type: FORM, body: '', status: 404, error: 'not_found' },
  {
    name: 'token: code grant without verifier',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({
      grant_type: 'authorization_code',
      code: 'lk_ac_x',
      redirect_uri: 'http://127.0.0.1:1/callback',
      client_id: 'latchkey-cli',
    }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token: code grant, short verifier',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({
      grant_type: 'authorization_code',
      code: 'lk_ac_x',
      redirect_uri: 'http://127.0.0.1:1/callback',
      client_id: 'latchkey-cli',
      code_verifier: 'short',
    }),
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'token: unknown code',
    method: 'POST',
    path: '/oauth/token',
    type: FORM,
    body: form({
      grant_type: 'authorization_code',
      code: 'lk_ac_x',
      redirect_uri: 'http://127.0.0.1:1/callback',
      client_id: 'latchkey-cli',
      code_verifier: 'a'.repeat(43),
    }),
    status: 400,
    error: 'invalid_grant',
  },

  // Browser pages: 4xx HTML, never a stack trace
  {
    name: 'page: sign-in without CSRF',
    method: 'POST',
    path: '/signin',
    type: FORM,
    body: form({ email: 'a@example.com' }),
    status: 403,
    html: true,
  },
  {
    name: 'page: sign-in as JSON',
    method: 'POST',
    path: '/signin',
    type: 'application/json',
    body: '{}',
    status: 415,
    html: true,
  },
  {
    name: 'page: verify without session',
    method: 'POST',
    path: '/device/verify',
    type: FORM,
    body: form({ user_code: 'BCDF-GHJK' }),
    status: 403,
    html: true,
  },
  {
    name: 'page: decision without CSRF',
    method: 'POST',
    path: '/device/decision',
    type: FORM,
    body: form({ user_code: 'BCDF-GHJK', decision: 'approve' }),
    status: 403,
    html: true,
  },
  {
    name: 'page: decision with 100 KB',
    method: 'POST',
    path: '/device/decision',
    type: FORM,
    body: form({ user_code: big }),
    status: 413,
    html: true,
  },
  {
    name: 'page: duplicated fields',
    method: 'POST',
    path: '/signin',
    type: FORM,
    body: 'email=a&email=b',
    status: 400,
    html: true,
  },
  { name: 'page: duplicated user_code in query', path: '/device?user_code=a&user_code=b', status: 400, html: true },
];

let server: RunningWorker;
let validBearer: string;
before(async () => {
  server = await startWorker();
  validBearer = (await deviceLogin(server.url, 'bad-input@example.com')).access_token;
});
after(async () => {
  await server?.stop();
});

describe(`malformed requests (${rows.length} rows)`, () => {
  test('the table covers at least 50 requests', () => {
    assert.ok(rows.length >= 50);
  });

  for (const row of rows) {
    test(row.name, async () => {
      const headers: Record<string, string> = { ...row.headers };
      if (row.type) headers['content-type'] = row.type;
      if (row.bearer === 'valid') headers.authorization = `Bearer ${validBearer}`;
      const response = await fetch(`${server.url}${row.path}`, {
        method: row.method ?? 'GET',
        headers,
        ...(row.body !== undefined ? { body: row.body } : {}),
      });
      const text = await response.text();
      assert.ok(response.status < 500, `5xx: ${response.status} ${text.slice(0, 200)}`);
      assert.equal(response.status, row.status, text.slice(0, 300));
      assert.doesNotMatch(text, /\n\s+at .+\(.+:\d+:\d+\)|TypeError|ReferenceError|ZodError/);
      assert.match(response.headers.get('x-request-id') ?? '', REQUEST_ID, 'a refusal names its request too');
      if (row.html) {
        assert.match(response.headers.get('content-type') ?? '', /text\/html/);
        assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
        return;
      }
      assert.match(response.headers.get('content-type') ?? '', /application\/json/);
      const body = JSON.parse(text);
      assert.equal(typeof body.error, 'string');
      assert.equal(typeof body.error_description, 'string');
      assert.equal(body.error, row.error);
      assert.equal(response.headers.get('cache-control'), 'no-store');
    });
  }

  test('answers that succeed carry a request id as well, a different one each time', async () => {
    const seen = new Set<string>();
    for (const [path, bearer] of [
      ['/v1/me', validBearer],
      ['/v1/me', validBearer],
      ['/healthz', ''],
      ['/.well-known/jwks.json', ''],
      ['/device', ''],
    ] as const) {
      const response = await fetch(`${server.url}${path}`, bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {});
      await response.arrayBuffer();
      assert.equal(response.status, 200, path);
      const id = response.headers.get('x-request-id') ?? '';
      assert.match(id, REQUEST_ID, path);
      seen.add(id);
    }
    assert.equal(seen.size, 5);
  });

  test('GET /v1/me is answered before the router, yet routes like any path: query, HEAD, trailing slash, scheme case', async () => {
    const me = (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${validBearer}`, ...init.headers } });
    const withQuery = await me('/v1/me?verbose=1');
    assert.equal(withQuery.status, 200);
    assert.match(String(((await withQuery.json()) as { sub: string }).sub), /^usr_/);
    assert.equal(withQuery.headers.get('cache-control'), 'no-store');
    assert.match(withQuery.headers.get('content-type') ?? '', /^application\/json/);
    const lowerCase = await me('/v1/me', { headers: { authorization: `bearer ${validBearer}` } });
    assert.equal(lowerCase.status, 200, 'RFC 6750: the scheme is case-insensitive');
    await lowerCase.arrayBuffer();
    const head = await me('/v1/me', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    assert.match(head.headers.get('x-request-id') ?? '', REQUEST_ID);
    const slash = await me('/v1/me/');
    assert.equal(slash.status, 404);
    assert.equal(((await slash.json()) as { error: string }).error, 'not_found');
    const refused = await me('/v1/me', { headers: { authorization: 'Bearer lk_live_000000000000000000000000000000000000' } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('www-authenticate'), 'Bearer realm="latchkey", error="invalid_token"');
    assert.match(refused.headers.get('x-request-id') ?? '', REQUEST_ID);
    await refused.arrayBuffer();
  });

  test('a signed-in browser posting a forged decision gets a 4xx page', async () => {
    const browser = new FormBrowser(server.url);
    await browser.signIn('forger@example.com');
    const page = await browser.request('/device/decision', { csrf: 'forged', user_code: 'BCDF-GHJK', decision: 'approve' });
    assert.equal(page.status, 403);
  });
});

/**
 * One request written byte for byte on a fresh connection (fetch would refuse to send
 * these); the answer's status line, headers and body, or what happened instead.
 */
async function raw(request: string, waitMs = 12_000) {
  const { connect } = await import('node:net');
  const { port } = new URL(reached.url);
  const started = performance.now();
  const text = await new Promise<string>((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    const done = () => {
      socket.destroy();
      resolve(received);
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(received.slice(0, end))?.[1];
      if (end !== -1 && length !== undefined && received.length >= end + 4 + Number(length)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    setTimeout(done, waitMs);
    socket.write(request);
  });
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  const header = (name: string) => new RegExp(`\r\n${name}: *([^\r\n]*)`, 'i').exec(head)?.[1];
  return { status, header, body, ms: performance.now() - started };
}

/**
 * On workerd, a raw `workerd serve` of the production bundle: wrangler dev's proxy answers
 * malformed requests itself (a 500 of its own) before the Worker sees them. Elsewhere, the
 * target's own server.
 */
let reached: { url: string; stop?: () => Promise<void> };

describe('malformed HTTP that reaches the server: the app answers, never the runtime', () => {
  const host = () => `Host: ${new URL(reached.url).host}`;
  before(async () => {
    reached = testTarget().startsWith('workerd') ? await startWorkerdServe() : server;
  });
  after(async () => {
    await reached?.stop?.();
  });

  test('a Host no URL parser reads: 400 from the app on the credential check and every route (or the runtime refuses it first), never a 5xx', async () => {
    for (const path of ['/v1/me', '/healthz', '/oauth/token', '/v1/orgs']) {
      const answer = await raw(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:abc\r\nConnection: close\r\n\r\n`);
      assert.ok(answer.status >= 400 && answer.status < 500, `${path}: ${answer.status} ${answer.body.slice(0, 200)}`);
      // Node's HTTP parser refuses some before any fetch handler: a bare 400 with no JSON. What
      // the app (or an entry's dev guard) answers is JSON with a request id.
      if (!/json/.test(answer.header('content-type') ?? '')) continue;
      assert.match(answer.header('x-request-id') ?? '', REQUEST_ID, path);
      assert.equal(typeof JSON.parse(answer.body).error, 'string', path);
    }
  });

  test('OPTIONS *, two Host headers and an absolute-form target are answered with a 4xx or a plain 2xx, never a 5xx', async () => {
    for (const request of [
      `OPTIONS * HTTP/1.1\r\n${host()}\r\nConnection: close\r\n\r\n`,
      `GET /v1/me HTTP/1.1\r\n${host()}\r\n${host()}\r\nConnection: close\r\n\r\n`,
      `GET ${server.url}/healthz HTTP/1.1\r\n${host()}\r\nConnection: close\r\n\r\n`,
    ]) {
      const answer = await raw(request);
      assert.ok(
        answer.status >= 200 && answer.status < 500,
        `${request.split('\r\n')[0]}: ${answer.status} ${answer.body.slice(0, 200)}`,
      );
    }
  });

  test('a body shorter than its Content-Length is refused within the bound (408), not waited on', async () => {
    const short = (path: string, type: string, body: string) =>
      raw(`POST ${path} HTTP/1.1\r\n${host()}\r\nContent-Type: ${type}\r\nContent-Length: 200\r\n\r\n${body}`);
    const answers = await Promise.all([
      short('/oauth/token', 'application/x-www-form-urlencoded', 'grant_type=refresh_token'),
      short('/oauth/device_authorization', 'application/x-www-form-urlencoded', 'client_id=latch'),
    ]);
    for (const answer of answers) {
      assert.equal(answer.status, 408, answer.body.slice(0, 200));
      assert.ok(answer.ms < 9000, `answered after ${Math.round(answer.ms)} ms`);
      assert.equal(JSON.parse(answer.body).error, 'invalid_request');
      assert.match(answer.header('x-request-id') ?? '', REQUEST_ID);
    }
  });
});
