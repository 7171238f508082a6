/**
 * Sign-in through a GitHub OAuth app. GitHub itself is out of reach here, so a loopback
 * stand-in (test/fixtures/fake-github.ts) plays github.com and api.github.com.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { startFakeGithub } from '../fixtures/fake-github.ts';
import { FormBrowser, pollToken, startDeviceLogin } from '../fixtures/oauth-client.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const APP = { clientId: 'Iv1.latchkeytest', clientSecret: 'github-app-secret' };
let worker: RunningWorker;
let github: Awaited<ReturnType<typeof startFakeGithub>>;

before(async () => {
  github = await startFakeGithub(await freePort(), APP);
  worker = await startWorker({
    LATCHKEY_IDENTITY: 'github',
    LATCHKEY_GITHUB_CLIENT_ID: APP.clientId,
    LATCHKEY_GITHUB_CLIENT_SECRET: APP.clientSecret,
    LATCHKEY_GITHUB_URL: github.url,
    LATCHKEY_GITHUB_API_URL: github.url,
  });
});
after(async () => {
  await worker?.stop();
  await github?.stop();
});

async function signIn(browser: FormBrowser) {
  const page = await browser.request('/device');
  assert.match(page.html, new RegExp(`Sign in with your organisation’s account at <strong>127\\.0\\.0\\.1`));
  const posted = await browser.request('/signin', { csrf: FormBrowser.field(page.html, 'csrf'), return_to: '/device' });
  const authorize = new URL(posted.headers.get('location') ?? '');
  assert.equal(authorize.pathname, '/login/oauth/authorize');
  assert.equal(authorize.searchParams.get('client_id'), APP.clientId);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  const answered = await browser.request(authorize.href);
  return browser.request(answered.headers.get('location') ?? '');
}

describe('GitHub sign-in', () => {
  test('the verified primary email signs in, and the session approves a device', async () => {
    github.setEmails([
      { email: 'octo@old.example', primary: false, verified: true, visibility: null },
      { email: 'Octocat@Example.com', primary: true, verified: true, visibility: 'public' },
    ]);
    const browser = new FormBrowser(worker.url);
    const done = await signIn(browser);
    assert.equal(done.status, 303, done.html);
    // The signed-in browser now approves a device; the token names the GitHub email.
    const started = await startDeviceLogin(worker.url);
    const consent = await browser.request(`/device?user_code=${started.user_code}`);
    assert.match(consent.html, /octocat@example\.com/);
    await browser.request('/device/decision', {
      csrf: FormBrowser.field(consent.html, 'csrf'),
      user_code: started.user_code,
      decision: 'approve',
    });
    const tokens = await pollToken(worker.url, started.device_code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
    assert.equal(decodeJwt(String(tokens.json.access_token)).email, 'octocat@example.com');
  });

  test('an unverified primary email is refused, saying why', async () => {
    github.setEmails([{ email: 'octocat@example.com', primary: true, verified: false, visibility: null }]);
    const refused = await signIn(new FormBrowser(worker.url));
    assert.equal(refused.status, 400);
    assert.match(refused.html, /the GitHub account octocat has no verified primary email/);
  });
});
