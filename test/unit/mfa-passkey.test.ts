/**
 * Passkeys and security keys as the second step (issue #22), in process on a stepping
 * clock, with a software authenticator playing the browser's side (any origin, RP ID,
 * challenge or credential a hostile page or relay could send):
 *
 * - adding one turns two-step sign-in on (and ends recovery codes made while it was off);
 *   signing in with it records amr pwd, mfa, hwk (swk for a synced passkey); it is listed;
 * - at sign-in, refused: a credential the person never registered, another person's
 *   registered credential, an answer signed for another origin (a phishing relay) or RP ID,
 *   an answer replayed (in this browser, or another), an answer over a challenge that was
 *   replaced or is past its 5 minutes, a signature counter that did not move forward (a
 *   cloned key); wrong answers count with wrong codes, so the sixth is limited though right;
 * - at the console, refused: a registration answered in another browser sign-in than the
 *   one that began it, for another origin, twice, or after 5 minutes; adding a passkey once
 *   a factor exists wants a sign-in that proved one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WRONG_CODE_LIMIT } from '../../worker/accounts/factors.ts';
import { WEBAUTHN_CHALLENGE_SECONDS } from '../../worker/mfa/webauthn.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import { addPasskey, answerWithPasskey, beginPasskey, passkeyRequest } from '../fixtures/passkeys.ts';
import { SoftAuthenticator } from '../fixtures/soft-authenticator.ts';
import {
  enrollAuthenticator,
  firstStep,
  makeRecoveryCodes,
  secondStep,
  signedIn,
  storedWebSessions,
  TWO_STEP,
} from '../fixtures/two-step.ts';

let app: InProcess;

before(async () => {
  app = await startInProcess({}, Date.UTC(2026, 7, 1, 9, 0, 0));
});
after(() => app?.close());

const webSessions = () => storedWebSessions(app.store);

/** A person with a passkey made by their own software authenticator at this server's origin. */
async function withPasskey(email: string) {
  const person = await consolePerson(app.base, email);
  const authenticator = new SoftAuthenticator(app.base);
  const credential = await addPasskey(person, authenticator);
  return { person, authenticator, credential };
}

/** A fresh browser at the second step for `email`: its CSRF token and the passkey request's challenge. */
async function atSecondStep(email: string) {
  const browser = new FormBrowser(app.base);
  assert.equal((await firstStep(browser, email)).headers.get('location'), '/signin/two-step');
  const request = await passkeyRequest(browser);
  assert.ok(request.challenge, 'the page offers the passkey');
  return { browser, csrf: request.csrf, challenge: request.challenge };
}

/** Posts `response` and asserts it was refused (400) and the browser is not signed in. */
async function refused(browser: FormBrowser, csrf: string, response: string, why: string) {
  const answer = await answerWithPasskey(browser, csrf, response);
  assert.equal(answer.status, 400, `${why}: ${answer.status}`);
  assert.equal(await signedIn(browser), false, `${why}: the browser got in`);
  return answer;
}

describe('adding a passkey and signing in with it', () => {
  test('turns two-step sign-in on, ends codes made while off, signs in with amr pwd mfa hwk, and is listed', async () => {
    const person = await consolePerson(app.base, 'ada@passkey.example');
    const planted = await makeRecoveryCodes(person);
    const authenticator = new SoftAuthenticator(app.base);
    const credential = await addPasskey(person, authenticator, 'Work laptop');
    const page = (await person.get(TWO_STEP)).html;
    assert.match(page, /id="factors-on"/);
    assert.match(page, /data-kind="webauthn"[\s\S]*Work laptop/);
    assert.doesNotMatch(page, /data-kind="recovery"/, 'codes made while two-step sign-in was off ended');
    const { browser, csrf, challenge } = await atSecondStep('ada@passkey.example');
    assert.equal((await secondStep(browser, planted[0] ?? '')).status, 400, 'a planted recovery code');
    // The code attempt re-drew the page with a new challenge: answer the one shown now.
    const now = await passkeyRequest(browser);
    assert.notEqual(now.challenge, challenge);
    const done = await answerWithPasskey(browser, csrf, await authenticator.assert(credential, now.challenge ?? ''));
    assert.equal(done.status, 303, done.html.slice(0, 500));
    assert.equal(done.headers.get('location'), '/console');
    assert.ok(await signedIn(browser));
    const session = webSessions().find((found) => found.email === 'ada@passkey.example' && found.mfaAt === app.now());
    assert.deepEqual(session?.amr, ['pwd', 'mfa', 'hwk']);
    assert.match((await browser.request(TWO_STEP)).html, /last used/);
  });

  test('a synced passkey signs in with amr pwd mfa swk', async () => {
    const person = await consolePerson(app.base, 'synced@passkey.example');
    const phone = new SoftAuthenticator(app.base, undefined, { synced: true });
    const credential = await addPasskey(person, phone, 'Phone');
    const { browser, csrf, challenge } = await atSecondStep('synced@passkey.example');
    assert.equal((await answerWithPasskey(browser, csrf, await phone.assert(credential, challenge))).status, 303);
    const session = webSessions().find((found) => found.email === 'synced@passkey.example' && found.mfaAt === app.now());
    assert.deepEqual(session?.amr, ['pwd', 'mfa', 'swk']);
  });

  test('a person without a passkey is offered none, and the page loads no script', async () => {
    const person = await consolePerson(app.base, 'codes-only@passkey.example');
    await enrollAuthenticator(person, app.now());
    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'codes-only@passkey.example');
    const page = await browser.request('/signin/two-step');
    assert.doesNotMatch(page.html, /data-passkey|passkey\.js/);
    assert.doesNotMatch(page.headers.get('content-security-policy') ?? '', /script-src/);
    // A passkey answer posted anyway finds no request to answer.
    const answer = await refused(browser, FormBrowser.field(page.html, 'csrf'), '{}', 'no passkey request');
    assert.match(answer.html, /expired or was answered already/);
  });
});

