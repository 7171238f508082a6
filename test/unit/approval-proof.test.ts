/**
 * Approving a sign-in for a device or an app hands the browser sign-in's proof to the new
 * session (issue #22), so a person with a second factor approves only from a browser that
 * gave it: one signed in before they enrolled is sent to sign in again, with the reason,
 * and nothing is approved. The browser that enrolled (it typed the authenticator's first
 * code) approves, and its session says two-step. A person without factors approves as before.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { FormBrowser, pollToken, startDeviceLogin } from '../fixtures/oauth-client.ts';
import { enrollAuthenticator } from '../fixtures/two-step.ts';

let app: InProcess;
before(async () => {
  app = await startInProcess({}, Date.UTC(2026, 7, 3, 9));
});
after(() => app?.close());

/** Opens the consent page for `userCode` in `browser` and approves it. */
async function approve(browser: FormBrowser, userCode: string) {
  const consent = await browser.request(`/device?user_code=${userCode}`);
  return browser.request('/device/decision', {
    csrf: FormBrowser.field(consent.html, 'csrf'),
    user_code: userCode,
    decision: 'approve',
  });
}

test('a browser signed in before the person enrolled cannot approve a device; the one that enrolled can', async () => {
  const started = await startDeviceLogin(app.base);
  const old = new FormBrowser(app.base);
  assert.equal((await old.signIn('ada@approval.example', started.user_code)).status, 303);
  const person = await consolePerson(app.base, 'ada@approval.example');
  await enrollAuthenticator(person, app.now());

  const refused = await approve(old, started.user_code);
  assert.equal(refused.status, 200);
  assert.match(refused.html, /needs a sign-in with your second factor/);
  assert.match(refused.html, /name="email"/, 'the sign-in form, to sign in again');
  assert.equal((await pollToken(app.base, started.device_code)).json.error, 'authorization_pending');

  assert.ok((await approve(person.browser, started.user_code)).status < 400);
  const tokens = await pollToken(app.base, started.device_code);
  assert.equal(tokens.status, 200);
  assert.equal(decodeJwt(String(tokens.json.access_token)).acr, 'urn:latchkey:acr:mfa');
});

test('a person without factors approves from the browser they signed in with, as before', async () => {
  const started = await startDeviceLogin(app.base);
  const browser = new FormBrowser(app.base);
  await browser.signIn('bo@approval.example', started.user_code);
  assert.ok((await approve(browser, started.user_code)).status < 400);
  const tokens = await pollToken(app.base, started.device_code);
  assert.equal(tokens.status, 200);
  assert.deepEqual(decodeJwt(String(tokens.json.access_token)).amr, ['pwd']);
});
