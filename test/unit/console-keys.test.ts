/**
 * The console's recent-sign-in gate on API keys, with the clock in the test's hand: making
 * or rotating an admin-or-higher key more than 10 minutes after signing in answers the
 * "confirm it's you" page and makes nothing; a member key, or the same act after signing in
 * again, goes through. The app runs in process on a stepping clock (as time-windows.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RECENT_SIGN_IN_SECONDS } from '../../worker/accounts/web-sessions.ts';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { addMember, deviceLogin } from '../fixtures/oauth-client.ts';

let app: InProcess;
let base: string;
let ownerToken: string;
let ownerKey: string;
const ORG = 'stale-co';
const ADMIN = 'admin@stale.example';
const keysPath = `/console/orgs/${ORG}/keys`;
const RECENT_MS = RECENT_SIGN_IN_SECONDS * 1000;

before(async () => {
  app = await startInProcess({}, Date.UTC(2026, 5, 1, 9));
  base = app.base;
  ownerToken = (await deviceLogin(base, 'owner@stale.example')).access_token;
  await ok(apiCall(base, 'POST', '/v1/orgs', ownerToken, { slug: ORG }));
  await addMember(base, ownerToken, ORG, ADMIN, 'admin');
  // The owner's access token lives 15 minutes of the stepped clock; an owner key outlives the test.
  ownerKey = String((await ok(apiCall(base, 'POST', `/v1/orgs/${ORG}/keys`, ownerToken, { name: 'test', role: 'owner' }))).key);
});
after(() => app?.close());

const keys = async () =>
  (await ok(apiCall(base, 'GET', `/v1/orgs/${ORG}/keys`, ownerKey))).keys as { id: string; name: string; role: string }[];

const asksToSignInAgain = (answer: { status: number; html: string }) => {
  assert.equal(answer.status, 200);
  assert.match(answer.html, /<h1>Confirm it’s you<\/h1>/);
  assert.match(answer.html, /id="reauth"/);
  assert.match(answer.html, /name="return_to" value="\/console\/orgs\/stale-co\/keys"/);
  assert.doesNotMatch(answer.html, /lk_(test|live)_/);
};

describe('an admin-or-higher key wants a recent sign-in', () => {
  test('making one: fine at 10 minutes, refused a millisecond later, fine again after signing in', async () => {
    const admin = await consolePerson(base, ADMIN, keysPath);
    app.step(RECENT_MS);
    const onTime = await admin.post(keysPath, { name: 'on time', role: 'admin' });
    assert.equal(onTime.status, 201, 'at exactly 10 minutes');
    assert.match(onTime.html, /class="secret"/);

    app.step(1);
    const before = (await keys()).length;
    asksToSignInAgain(await admin.post(keysPath, { name: 'late', role: 'admin' }));
    assert.equal((await keys()).length, before, 'no key was made');
    const member = await admin.post(keysPath, { name: 'a member key', role: 'member' });
    assert.equal(member.status, 201, 'a member key is not sensitive');

    const again = await admin.post(keysPath, { name: 'late', role: 'admin' });
    asksToSignInAgain(again);
    const back = await admin.browser.submitSignIn(again.html, ADMIN);
    assert.equal(back.status, 303);
    assert.equal(back.headers.get('location'), keysPath, 'the sign-in returns to the keys');
    const made = await admin.post(keysPath, { name: 'late', role: 'admin' });
    assert.equal(made.status, 201);
    assert.equal((await keys()).filter((key) => key.name === 'late' && key.role === 'admin').length, 1);
  });

  test('rotating one after 10 minutes: the confirm page, and the key is left as it was', async () => {
    const target = await ok(apiCall(base, 'POST', `/v1/orgs/${ORG}/keys`, ownerKey, { name: 'admin target', role: 'admin' }));
    const memberKey = await ok(apiCall(base, 'POST', `/v1/orgs/${ORG}/keys`, ownerKey, { name: 'member target' }));
    const admin = await consolePerson(base, ADMIN, keysPath);
    app.step(RECENT_MS + 1);
    const before = (await keys()).length;
    asksToSignInAgain(await admin.post(`${keysPath}/${target.id}/rotate`, { grace_seconds: '0' }));
    assert.equal((await keys()).length, before, 'no successor');
    const me = await apiCall(base, 'GET', '/v1/me', String(target.key));
    assert.equal(me.status, 200, 'the old key still works');

    const rotated = await admin.post(`${keysPath}/${memberKey.id}/rotate`, { grace_seconds: '0' });
    assert.equal(rotated.status, 201, 'a member key rotates without asking');
    assert.equal((await apiCall(base, 'GET', '/v1/me', String(memberKey.key))).status, 401);
  });
});

describe('a key form acts once: reloading the page that showed the secret makes nothing', () => {
  /** The page's own form id, as a browser would post it back. */
  const formIdOn = (html: string) => /name="form_id" value="(frm_[\w-]{20})"/.exec(html)?.[1] ?? assert.fail('no form_id');

  test('creating: the repost answers 409 "already done", makes no key and shows no secret', async () => {
    const admin = await consolePerson(base, ADMIN, keysPath);
    const formId = formIdOn((await admin.get(keysPath)).html);
    const first = await admin.post(keysPath, { name: 'once only', role: 'member', form_id: formId });
    assert.equal(first.status, 201);
    const reload = await admin.post(keysPath, { name: 'once only', role: 'member', form_id: formId });
    assert.equal(reload.status, 409);
    assert.match(reload.html, /sent before, and nothing more was made/);
    assert.doesNotMatch(reload.html, /lk_(test|live)_/);
    assert.equal((await keys()).filter((key) => key.name === 'once only').length, 1);
    // A fresh page is a fresh form.
    const next = await admin.post(keysPath, {
      name: 'once only',
      role: 'member',
      form_id: formIdOn((await admin.get(keysPath)).html),
    });
    assert.equal(next.status, 201);
  });

  test('a refused post (bad input) spends nothing, so the corrected form goes through', async () => {
    const admin = await consolePerson(base, ADMIN, keysPath);
    const formId = formIdOn((await admin.get(keysPath)).html);
    const refused = await admin.post(keysPath, { name: '', role: 'member', form_id: formId });
    assert.equal(refused.status, 400);
    const corrected = await admin.post(keysPath, { name: 'corrected', role: 'member', form_id: formId });
    assert.equal(corrected.status, 201);
  });

  test('rotating: the repost makes no second successor', async () => {
    const target = await ok(apiCall(base, 'POST', `/v1/orgs/${ORG}/keys`, ownerKey, { name: 'rotate once' }));
    const admin = await consolePerson(base, ADMIN, keysPath);
    const formId = formIdOn((await admin.get(keysPath)).html);
    const rotate = () => admin.post(`${keysPath}/${target.id}/rotate`, { grace_seconds: '3600', form_id: formId });
    assert.equal((await rotate()).status, 201);
    assert.equal((await rotate()).status, 409);
    assert.equal((await keys()).filter((key) => key.name === 'rotate once').length, 2, 'the key and one successor');
  });

  test('a malformed form id is refused before anything is made', async () => {
    const admin = await consolePerson(base, ADMIN, keysPath);
    const answer = await admin.post(keysPath, { name: 'forged id', role: 'member', form_id: 'frm_x' });
    assert.equal(answer.status, 400);
    assert.equal((await keys()).filter((key) => key.name === 'forged id').length, 0);
  });
});
