/**
 * Organization selection at consent (issue #23), on every runtime × store: a person in
 * several orgs, approving a device or a browser login that named no org, picks which org
 * the session is for (or all of them, the default, as before); a session picked for one org
 * acts there only and is in that org's session list. `login --org` (the device asking for
 * an org) fixes it: the page shows it and offers no choice, and a forged pick of another org,
 * or of an org the person is not in, approves nothing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { apiJsonCall } from '../fixtures/api-call.ts';
import { CLIENT_ID, deviceLogin, FormBrowser, pollToken, postForm } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let owner: string;
const EMAIL = 'picker@org-choice.example';
const [ALPHA, BETA] = [`alpha-${Date.now() % 100000}`, `beta-${Date.now() % 100000}`];

before(async () => {
  worker = await startWorker();
  owner = (await deviceLogin(worker.url, EMAIL)).access_token;
  for (const slug of [ALPHA, BETA])
    assert.equal((await apiJsonCall(worker.url, 'POST', '/v1/orgs', owner, { slug })).status, 201);
});
after(() => worker?.stop());

/** Starts a device login (for `org` when named) and opens its consent page signed in as the person. */
async function consent(org?: string) {
  const started = await postForm(`${worker.url}/oauth/device_authorization`, { client_id: CLIENT_ID, ...(org ? { org } : {}) });
  const browser = new FormBrowser(worker.url);
  const userCode = String(started.json.user_code);
  await browser.signIn(EMAIL, userCode);
  const page = await browser.request(`/device?user_code=${userCode}`);
  assert.equal(page.status, 200);
  const decide = (fields: Record<string, string>) =>
    browser.request('/device/decision', {
      csrf: FormBrowser.field(page.html, 'csrf'),
      user_code: userCode,
      decision: 'approve',
      ...fields,
    });
  return { page, decide, poll: () => pollToken(worker.url, String(started.json.device_code)) };
}

test('a person in two orgs picks one: the session acts there only and is in its list', async () => {
  const { page, decide, poll } = await consent();
  assert.match(page.html, /Which org is this sign-in for\?/);
  assert.match(page.html, new RegExp(`name="org" value="${ALPHA}"`));
  assert.match(page.html, new RegExp(`name="org" value="${BETA}"`));
  assert.match(page.html, /name="org" value="" checked/, 'all orgs by default');
  assert.ok((await decide({ org: BETA })).status < 400);
  const tokens = await poll();
  const token = String(tokens.json.access_token);
  assert.equal(decodeJwt(token).org, BETA);
  const listed = await apiJsonCall(worker.url, 'GET', `/v1/orgs/${BETA}/sessions`, owner);
  assert.ok((listed.json.sessions as { id: string }[]).some((session) => session.id === decodeJwt(token).sid));
  // It is nobody in the other org.
  assert.equal((await apiJsonCall(worker.url, 'GET', `/v1/orgs/${ALPHA}`, token)).status, 404);
});

test('no pick: all the person’s orgs, as before', async () => {
  const { decide, poll } = await consent();
  assert.ok((await decide({})).status < 400);
  assert.equal(decodeJwt(String((await poll()).json.access_token)).org, null);
});

test('login --org: the page shows the org and offers no choice; a forged pick of another approves nothing', async () => {
  const fixed = await consent(ALPHA);
  assert.match(fixed.page.html, new RegExp(`For org</dt><dd id="org">${ALPHA}`));
  assert.doesNotMatch(fixed.page.html, /Which org is this sign-in for/);
  const forged = await fixed.decide({ org: BETA });
  assert.equal(forged.status, 400);
  assert.equal((await fixed.poll()).json.error, 'authorization_pending');
  assert.ok((await fixed.decide({})).status < 400);
  assert.equal(decodeJwt(String((await fixed.poll()).json.access_token)).org, ALPHA);
});

test('a forged pick of an org the person is not in approves nothing', async () => {
  const stranger = await deviceLogin(worker.url, 'stranger@org-choice.example');
  const theirs = `theirs-${Date.now() % 100000}`;
  assert.equal((await apiJsonCall(worker.url, 'POST', '/v1/orgs', stranger.access_token, { slug: theirs })).status, 201);
  const { page, decide, poll } = await consent();
  assert.doesNotMatch(page.html, new RegExp(`value="${theirs}"`));
  const refused = await decide({ org: theirs });
  assert.equal(refused.status, 403);
  assert.match(refused.html, /not a member/);
  assert.equal((await poll()).json.error, 'authorization_pending');
  assert.equal((await decide({ org: 'Not A Slug!' })).status, 400);
});

test('a browser login picks an org the same way', async () => {
  const verifier = randomBytes(32).toString('base64url');
  const redirect = 'http://127.0.0.1:53682/callback';
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirect,
    code_challenge_method: 'S256',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
  });
  const browser = new FormBrowser(worker.url);
  const signInPage = await browser.request(`/oauth/authorize?${query}`);
  const signedIn = await browser.submitSignIn(signInPage.html, EMAIL);
  const page = await browser.request(signedIn.headers.get('location') ?? '');
  assert.match(page.html, new RegExp(`name="org" value="${ALPHA}"`));
  const answered = await browser.request('/oauth/authorize/decision', {
    csrf: FormBrowser.field(page.html, 'csrf'),
    request: FormBrowser.field(page.html, 'request'),
    decision: 'approve',
    org: ALPHA,
  });
  const code = new URL(answered.headers.get('location') ?? '').searchParams.get('code') ?? '';
  const redeemed = await postForm(`${worker.url}/oauth/token`, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirect,
    client_id: CLIENT_ID,
    code_verifier: verifier,
  });
  assert.equal(redeemed.status, 200, JSON.stringify(redeemed.json));
  assert.equal(decodeJwt(String(redeemed.json.access_token)).org, ALPHA);
});