describe('answers refused at the second step', () => {
  test('a credential never registered, and another person’s registered one', async () => {
    const ada = await withPasskey('ada2@passkey.example');
    const eve = await withPasskey('eve@passkey.example');
    const { browser, csrf, challenge } = await atSecondStep('ada2@passkey.example');
    const stranger = new SoftAuthenticator(app.base);
    const unregistered = (await stranger.register('not-a-challenge')).credential;
    let answer = await refused(browser, csrf, await stranger.assert(unregistered, challenge), 'unregistered');
    assert.match(answer.html, /not one of yours/);
    // Eve's own passkey, registered for her: a valid signature over Ada's challenge, by a credential that is not Ada's.
    const next = (await passkeyRequest(browser)).challenge ?? '';
    answer = await refused(browser, csrf, await eve.authenticator.assert(eve.credential, next), 'another person’s credential');
    // Eve's key signing, under Ada's credential id: the signature does not check against Ada's key.
    const third = (await passkeyRequest(browser)).challenge ?? '';
    await refused(browser, csrf, await eve.authenticator.assert(eve.credential, third, { id: ada.credential.id }), 'forged id');
    // Ada's own still works.
    const last = (await passkeyRequest(browser)).challenge ?? '';
    assert.equal((await answerWithPasskey(browser, csrf, await ada.authenticator.assert(ada.credential, last))).status, 303);
  });

  test('an answer signed for another origin (a relaying page) or another RP ID', async () => {
    const ada = await withPasskey('relay@passkey.example');
    const { browser, csrf, challenge } = await atSecondStep('relay@passkey.example');
    // The relay's page: the browser writes its own origin into what the key signs.
    const phishing = new SoftAuthenticator('http://login-latchkey.example', new URL(app.base).hostname);
    phishing.credentials.push(ada.credential);
    await refused(browser, csrf, await phishing.assert(ada.credential, challenge), 'another origin');
    const otherRp = new SoftAuthenticator(app.base, 'login-latchkey.example');
    const next = (await passkeyRequest(browser)).challenge ?? '';
    await refused(browser, csrf, await otherRp.assert(ada.credential, next), 'another RP ID');
  });

  test('a replayed answer: in this browser, and in another; a replaced challenge; one past 5 minutes', async () => {
    const ada = await withPasskey('replay@passkey.example');
    const first = await atSecondStep('replay@passkey.example');
    const answer = await ada.authenticator.assert(ada.credential, first.challenge);
    assert.equal((await answerWithPasskey(first.browser, first.csrf, answer)).status, 303);
    // The same answer in another browser at its own second step: its challenge is another.
    const other = await atSecondStep('replay@passkey.example');
    await refused(other.browser, other.csrf, answer, 'replayed in another browser');

    // This browser's page drawn again (another tab): the first page's challenge is gone.
    const tab = await atSecondStep('replay@passkey.example');
    const drawnAgain = await passkeyRequest(tab.browser);
    const stale = await refused(
      tab.browser,
      tab.csrf,
      await ada.authenticator.assert(ada.credential, tab.challenge),
      'replaced challenge',
    );
    assert.match(stale.html, /not one of yours|expired or was answered/);
    assert.notEqual(drawnAgain.challenge, tab.challenge);

    // Past 5 minutes: refused, and the challenge is spent all the same.
    const late = await atSecondStep('replay@passkey.example');
    app.step(WEBAUTHN_CHALLENGE_SECONDS * 1000);
    const lateAnswer = await ada.authenticator.assert(ada.credential, late.challenge);
    assert.match((await refused(late.browser, late.csrf, lateAnswer, 'late')).html, /expired or was answered/);
    await refused(late.browser, late.csrf, lateAnswer, 'late, again');
  });

  test('a signature counter that did not move forward (a cloned key)', async () => {
    const ada = await withPasskey('clone@passkey.example');
    const first = await atSecondStep('clone@passkey.example');
    assert.equal(
      (
        await answerWithPasskey(
          first.browser,
          first.csrf,
          await ada.authenticator.assert(ada.credential, first.challenge, { counter: 7 }),
        )
      ).status,
      303,
    );
    const clone = await atSecondStep('clone@passkey.example');
    await refused(
      clone.browser,
      clone.csrf,
      await ada.authenticator.assert(ada.credential, clone.challenge, { counter: 7 }),
      'same count',
    );
  });

  test('wrong answers count with wrong codes: the sixth is refused as limited though right', async () => {
    const ada = await withPasskey('slow@passkey.example');
    const { browser, csrf } = await atSecondStep('slow@passkey.example');
    const stranger = new SoftAuthenticator(app.base);
    const unregistered = (await stranger.register('x')).credential;
    for (let n = 0; n < WRONG_CODE_LIMIT; n++) {
      const challenge = (await passkeyRequest(browser)).challenge ?? '';
      await refused(browser, csrf, await stranger.assert(unregistered, challenge), `wrong answer ${n + 1}`);
    }
    const challenge = (await passkeyRequest(browser)).challenge ?? '';
    const right = await answerWithPasskey(browser, csrf, await ada.authenticator.assert(ada.credential, challenge));
    assert.equal(right.status, 429);
    assert.equal(await signedIn(browser), false);
  });
});

