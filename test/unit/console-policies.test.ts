/**
 * The console's CI trust policies against whoever else might post to them, in process with
 * the clock in the test's hand: a member may look and dry-run but every create or delete
 * is refused (403) and changes nothing; another org's admin finds no org (404); a post
 * without this browser's CSRF token is refused (403); a delete after an old sign-in asks
 * the person to sign in again and deletes nothing; malformed JSON and an unknown preset
 * answer a 4xx page that says why, never a 500; a refused form keeps what was typed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiCall } from '../fixtures/api-call.ts';
import { GITHUB } from '../fixtures/ci-claims.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { addMember, deviceLogin, FormBrowser } from '../fixtures/oauth-client.ts';

let app: InProcess;
let base: string;
let github: FakeCiIssuer;
let ownerToken: string;

const POLICIES = '/console/orgs/acme/policies';

/** A browser signed in to the console as `email` (cookies kept). */
async function consoleBrowser(email: string): Promise<FormBrowser> {
  const browser = new FormBrowser(base);
  const page = await browser.request('/console');
  const signedIn = await browser.submitSignIn(page.html, email);
  assert.equal(signedIn.status, 303, signedIn.html.slice(0, 300));
  return browser;
}
const csrfOn = async (browser: FormBrowser, path = '/console') => FormBrowser.field((await browser.request(path)).html, 'csrf');

const githubForm = (fields: Record<string, string> = {}) => ({
  preset: 'github',
  id: 'octo-main',
  issuer: github.issuer,
  repository: 'octo-org/octo-repo',
  repository_owner_id: '65',
  repository_id: '74',
  ref: 'refs/heads/main',
  project: 'web',
  scope: 'read write',
  ...fields,
});

/** The org's policy ids as the JSON API lists them. */
async function policyIds(): Promise<string[]> {
  ownerToken = (await deviceLogin(base, 'owner@acme.example')).access_token;
  const listed = await apiCall(base, 'GET', '/v1/orgs/acme/trust-policies', ownerToken);
  assert.equal(listed.status, 200, listed.text);
  return (listed.json.policies as { id: string }[]).map((policy) => policy.id);
}

let owner: FormBrowser;
let member: FormBrowser;
let stranger: FormBrowser;

before(async () => {
  github = await startFakeCiIssuer();
  // The fake issuer signs with the real clock; the app's starts there and is stepped by hand.
  app = await startInProcess({ LATCHKEY_CI_ISSUERS: `${github.issuer}=repository_owner_id` }, Date.now());
  base = app.base;

  ownerToken = (await deviceLogin(base, 'owner@acme.example')).access_token;
  assert.equal((await apiCall(base, 'POST', '/v1/orgs', ownerToken, { slug: 'acme' })).status, 201);
  assert.equal((await apiCall(base, 'POST', '/v1/orgs/acme/projects', ownerToken, { slug: 'web' })).status, 201);
  const memberToken = (await deviceLogin(base, 'member@acme.example')).access_token;
  await addMember(base, ownerToken, 'acme', 'member@acme.example', 'member', memberToken);
  const strangerToken = (await deviceLogin(base, 'admin@other.example')).access_token;
  assert.equal((await apiCall(base, 'POST', '/v1/orgs', strangerToken, { slug: 'other' })).status, 201);

  owner = await consoleBrowser('owner@acme.example');
  member = await consoleBrowser('member@acme.example');
  stranger = await consoleBrowser('admin@other.example');
  const made = await owner.request(POLICIES, { csrf: await csrfOn(owner, POLICIES), ...githubForm() });
  assert.equal(made.status, 303, made.html.slice(0, 500));
});
after(async () => {
  app?.close();
  await github?.stop();
});

