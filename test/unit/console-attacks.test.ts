/**
 * The console attacked, in process with the clock in the test's hand: what one person can
 * make another's pages show (text they control, the notice a link names), where the sign-in
 * form may send a browser afterwards, a cookie planted before sign-in, ids of one org's
 * things posted under another org's path, and a sensitive grant reached by another route
 * (inviting someone as admin or owner instead of changing a member's role).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RECENT_SIGN_IN_SECONDS } from '../../worker/accounts/web-sessions.ts';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { type ConsolePerson, consolePerson } from '../fixtures/console-http.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { freePort } from '../fixtures/free-port.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin, FormBrowser, pollToken, startDeviceLogin } from '../fixtures/oauth-client.ts';

let app: InProcess;
let base: string;
let owner: ConsolePerson;
let ownerToken: string;
const MARKUP = '<img src=x onerror=alert(1)>';

before(async () => {
  app = await startInProcess({ LATCHKEY_OPERATORS: 'owner@acme.example' }, Date.UTC(2026, 6, 1, 9));
  base = app.base;
  owner = await consolePerson(base, 'owner@acme.example');
  ownerToken = (await deviceLogin(base, 'owner@acme.example')).access_token;
  await ok(apiCall(base, 'POST', '/v1/orgs', ownerToken, { slug: 'acme', name: MARKUP }));
  await ok(apiCall(base, 'POST', '/v1/orgs/acme/projects', ownerToken, { slug: 'web' }));
});
after(() => app?.close());

/** Whose invitations org `org` has pending, as its members page lists them (the owner's console sign-in outlives the test). */
async function invitedEmails(org: string): Promise<string[]> {
  const page = await owner.get(`/console/orgs/${org}/members`);
  assert.equal(page.status, 200);
  return [...page.html.matchAll(/aria-label="Withdraw the invitation of ([^"]+)"/g)].map((match) => match[1] ?? '');
}

describe('what a page shows', () => {
  test('text another person controls (org name, key name, user agent, audit rows) is shown escaped', async () => {
    // A browser whose user agent is markup signs in; its row is on the You page.
    const browser = new FormBrowser(base);
    const form = await browser.request('/console', undefined, { 'user-agent': MARKUP });
    const signedIn = await browser.request(
      '/signin',
      { csrf: FormBrowser.field(form.html, 'csrf'), return_to: '/console', email: 'owner@acme.example' },
      { 'user-agent': MARKUP },
    );
    assert.equal(signedIn.status, 303);
    await ok(apiCall(base, 'POST', '/v1/orgs/acme/keys', ownerToken, { name: MARKUP, role: 'member', project: 'web' }));
    for (const path of [
      '/console',
      '/console/orgs/acme',
      '/console/orgs/acme/members',
      '/console/orgs/acme/keys',
      '/console/orgs/acme/audit',
      '/console/operator',
      '/console/operator?email=owner%40acme.example',
    ]) {
      const page = await owner.get(path);
      assert.equal(page.status, 200, path);
      assert.doesNotMatch(page.html, /<img/, `${path} shows markup as markup`);
      assert.match(page.html, /&lt;img src=x onerror=alert\(1\)&gt;/, `${path} shows the text, escaped`);
    }
  });

  test('a notice names only an entry of the table, never what every object inherits', async () => {
    for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const page = await owner.get(`/console?notice=${key}`);
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.html, /class="notice"/, `notice=${key} shows no notice`);
    }
    assert.match((await owner.get('/console?notice=org-created')).html, /class="notice" role="status">Org created/);
  });
});

