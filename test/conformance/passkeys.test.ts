/**
 * Passkeys as the second step (issue #22) on every runtime × store, over HTTP, with a
 * software authenticator playing the browser (test/fixtures/soft-authenticator.ts): the
 * WebAuthn library verifies on this runtime (workerd, Deno, Node), a person adds a passkey
 * at the console and signs in with it; another person's passkey, and an answer replayed in
 * another browser, are refused; of one right answer posted twice at once exactly one signs
 * in (the store's single use holding on this target); a passkey removed no longer signs in;
 * a device login approved after a passkey gives tokens whose `amr` says so (`hwk`).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { MFA_ACR } from '../../shared/schemas.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { deviceSignInFrom, FormBrowser, pollToken, startDeviceLogin } from '../fixtures/oauth-client.ts';
import { addPasskey, answerWithPasskey, passkeyRequest } from '../fixtures/passkeys.ts';
import { SoftAuthenticator } from '../fixtures/soft-authenticator.ts';
import { enrollAuthenticator, firstStep, signedIn, TWO_STEP } from '../fixtures/two-step.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
before(async () => {
  worker = await startWorker();
});
after(() => worker?.stop());

/** A fresh browser at the second step for `email`, with the page's passkey request. */
async function atSecondStep(email: string) {
  const browser = new FormBrowser(worker.url);
  assert.equal((await firstStep(browser, email)).headers.get('location'), '/signin/two-step');
  const { csrf, challenge } = await passkeyRequest(browser);
  assert.ok(challenge, 'the page offers the passkey');
  return { browser, csrf, challenge };
}

test('add a passkey, sign out, sign in with it; another person’s passkey and a replay refused; removed, it no longer signs in', async () => {
  const person = await consolePerson(worker.url, 'ada@passkeys.example');
  const laptop = new SoftAuthenticator(worker.url);
  const credential = await addPasskey(person, laptop, 'Laptop');
  assert.match((await person.get(TWO_STEP)).html, /data-kind="webauthn"/);
  const eve = new SoftAuthenticator(worker.url);
  const eves = await addPasskey(await consolePerson(worker.url, 'eve@passkeys.example'), eve);

  const { browser, csrf, challenge } = await atSecondStep('ada@passkeys.example');
  assert.equal(await signedIn(browser), false);
  const answer = await laptop.assert(credential, challenge);
  assert.equal((await answerWithPasskey(browser, csrf, answer)).status, 303);
  assert.ok(await signedIn(browser));

  const other = await atSecondStep('ada@passkeys.example');
  assert.equal((await answerWithPasskey(other.browser, other.csrf, answer)).status, 400, 'a replayed answer');
  const next = (await passkeyRequest(other.browser)).challenge ?? '';
  assert.equal((await answerWithPasskey(other.browser, other.csrf, await eve.assert(eves, next))).status, 400, 'Eve’s passkey');
  assert.equal(await signedIn(other.browser), false);

  // Ada keeps an authenticator app, so two-step sign-in stays on, and removes the passkey.
  await enrollAuthenticator(person, Date.now());
  const id = /data-factor="(mfa_[\w-]{20})" data-kind="webauthn"/.exec((await person.get(TWO_STEP)).html)?.[1];
  assert.ok(id);
  assert.equal((await person.post(`${TWO_STEP}/${id}/remove`)).status, 303);
  const after = new FormBrowser(worker.url);
  await firstStep(after, 'ada@passkeys.example');
  const page = await after.request('/signin/two-step');
  assert.doesNotMatch(page.html, /data-passkey/, 'no passkey offered once removed');
  const stale = await answerWithPasskey(after, FormBrowser.field(page.html, 'csrf'), await laptop.assert(credential, challenge));
  assert.equal(stale.status, 400);
  assert.equal(await signedIn(after), false);
});

test('one right answer posted twice at once: exactly one signs in', async () => {
  const person = await consolePerson(worker.url, 'race@passkeys.example');
  const key = new SoftAuthenticator(worker.url);
  const credential = await addPasskey(person, key);
  const { browser, csrf, challenge } = await atSecondStep('race@passkeys.example');
  const answer = await key.assert(credential, challenge);
  const answers = await Promise.all([0, 1].map(() => answerWithPasskey(browser, csrf, answer)));
  assert.deepEqual(answers.map((found) => found.status).sort(), [303, 400]);
});

test('a device login approved after a passkey: the access token says amr pwd, mfa, hwk and the MFA acr', async () => {
  const person = await consolePerson(worker.url, 'device@passkeys.example');
  const key = new SoftAuthenticator(worker.url);
  const credential = await addPasskey(person, key);
  const browser = new FormBrowser(worker.url);
  assert.equal((await firstStep(browser, 'device@passkeys.example')).headers.get('location'), '/signin/two-step');
  const { csrf, challenge } = await passkeyRequest(browser);
  const signedInWithKey = await answerWithPasskey(browser, csrf, await key.assert(credential, challenge ?? ''));
  assert.equal(signedInWithKey.status, 303);
  const tokens = await deviceSignInFrom(worker.url, browser, 'device@passkeys.example');
  const claims = decodeJwt(tokens.access_token);
  assert.deepEqual(claims.amr, ['pwd', 'mfa', 'hwk']);
  assert.equal(claims.acr, MFA_ACR);
});