describe('a member (policies:read, not write)', () => {
  test('sees the policies and may dry-run, without a Delete button or create links', async () => {
    const list = await member.request(POLICIES);
    assert.equal(list.status, 200);
    assert.match(list.html, /octo-main/);
    assert.doesNotMatch(list.html, /\/delete"/);
    assert.doesNotMatch(list.html, /policies\/new/);
    const token = await github.sign(GITHUB.branchPush, { audience: `${base}/orgs/acme` });
    const tried = await member.request(`${POLICIES}/dry-run`, { csrf: await csrfOn(member), subject_token: token, audience: '' });
    assert.equal(tried.status, 200);
    assert.match(tried.html, /Decision: allowed/);
    assert.ok(!tried.html.includes(token), 'the pasted token is not in the page');
  });

  test('every create and delete post is 403 and changes nothing', async () => {
    const csrf = await csrfOn(member);
    const created = await member.request(POLICIES, { csrf, ...githubForm({ id: 'by-member' }) });
    assert.equal(created.status, 403, created.html.slice(0, 300));
    assert.match(created.html, /policies:write/);
    const json = await member.request(POLICIES, {
      csrf,
      preset: 'json',
      policy: JSON.stringify({
        preset: 'github-actions',
        id: 'by-member-json',
        issuer: github.issuer,
        repository: 'octo-org/octo-repo',
        repository_owner_id: '65',
        repository_id: '74',
        grant: { project: 'web', scopes: ['read'] },
      }),
    });
    assert.equal(json.status, 403);
    const deleted = await member.request(`${POLICIES}/octo-main/delete`, { csrf });
    assert.equal(deleted.status, 403);
    assert.deepEqual(await policyIds(), ['octo-main']);
  });
});

describe("another org's admin", () => {
  test('finds no org at any of its policy pages or posts (404), and changes nothing', async () => {
    const csrf = await csrfOn(stranger);
    for (const path of [POLICIES, `${POLICIES}/new?preset=github`, `${POLICIES}/dry-run`]) {
      assert.equal((await stranger.request(path)).status, 404, path);
    }
    assert.equal((await stranger.request(POLICIES, { csrf, ...githubForm({ id: 'stranger' }) })).status, 404);
    assert.equal((await stranger.request(`${POLICIES}/octo-main/delete`, { csrf })).status, 404);
    assert.equal((await stranger.request(`${POLICIES}/dry-run`, { csrf, subject_token: 'x.y.z' })).status, 404);
    assert.deepEqual(await policyIds(), ['octo-main']);
  });
});

describe('CSRF', () => {
  test('a create, delete or dry-run post without the token or with another browser’s is 403 and changes nothing', async () => {
    const foreign = await csrfOn(member);
    for (const csrf of [undefined, foreign, '']) {
      const fields: Record<string, string> = csrf === undefined ? {} : { csrf };
      assert.equal((await owner.request(POLICIES, { ...fields, ...githubForm({ id: 'forged' }) })).status, 403);
      assert.equal((await owner.request(`${POLICIES}/octo-main/delete`, fields)).status, 403);
      assert.equal((await owner.request(`${POLICIES}/dry-run`, { ...fields, subject_token: 'x.y.z' })).status, 403);
    }
    assert.deepEqual(await policyIds(), ['octo-main']);
  });
});

describe('bad input', () => {
  test('malformed JSON: the form again with the message and the text kept, 400', async () => {
    const page = await owner.request(POLICIES, { csrf: await csrfOn(owner), preset: 'json', policy: '{"preset": "custom",' });
    assert.equal(page.status, 400);
    assert.match(page.html, /not valid JSON/);
    assert.match(page.html, /\{&quot;preset&quot;: &quot;custom&quot;,/);
  });

  test('a policy the server refuses: the preset form again, every field kept', async () => {
    const page = await owner.request(POLICIES, {
      csrf: await csrfOn(owner),
      ...githubForm({ id: 'no-repo-id', repository_id: '', environment: 'prod', description: 'kept <b>' }),
    });
    assert.equal(page.status, 400);
    assert.match(page.html, /give repository_id/);
    assert.match(page.html, /name="environment" value="prod"/);
    assert.match(page.html, /name="description" value="kept &lt;b&gt;"/);
    assert.match(page.html, /<option value="read write" selected>/);
    const unknown = await owner.request(POLICIES, { csrf: await csrfOn(owner), ...githubForm({ project: 'nope' }) });
    assert.equal(unknown.status, 404);
    assert.match(unknown.html, /no project &quot;nope&quot;/);
    const taken = await owner.request(POLICIES, { csrf: await csrfOn(owner), ...githubForm() });
    assert.equal(taken.status, 409);
    assert.match(taken.html, /already has a trust policy/);
  });

  test('an unknown preset, on the page or posted: 400 with the message', async () => {
    const page = await owner.request(`${POLICIES}/new?preset=bitbucket`);
    assert.equal(page.status, 400);
    assert.match(page.html, /unknown preset &quot;bitbucket&quot;/);
    const posted = await owner.request(POLICIES, { csrf: await csrfOn(owner), ...githubForm({ preset: 'bitbucket' }) });
    assert.equal(posted.status, 400);
    const json = await owner.request(POLICIES, {
      csrf: await csrfOn(owner),
      preset: 'json',
      policy: JSON.stringify({ preset: 'bitbucket', id: 'x' }),
    });
    assert.equal(json.status, 400);
    assert.match(json.html, /every policy needs &quot;preset&quot;/);
    const array = await owner.request(POLICIES, { csrf: await csrfOn(owner), preset: 'json', policy: '[1]' });
    assert.equal(array.status, 400);
    assert.deepEqual(await policyIds(), ['octo-main']);
  });

  test('an empty or oversized token on the dry-run: 400 with the message', async () => {
    const empty = await owner.request(`${POLICIES}/dry-run`, { csrf: await csrfOn(owner), subject_token: ' ' });
    assert.equal(empty.status, 400);
    assert.match(empty.html, /subject_token/);
    const garbage = await owner.request(`${POLICIES}/dry-run`, { csrf: await csrfOn(owner), subject_token: 'not-a-jwt' });
    assert.equal(garbage.status, 200);
    assert.match(garbage.html, /Decision: refused/);
    assert.ok(!garbage.html.includes('not-a-jwt'));
  });
});

describe('deleting wants a recent sign-in', () => {
  test('just over ten minutes after sign-in it asks to sign in again and deletes nothing; signed in again, it deletes', async () => {
    const later = await consoleBrowser('owner@acme.example');
    const csrf = await csrfOn(later);
    const made = await later.request(POLICIES, { csrf, ...githubForm({ id: 'old-sign-in' }) });
    assert.equal(made.status, 303);

    app.step(10 * 60_000 + 1);
    const asked = await later.request(`${POLICIES}/old-sign-in/delete`, { csrf });
    assert.equal(asked.status, 200);
    assert.match(asked.html, /Confirm it’s you/);
    assert.match(asked.html, /needs a recent sign-in/);
    assert.match(asked.html, /name="return_to" value="\/console\/orgs\/acme\/policies"/);
    assert.deepEqual(await policyIds(), ['octo-main', 'old-sign-in']);

    const again = await later.submitSignIn(asked.html, 'owner@acme.example');
    assert.equal(again.headers.get('location'), POLICIES);
    const deleted = await later.request(`${POLICIES}/old-sign-in/delete`, { csrf: await csrfOn(later) });
    assert.equal(deleted.status, 303);
    assert.equal(deleted.headers.get('location'), `${POLICIES}?notice=policy-deleted`);
    assert.deepEqual(await policyIds(), ['octo-main']);
  });

  test('exactly ten minutes after sign-in is still recent', async () => {
    const fresh = await consoleBrowser('owner@acme.example');
    const csrf = await csrfOn(fresh);
    assert.equal((await fresh.request(POLICIES, { csrf, ...githubForm({ id: 'edge' }) })).status, 303);
    app.step(10 * 60_000);
    assert.equal((await fresh.request(`${POLICIES}/edge/delete`, { csrf })).status, 303);
    assert.deepEqual(await policyIds(), ['octo-main']);
  });
});