describe('where signing in returns to', () => {
  test('only a path of ours: never another host, whatever the encoding', async () => {
    const browser = new FormBrowser(base);
    const csrf = FormBrowser.field((await browser.request('/console')).html, 'csrf');
    for (const returnTo of [
      'https://evil.example/console',
      '//evil.example/console',
      '/console@evil.example',
      '/console\\evil.example',
      '/\\evil.example/console',
      '/console\r\nLocation: https://evil.example',
      '/console%0d%0aLocation:%20https://evil.example',
      '/console#@evil.example',
      ' /console',
      '/consolex',
    ]) {
      const answer = await browser.request('/signin', { csrf, return_to: returnTo, email: 'x@acme.example' });
      assert.equal(answer.status, 303, JSON.stringify(returnTo));
      assert.equal(answer.headers.get('location'), '/device', JSON.stringify(returnTo));
    }
    // Kept as given, a path under /console stays a path on this host, however it is written.
    for (const returnTo of ['/console//evil.example', '/console/../..//evil.example', '/console/%2f%2fevil.example']) {
      const answer = await browser.request('/signin', { csrf, return_to: returnTo, email: 'x@acme.example' });
      const location = answer.headers.get('location') ?? '';
      assert.equal(new URL(location, base).origin, base, JSON.stringify(returnTo));
    }
  });
});

describe('a cookie planted before sign-in', () => {
  test('a planted lk_session signs no one in, and signing in replaces it', async () => {
    const browser = new FormBrowser(base);
    const planted = `lk_ws_${'A'.repeat(43)}`;
    const page = await browser.request('/console', undefined, { cookie: `lk_session=${planted}` });
    assert.match(page.html, /name="return_to"/, 'the sign-in form, not a page');
    const real = await browser.submitSignIn(page.html, 'victim@acme.example');
    const cookie = real.headers.getSetCookie().find((line) => line.startsWith('lk_session='));
    assert.ok(cookie && !cookie.includes(planted), 'a new session secret, not the planted one');
    const replayed = await new FormBrowser(base).request('/console', undefined, { cookie: `lk_session=${planted}` });
    assert.match(replayed.html, /name="return_to"/, 'the planted value is still nobody');
  });
});

describe('one org’s ids under another org’s path', () => {
  test('a key, an invitation and a member of acme, posted under the admin’s own org, are not found and stay', async () => {
    const eve = await consolePerson(base, 'eve@evil.example');
    assert.equal((await eve.post('/console/orgs', { slug: 'evil' })).status, 303);
    const key = await ok(
      apiCall(base, 'POST', '/v1/orgs/acme/keys', ownerToken, { name: 'kept', role: 'member', project: 'web' }),
    );
    const invitation = await ok(apiCall(base, 'POST', '/v1/orgs/acme/invitations', ownerToken, { email: 'kept@acme.example' }));
    for (const path of [
      `/console/orgs/evil/keys/${key.id}/revoke`,
      `/console/orgs/evil/keys/${key.id}/rotate`,
      `/console/orgs/evil/invitations/${invitation.id}/withdraw`,
      `/console/orgs/evil/invitations/${invitation.id}/resend`,
      '/console/orgs/evil/members/owner%40acme.example/remove',
    ]) {
      assert.equal((await eve.post(path, { role: 'member' })).status, 404, path);
    }
    const keys = (await ok(apiCall(base, 'GET', '/v1/orgs/acme/keys', ownerToken))).keys as {
      id: string;
      revoked_at?: unknown;
    }[];
    assert.ok(
      keys.some((one) => one.id === key.id && !one.revoked_at),
      'the key is untouched',
    );
    assert.ok((await invitedEmails('acme')).includes('kept@acme.example'), 'the invitation is still there');
  });
});

