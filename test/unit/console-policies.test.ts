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
import { type ConsolePerson, consolePerson } from '../fixtures/console-http.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { addMember, deviceLogin } from '../fixtures/oauth-client.ts';

let app: InProcess;
let base: string;
let github: FakeCiIssuer;
let ownerToken: string;

const POLICIES = '/console/orgs/acme/policies';

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

let owner: ConsolePerson;
let member: ConsolePerson;
let stranger: ConsolePerson;

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

  owner = await consolePerson(base, 'owner@acme.example');
  member = await consolePerson(base, 'member@acme.example');
  stranger = await consolePerson(base, 'admin@other.example');
  const made = await owner.post(POLICIES, githubForm());
  assert.equal(made.status, 303, made.html.slice(0, 500));
});
after(async () => {
  app?.close();
  await github?.stop();
});

describe('a member (policies:read, not write)', () => {
  test('sees the policies and may dry-run, without a Delete button or create links', async () => {
    const list = await member.get(POLICIES);
    assert.equal(list.status, 200);
    assert.match(list.html, /octo-main/);
    assert.doesNotMatch(list.html, /\/delete"/);
    assert.doesNotMatch(list.html, /policies\/new/);
    const token = await github.sign(GITHUB.branchPush, { audience: `${base}/orgs/acme` });
    const tried = await member.post(`${POLICIES}/dry-run`, { subject_token: token, audience: '' });
    assert.equal(tried.status, 200);
    assert.match(tried.html, /Decision: allowed/);
    assert.ok(!tried.html.includes(token), 'the pasted token is not in the page');
  });

  test('every create and delete post is 403 and changes nothing', async () => {
    const created = await member.post(POLICIES, githubForm({ id: 'by-member' }));
    assert.equal(created.status, 403, created.html.slice(0, 300));
    assert.match(created.html, /policies:write/);
    const json = await member.post(POLICIES, {
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
    const deleted = await member.post(`${POLICIES}/octo-main/delete`);
    assert.equal(deleted.status, 403);
    assert.deepEqual(await policyIds(), ['octo-main']);
  });
});

describe("another org's admin", () => {
  test('finds no org at any of its policy pages or posts (404), and changes nothing', async () => {
    for (const path of [POLICIES, `${POLICIES}/new?preset=github`, `${POLICIES}/dry-run`]) {
      assert.equal((await stranger.get(path)).status, 404, path);
    }
    assert.equal((await stranger.post(POLICIES, githubForm({ id: 'stranger' }))).status, 404);
    assert.equal((await stranger.post(`${POLICIES}/octo-main/delete`)).status, 404);
    assert.equal((await stranger.post(`${POLICIES}/dry-run`, { subject_token: 'x.y.z' })).status, 404);
    assert.deepEqual(await policyIds(), ['octo-main']);
  });
});

describe('CSRF', () => {
  test('a create, delete or dry-run post without the token or with another browser’s is 403 and changes nothing', async () => {
    const foreign = member.csrf;
    for (const csrf of [undefined, foreign, '']) {
      const fields: Record<string, string> = csrf === undefined ? {} : { csrf };
      assert.equal((await owner.browser.request(POLICIES, { ...fields, ...githubForm({ id: 'forged' }) })).status, 403);
      assert.equal((await owner.browser.request(`${POLICIES}/octo-main/delete`, fields)).status, 403);
      assert.equal((await owner.browser.request(`${POLICIES}/dry-run`, { ...fields, subject_token: 'x.y.z' })).status, 403);
    }
    assert.deepEqual(await policyIds(), ['octo-main']);
  });
});

describe('bad input', () => {
  test('malformed JSON: the form again with the message and the text kept, 400', async () => {
    const page = await owner.post(POLICIES, { preset: 'json', policy: '{"preset": "custom",' });
    assert.equal(page.status, 400);
    assert.match(page.html, /not valid JSON/);
    assert.match(page.html, /\{&quot;preset&quot;: &quot;custom&quot;,/);
  });

  test('a policy the server refuses: the preset form again, every field kept', async () => {
    const page = await owner.post(POLICIES, {
      ...githubForm({ id: 'no-repo-id', repository_id: '', environment: 'prod', description: 'kept <b>' }),
    });
    assert.equal(page.status, 400);
    assert.match(page.html, /give repository_id/);
    assert.match(page.html, /name="environment" value="prod"/);
    assert.match(page.html, /name="description" value="kept &lt;b&gt;"/);
    assert.match(page.html, /<option value="read write" selected>/);
    const unknown = await owner.post(POLICIES, githubForm({ project: 'nope' }));
    assert.equal(unknown.status, 404);
    assert.match(unknown.html, /no project &quot;nope&quot;/);
    const taken = await owner.post(POLICIES, githubForm());
    assert.equal(taken.status, 409);
    assert.match(taken.html, /already has a trust policy/);
  });

  test('an unknown preset, on the page or posted: 400 with the message', async () => {
    const page = await owner.get(`${POLICIES}/new?preset=bitbucket`);
    assert.equal(page.status, 400);
    assert.match(page.html, /unknown preset &quot;bitbucket&quot;/);
    const posted = await owner.post(POLICIES, githubForm({ preset: 'bitbucket' }));
    assert.equal(posted.status, 400);
    const json = await owner.post(POLICIES, {
      preset: 'json',
      policy: JSON.stringify({ preset: 'bitbucket', id: 'x' }),
    });
    assert.equal(json.status, 400);
    assert.match(json.html, /every policy needs &quot;preset&quot;/);
    const array = await owner.post(POLICIES, { preset: 'json', policy: '[1]' });
    assert.equal(array.status, 400);
    assert.deepEqual(await policyIds(), ['octo-main']);
  });

  test('an empty or oversized token on the dry-run: 400 with the message', async () => {
    const empty = await owner.post(`${POLICIES}/dry-run`, { subject_token: ' ' });
    assert.equal(empty.status, 400);
    assert.match(empty.html, /subject_token/);
    const garbage = await owner.post(`${POLICIES}/dry-run`, { subject_token: 'not-a-jwt' });
    assert.equal(garbage.status, 200);
    assert.match(garbage.html, /Decision: refused/);
    assert.ok(!garbage.html.includes('not-a-jwt'));
  });
});

describe('deleting wants a recent sign-in', () => {
  test('just over ten minutes after sign-in it asks to sign in again and deletes nothing; signed in again, it deletes', async () => {
    const later = await consolePerson(base, 'owner@acme.example');
    const made = await later.post(POLICIES, githubForm({ id: 'old-sign-in' }));
    assert.equal(made.status, 303);

    app.step(10 * 60_000 + 1);
    const asked = await later.post(`${POLICIES}/old-sign-in/delete`);
    assert.equal(asked.status, 200);
    assert.match(asked.html, /Confirm it’s you/);
    assert.match(asked.html, /needs a recent sign-in/);
    assert.match(asked.html, /name="return_to" value="\/console\/orgs\/acme\/policies"/);
    assert.deepEqual(await policyIds(), ['octo-main', 'old-sign-in']);

    const again = await later.browser.submitSignIn(asked.html, 'owner@acme.example');
    assert.equal(again.headers.get('location'), POLICIES);
    const deleted = await later.post(`${POLICIES}/old-sign-in/delete`);
    assert.equal(deleted.status, 303);
    assert.equal(deleted.headers.get('location'), `${POLICIES}?notice=policy-deleted`);
    assert.deepEqual(await policyIds(), ['octo-main']);
  });

  test('exactly ten minutes after sign-in is still recent', async () => {
    const fresh = await consolePerson(base, 'owner@acme.example');
    assert.equal((await fresh.post(POLICIES, githubForm({ id: 'edge' }))).status, 303);
    app.step(10 * 60_000);
    assert.equal((await fresh.post(`${POLICIES}/edge/delete`)).status, 303);
    assert.deepEqual(await policyIds(), ['octo-main']);
  });
});
