/**
 * Sign-in through a GitHub Enterprise Server named only by LATCHKEY_GITHUB_URL: its REST
 * API is at https://HOST/api/v3, and the access token it issues must be sent there, never
 * to api.github.com (which would hand an Enterprise user's token to github.com and fail).
 * The stand-in is the GitHub fixture behind a front that serves it the way GHES lays out
 * its paths: OAuth under /login/oauth, the API only under /api/v3.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startFakeGithub } from '../fixtures/fake-github.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const APP = { clientId: 'Iv1.enterprise', clientSecret: 'ghes-app-secret' };
let worker: RunningWorker;
let github: Awaited<ReturnType<typeof startFakeGithub>>;
let ghes: { url: string; seen: { path: string; token: boolean }[]; stop: () => Promise<void> };

/** GHES's layout in front of the fixture: /login/oauth/* as is, /api/v3/* to the API, nothing else. */
async function startEnterpriseFront(port: number, upstream: string) {
  const seen: { path: string; token: boolean }[] = [];
  const server: Server = createServer(async (request, response) => {
    const path = request.url ?? '/';
    seen.push({ path, token: request.headers.authorization !== undefined });
    const api = /^\/api\/v3(\/.*)$/.exec(path)?.[1];
    if (!api && !path.startsWith('/login/oauth/')) return response.writeHead(404).end();
    let body = '';
    for await (const chunk of request) body += chunk;
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(([name]) => ['authorization', 'content-type', 'accept'].includes(name)),
    ) as Record<string, string>;
    const answer = await fetch(`${upstream}${api ?? path}`, {
      method: request.method,
      headers,
      redirect: 'manual',
      ...(body ? { body } : {}),
    });
    const location = answer.headers.get('location');
    response.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
      ...(location ? { location } : {}),
    });
    response.end(await answer.text());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

before(async () => {
  github = await startFakeGithub(await freePort(), APP);
  ghes = await startEnterpriseFront(await freePort(), github.url);
  github.setEmails([{ email: 'mona@acme.example', primary: true, verified: true, visibility: null }]);
  worker = await startWorker({
    LATCHKEY_IDENTITY: 'github',
    LATCHKEY_GITHUB_CLIENT_ID: APP.clientId,
    LATCHKEY_GITHUB_CLIENT_SECRET: APP.clientSecret,
    LATCHKEY_GITHUB_URL: ghes.url, // and no LATCHKEY_GITHUB_API_URL
  });
});
after(async () => {
  await worker?.stop();
  await ghes?.stop();
  await github?.stop();
});

describe('GitHub Enterprise Server named by LATCHKEY_GITHUB_URL alone', () => {
  test('signs in through HOST/api/v3, and the token goes nowhere else', async () => {
    const browser = new FormBrowser(worker.url);
    const page = await browser.request('/device');
    const posted = await browser.request('/signin', { csrf: FormBrowser.field(page.html, 'csrf'), return_to: '/device' });
    const authorize = new URL(posted.headers.get('location') ?? '');
    assert.equal(authorize.origin, ghes.url);
    const answered = await browser.request(authorize.href);
    const done = await browser.request(answered.headers.get('location') ?? '');
    assert.equal(done.status, 303, done.html);
    assert.match(done.headers.get('set-cookie') ?? '', /lk_session/);
    assert.match((await browser.request('/device')).html, /mona@acme\.example/);

    const apiCalls = ghes.seen.filter((call) => call.token).map((call) => call.path);
    assert.deepEqual(apiCalls.sort(), ['/api/v3/user', '/api/v3/user/emails']);
  });
});