describe('inviting someone as admin or owner hands out that role: it wants a recent sign-in as a role change does', () => {
  test('after ten minutes the confirm page and no invitation; a member invitation still goes; signed in again, it goes', async () => {
    const ann = await consolePerson(base, 'owner@acme.example');
    app.step(RECENT_SIGN_IN_SECONDS * 1000 + 1);
    for (const role of ['admin', 'owner']) {
      const stale = await ann.post('/console/orgs/acme/invitations', { email: `${role}-to-be@acme.example`, role });
      assert.equal(stale.status, 200, stale.html.slice(0, 300));
      assert.match(stale.html, /<h1>Confirm it’s you<\/h1>/);
      assert.match(stale.html, /name="return_to" value="\/console\/orgs\/acme\/members"/);
      assert.ok(!(await invitedEmails('acme')).includes(`${role}-to-be@acme.example`), `no ${role} invitation`);
    }
    const member = await ann.post('/console/orgs/acme/invitations', { email: 'member-to-be@acme.example', role: 'member' });
    assert.equal(member.status, 303, 'a member invitation grants nothing sensitive');
    // Someone outside the org still finds no org, not a sign-in page.
    const outsider = await consolePerson(base, 'out@else.example');
    app.step(RECENT_SIGN_IN_SECONDS * 1000 + 1);
    assert.equal((await outsider.post('/console/orgs/acme/invitations', { email: 'x@else.example', role: 'owner' })).status, 404);
    // Signed in again, the same invitation goes through.
    const again = await ann.post('/console/orgs/acme/invitations', { email: 'admin-to-be@acme.example', role: 'admin' });
    await ann.browser.submitSignIn(again.html, 'owner@acme.example');
    const redone = await ann.post('/console/orgs/acme/invitations', { email: 'admin-to-be@acme.example', role: 'admin' });
    assert.equal(redone.status, 303);
    assert.ok((await invitedEmails('acme')).includes('admin-to-be@acme.example'));
  });
});

describe('with an upstream OpenID provider, a sign-in is as recent as the provider says it is', () => {
  let oidcApp: InProcess;
  let upstream: Awaited<ReturnType<typeof startFakeOidc>>;
  before(async () => {
    upstream = await startFakeOidc(await freePort(), 'latchkey');
    // The fake signs with the real clock, so the app's starts there.
    oidcApp = await startInProcess(
      { LATCHKEY_IDENTITY: 'oidc', LATCHKEY_OIDC_ISSUER: upstream.issuer, LATCHKEY_OIDC_CLIENT_ID: 'latchkey' },
      Date.now(),
    );
  });
  after(async () => {
    oidcApp?.close();
    await upstream?.stop();
  });

  /** Signs `browser` in through the upstream from the sign-in form of `at`, as the form is (no `reauthenticate`). */
  async function signInThroughUpstream(browser: FormBrowser, at: string) {
    const page = await browser.request(at);
    const posted = await browser.request('/signin', {
      csrf: FormBrowser.field(page.html, 'csrf'),
      return_to: FReturn(page.html),
    });
    const callback = (await browser.request(posted.headers.get('location') ?? '')).headers.get('location') ?? '';
    const signedIn = await browser.request(callback);
    assert.equal(signedIn.status, 303, signedIn.html.slice(0, 400));
  }
  const FReturn = (html: string) => FormBrowser.field(html, 'return_to').replace(/&amp;/g, '&');

  test('a stale browser that signs in again without being asked (the provider answers from its own session) is still not recent', async () => {
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    upstream.setClaims({ idToken: { email: 'sso@acme.example', email_verified: true, auth_time: hourAgo } });
    const browser = new FormBrowser(oidcApp.base);
    await signInThroughUpstream(browser, '/console');
    let csrf = FormBrowser.field((await browser.request('/console')).html, 'csrf');
    assert.equal((await browser.request('/console/orgs', { csrf, slug: 'sso-co' })).status, 303);
    await browser.request('/console/orgs/sso-co/projects', { csrf, slug: 'web' });
    // An owner key wants a sign-in within ten minutes: the provider says this one was an hour ago.
    const asked = await browser.request('/console/orgs/sso-co/keys', { csrf, name: 'k', role: 'owner', project: 'web' });
    assert.equal(asked.status, 200);
    assert.match(asked.html, /<h1>Confirm it’s you<\/h1>/);
    // Signing out and in again through the ordinary form (not the confirmation's): the provider answers the same.
    assert.equal((await browser.request('/console/signout', { csrf })).status, 303);
    await signInThroughUpstream(browser, '/console');
    csrf = FormBrowser.field((await browser.request('/console')).html, 'csrf');
    const again = await browser.request('/console/orgs/sso-co/keys', { csrf, name: 'k', role: 'owner', project: 'web' });
    assert.match(again.html, /<h1>Confirm it’s you<\/h1>/, 'no key made on an hour-old sign-in');
    // The confirmation (prompt=login, max_age=0) with a fresh auth_time is recent: the key is made.
    upstream.setClaims({
      idToken: { email: 'sso@acme.example', email_verified: true, auth_time: Math.floor(Date.now() / 1000) },
    });
    const confirm = await browser.request('/signin', {
      csrf,
      return_to: FReturn(again.html),
      reauthenticate: FormBrowser.field(again.html, 'reauthenticate'),
    });
    const callback = (await browser.request(confirm.headers.get('location') ?? '')).headers.get('location') ?? '';
    assert.equal((await browser.request(callback)).status, 303);
    const made = await browser.request('/console/orgs/sso-co/keys', { csrf, name: 'k', role: 'owner', project: 'web' });
    assert.equal(made.status, 201, made.html.slice(0, 400));
  });
});