describe('registrations refused at the console', () => {
  test('answered in another browser sign-in, for another origin, twice, or after 5 minutes', async () => {
    const person = await consolePerson(app.base, 'reg@passkey.example');
    const other = await consolePerson(app.base, 'reg@passkey.example');
    const authenticator = new SoftAuthenticator(app.base);

    // Begun in one browser, answered in the person's other browser: the challenge is the first browser's.
    const { challenge } = await beginPasskey(person);
    const made = await authenticator.register(challenge);
    assert.equal((await other.post(`${TWO_STEP}/passkey/confirm`, { response: made.json })).status, 404);
    // Answered for another origin (a relaying page) in the browser that began it: not added, and the challenge is spent.
    const relay = new SoftAuthenticator('http://login-latchkey.example', new URL(app.base).hostname);
    const relayed = await relay.register(challenge);
    assert.equal((await person.post(`${TWO_STEP}/passkey/confirm`, { response: relayed.json })).status, 400);
    assert.equal((await person.post(`${TWO_STEP}/passkey/confirm`, { response: made.json })).status, 404, 'challenge used once');

    const late = await beginPasskey(person);
    app.step(WEBAUTHN_CHALLENGE_SECONDS * 1000);
    const lateAnswer = await authenticator.register(late.challenge);
    assert.equal((await person.post(`${TWO_STEP}/passkey/confirm`, { response: lateAnswer.json })).status, 404);
    assert.match((await person.get(TWO_STEP)).html, /id="no-factors"/, 'nothing was added');
  });

  test('once a factor exists, adding a passkey wants a sign-in that proved one', async () => {
    const early = await consolePerson(app.base, 'gate@passkey.example');
    await withPasskeyFor(await consolePerson(app.base, 'gate@passkey.example'));
    const page = await early.get(TWO_STEP);
    const begun = await early.post(`${TWO_STEP}/passkey`, { form_id: FormBrowser.field(page.html, 'form_id') });
    assert.notEqual(begun.status, 201);
    assert.match(begun.html, /needs a recent sign-in/);
    assert.doesNotMatch(begun.html, /data-passkey/);
  });
});

async function withPasskeyFor(person: Awaited<ReturnType<typeof consolePerson>>) {
  return addPasskey(person, new SoftAuthenticator(app.base));
}
