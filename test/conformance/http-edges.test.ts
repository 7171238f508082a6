/**
 * The edges of HTTP that a table of refusals does not reach: request ids on answers that
 * succeed, `GET /v1/me` (answered before the router) routing like any path, and malformed
 * HTTP written byte for byte on a socket, which fetch would refuse to send. The refusals
 * themselves are the one table in bad-input.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { REQUEST_ID } from '../fixtures/bad-input.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let server: RunningWorker;
let validBearer: string;
before(async () => {
  server = await startWorker();
  validBearer = (await deviceLogin(server.url, 'http-edges@example.com')).access_token;
});
after(async () => {
  await server?.stop();
});

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

/**
 * One request written byte for byte on a fresh connection (fetch would refuse to send
 * these); the answer's status line, headers and body, or what happened instead.
 */
async function raw(request: string, waitMs = 12_000) {
  const { connect } = await import('node:net');
  const { port } = new URL(server.url);
  const started = performance.now();
  const text = await new Promise<string>((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    // Cleared once answered: a pending 12 s timer would hold the test process open after its last test.
    const timer = setTimeout(() => done(), waitMs);
    const done = () => {
      clearTimeout(timer);
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
    socket.write(request);
  });
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  const header = (name: string) => new RegExp(`\r\n${name}: *([^\r\n]*)`, 'i').exec(head)?.[1];
  return { status, header, body, ms: performance.now() - started };
}

describe('malformed HTTP that reaches the server: the app answers, never the runtime', () => {
  const host = () => `Host: ${new URL(server.url).host}`;

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
