/**
 * An org that requires two-step sign-in (issue #22) gets no session, and no narrowed token,
 * from a sign-in that proved no second factor: latchkey's own routes would refuse those
 * tokens, but a product's API checking them offline would not. A device login for the org
 * is refused at approval with the reason (nothing approved), narrowing a one-step token into
 * one of its projects is refused, and once the member signs in with a factor both work.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { TOKEN_TYPE } from '../../shared/schemas.ts';
import { apiJsonCall } from '../fixtures/api-call.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import {
  addMember,
  CLIENT_ID,
  deviceSignInFrom,
  exchangeIdToken,
  FormBrowser,
  pollToken,
  postForm,
} from '../fixtures/oauth-client.ts';
import { enrollAuthenticator } from '../fixtures/two-step.ts';

let app: InProcess;
let memberToken: string;
before(async () => {
  app = await startInProcess({}, Date.UTC(2026, 8, 9, 9));
  const owner = await consolePerson(app.base, 'owner@establish.example');
  await enrollAuthenticator(owner, app.now());
  const tokens = await deviceSignInFrom(app.base, owner.browser, 'owner@establish.example');
  const call = (method: string, path: string, body: Record<string, unknown>) =>
    apiJsonCall(app.base, method, path, tokens.access_token, body);
  assert.equal((await call('POST', '/v1/orgs', { slug: 'acme' })).status, 201);
  assert.equal((await call('POST', '/v1/orgs/acme/projects', { slug: 'web' })).status, 201);
  memberToken = await addMember(app.base, tokens.access_token, 'acme', 'mem@establish.example');
  assert.equal((await call('PUT', '/v1/orgs/acme/mfa', { required: true })).status, 200);
});
after(() => app?.close());

const narrow = (token: string) =>
  exchangeIdToken(app.base, token, { subject_token_type: TOKEN_TYPE.accessToken, audience: 'web' });

test('a device login for the org from a one-step sign-in is refused at approval, with the reason', async () => {
  const started = await postForm(`${app.base}/oauth/device_authorization`, { client_id: CLIENT_ID, org: 'acme' });
  const browser = new FormBrowser(app.base);
  await browser.signIn('mem@establish.example', String(started.json.user_code));
  const page = await browser.request(`/device?user_code=${started.json.user_code}`);
  assert.equal(page.status, 403);
  assert.match(page.html, /org &quot;acme&quot; requires two-step sign-in/);
  assert.doesNotMatch(page.html, /name="decision"/);
  const posted = await browser.request('/device/decision', {
    csrf: FormBrowser.field((await browser.request('/device')).html, 'csrf'),
    user_code: String(started.json.user_code),
    decision: 'approve',
  });
  assert.equal(posted.status, 403);
  assert.equal((await pollToken(app.base, String(started.json.device_code))).json.error, 'authorization_pending');
});

test('narrowing a one-step token into the org’s project is refused', async () => {
  const refused = await narrow(memberToken);
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error, 'invalid_target');
  assert.match(String(refused.json.error_description), /org "acme" requires two-step sign-in/);
});

test('with a factor, the member gets the org’s session and narrows into its project', async () => {
  const member = await consolePerson(app.base, 'mem@establish.example');
  await enrollAuthenticator(member, app.now());
  const tokens = await deviceSignInFrom(app.base, member.browser, 'mem@establish.example', 'acme');
  assert.equal(decodeJwt(tokens.access_token).org, 'acme');
  const whole = await deviceSignInFrom(app.base, member.browser, 'mem@establish.example');
  const narrowed = await narrow(whole.access_token);
  assert.equal(narrowed.status, 200, JSON.stringify(narrowed.json));
  assert.equal(decodeJwt(String(narrowed.json.access_token)).org, 'acme');
});