describe('the recent-sign-in gate by another door: approving a sign-in whose token acts as the person on the JSON API', () => {
  const REDIRECT = 'http://127.0.0.1:53682/callback';
  const authorizePath = () =>
    `/oauth/authorize?${new URLSearchParams({
      response_type: 'code',
      client_id: 'latchkey-cli',
      redirect_uri: REDIRECT,
      code_challenge_method: 'S256',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      state: 'st',
    })}`;

  test('a stale browser sign-in approving a device login is asked to confirm it is you first; signed in again, it approves', async () => {
    const ann = await consolePerson(base, 'owner@acme.example');
    app.step(RECENT_SIGN_IN_SECONDS * 1000 + 1);
    const started = await startDeviceLogin(base);
    const code = String(started.user_code);
    const consent = await ann.get(`/device?user_code=${encodeURIComponent(code)}`);
    const decide = () =>
      ann.browser.request('/device/decision', {
        csrf: FormBrowser.field(consent.html, 'csrf'),
        user_code: code,
        decision: 'approve',
      });
    const asked = await decide();
    assert.match(asked.html, /<h1>Confirm it’s you<\/h1>/, 'no device approved on a stale sign-in');
    assert.equal((await pollToken(base, started.device_code)).json.error, 'authorization_pending');
    await ann.browser.submitSignIn(asked.html, 'owner@acme.example');
    assert.match((await decide()).html, /<h1>Device approved<\/h1>/);
    assert.equal((await pollToken(base, started.device_code)).status, 200);
  });

  test('a stale browser sign-in opening a browser login is asked to confirm it is you, and cannot approve one left open', async () => {
    const ann = await consolePerson(base, 'owner@acme.example');
    const open = await ann.get(authorizePath());
    assert.match(open.html, /name="request"/, 'a recent sign-in sees the consent');
    app.step(RECENT_SIGN_IN_SECONDS * 1000 + 1);
    const late = await ann.browser.request('/oauth/authorize/decision', {
      csrf: FormBrowser.field(open.html, 'csrf'),
      request: FormBrowser.field(open.html, 'request'),
      decision: 'approve',
    });
    assert.equal(late.status, 403, 'the consent left open is not approved from');
    const asked = await ann.get(authorizePath());
    assert.match(asked.html, /<h1>Confirm it’s you<\/h1>/);
    await ann.browser.submitSignIn(asked.html, 'owner@acme.example');
    assert.match((await ann.get(authorizePath())).html, /name="request"/, 'signed in again, the consent');
  });
});
