/**
 * Two-step sign-in (issue #22) attacked by someone who has the person's first step (their
 * upstream or dev sign-in) but not their authenticator, in process on a stepping clock.
 *
 * - Recovery codes made while two-step sign-in was off — by anyone with the first step
 *   alone — do not get past the second step once an authenticator turns it on (they end
 *   then), while codes made while it is on outlive adding another authenticator.
 * - A browser signed in on the first step alone before two-step sign-in was turned on
 *   cannot change the factors, however recent; the browser that typed the new
 *   authenticator's first code proved it, and can.
 * - "Confirm it's you" (the console's recent sign-in, a device approval) asks for a code
 *   too: the first step alone refreshes nothing, and approves no device.
 * - The pending second step is single use, lives 10 minutes (a right code after that is
 *   refused and not spent), and its cookie is HttpOnly, SameSite=Lax, and Secure and
 *   `__Host-` named on an https issuer, like the session cookie.
 * - Wrong codes are counted per person whatever the browser and whichever kind of code (an
 *   app code, a recovery code, a first code at the console): the sixth is refused.
 * - An authenticator removed while a second step waits no longer proves it.
 * - Neither the TOTP secret nor a recovery code is kept in the store, put in a redirect, or
 *   shown on a later page; the pages that show them are not cached.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { confirmTotp, startTotpEnrollment, WRONG_CODE_LIMIT } from '../../worker/accounts/factors.ts';
import { RECENT_SIGN_IN_SECONDS } from '../../worker/accounts/web-sessions.ts';
import { createApp } from '../../worker/app.ts';
import { parseConfig } from '../../worker/config.ts';
import { SECOND_STEP_SECONDS } from '../../worker/http/second-step.ts';
import { base32Decode, base32Encode, TOTP_STEP_SECONDS, totpCodeAt } from '../../worker/mfa/totp.ts';
import { servicesLoader } from '../../worker/services.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import { storeKey } from '../../worker/store/store.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { FormBrowser, startDeviceLogin } from '../fixtures/oauth-client.ts';
import {
  addAuthenticator,
  enrollAuthenticator,
  firstStep,
  makeRecoveryCodes,
  pendingIdOn,
  secondStep,
  signedIn,
  TWO_STEP,
} from '../fixtures/two-step.ts';

let app: InProcess;
const STEP = TOTP_STEP_SECONDS * 1000;

before(async () => {
  app = await startInProcess({}, Date.UTC(2026, 6, 1, 9, 0, 0));
});
after(() => app?.close());

const codeNow = (secret: Uint8Array) => totpCodeAt(secret, app.now());

/** A person with an authenticator, enrolled just now; the clock then moves a step on, so the next code is new. */
async function enrolled(email: string) {
  const person = await consolePerson(app.base, email);
  const { secret, id } = await enrollAuthenticator(person, app.now());
  app.step(STEP);
  return { person, secret, id };
}

describe('recovery codes made while two-step sign-in was off', () => {
  test('do not pass the second step once an authenticator turns it on; codes made while on survive another authenticator', async () => {
    // Someone with the first step alone, before the person turns two-step sign-in on.
    const early = await consolePerson(app.base, 'planted@attack.example');
    const planted = await makeRecoveryCodes(early);
    // The person adds an authenticator to keep exactly that someone out.
    const person = await consolePerson(app.base, 'planted@attack.example');
    const { secret } = await enrollAuthenticator(person, app.now());
    app.step(STEP);

    const intruder = new FormBrowser(app.base);
    assert.equal((await firstStep(intruder, 'planted@attack.example')).headers.get('location'), '/signin/two-step');
    for (const code of planted.slice(0, 3)) assert.equal((await secondStep(intruder, code)).status, 400, code);
    assert.equal(await signedIn(intruder), false);
    assert.doesNotMatch((await person.get(TWO_STEP)).html, /data-kind="recovery"/, 'the list shows no codes from before');

    // Codes made while it is on are the person's: adding a second authenticator keeps them.
    const kept = await makeRecoveryCodes(person);
    const second = await addAuthenticator(person);
    const id = pendingIdOn(second.html);
    const secondSecret = base32Decode(/<code id="totp-secret">([A-Z2-7]+)<\/code>/.exec(second.html)?.[1] ?? '') as Uint8Array;
    assert.equal((await person.post(`${TWO_STEP}/totp/${id}/confirm`, { code: await codeNow(secondSecret) })).status, 303);
    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'planted@attack.example');
    assert.equal((await secondStep(browser, kept[0] ?? '')).status, 303);
    assert.ok(await signedIn(browser));
    assert.ok(secret.length > 0);
  });
});

describe('a browser signed in on the first step alone before two-step sign-in was turned on', () => {
  test('cannot remove the new authenticator, add one or make codes, recent as its sign-in is; the browser that confirmed can', async () => {
    const early = await consolePerson(app.base, 'early@attack.example');
    const person = await consolePerson(app.base, 'early@attack.example');
    const { id } = await enrollAuthenticator(person, app.now());
    const before = app.store.dump()[storeKey('factors', 'early@attack.example')];
    const formId = FormBrowser.field((await early.get(TWO_STEP)).html, 'form_id');
    for (const path of [`${TWO_STEP}/${id}/remove`, `${TWO_STEP}/totp`, `${TWO_STEP}/recovery`]) {
      const answer = await early.post(path, { form_id: formId });
      assert.equal(answer.status, 200, path);
      assert.match(answer.html, /<h1>Confirm it’s you<\/h1>/, path);
    }
    assert.equal(app.store.dump()[storeKey('factors', 'early@attack.example')], before, 'nothing changed');
    // The browser that typed the authenticator's first code proved it there.
    assert.equal((await makeRecoveryCodes(person)).length, 10);
    assert.match((await person.get('/console')).html, /this browser<\/span> <span class="badge" data-two-step>/);
  });
});

describe('"confirm it’s you" and device approval with a factor', () => {
  test('the first step alone refreshes no recent sign-in; the code does', async () => {
    const { person, secret } = await enrolled('reauth@attack.example');
    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'reauth@attack.example');
    await secondStep(browser, await codeNow(secret));
    app.step(RECENT_SIGN_IN_SECONDS * 1000 + STEP);
    const page = await browser.request(TWO_STEP);
    const csrf = FormBrowser.field(page.html, 'csrf');
    const form_id = FormBrowser.field(page.html, 'form_id');

    const stale = await browser.request(`${TWO_STEP}/recovery`, { csrf, form_id });
    assert.match(stale.html, /<h1>Confirm it’s you<\/h1>/);
    const again = await browser.submitSignIn(stale.html, 'reauth@attack.example');
    assert.equal(again.status, 303);
    assert.equal(again.headers.get('location'), '/signin/two-step', 'the re-sign-in stops at the code page');
    const still = await browser.request(`${TWO_STEP}/recovery`, { csrf, form_id });
    assert.match(still.html, /<h1>Confirm it’s you<\/h1>/, 'the first step refreshed nothing');

    const proven = await secondStep(browser, await codeNow(secret));
    assert.equal(proven.status, 303);
    assert.equal(proven.headers.get('location'), TWO_STEP);
    assert.equal((await browser.request(`${TWO_STEP}/recovery`, { csrf, form_id })).status, 201);
    assert.ok(person);
  });

  test('a device code is approved only after the code: the first step alone has no sign-in to approve with', async () => {
    const { secret } = await enrolled('device@attack.example');
    const started = await startDeviceLogin(app.base);
    const browser = new FormBrowser(app.base);
    const first = await browser.signIn('device@attack.example', started.user_code);
    assert.equal(first.headers.get('location'), '/signin/two-step');
    const page = await browser.request(`/device?user_code=${started.user_code}`);
    assert.doesNotMatch(page.html, /name="decision"/, 'no consent page on the first step');
    const forced = await browser.request('/device/decision', {
      csrf: FormBrowser.field(page.html, 'csrf'),
      user_code: started.user_code,
      decision: 'approve',
    });
    assert.equal(forced.status, 403);
    const proven = await secondStep(browser, await codeNow(secret));
    assert.equal(proven.headers.get('location'), `/device?user_code=${started.user_code}`);
    assert.match((await browser.request(proven.headers.get('location') ?? '')).html, /name="decision"/);
  });
});

describe('the pending second step', () => {
  /** The cookies a browser holds, as Set-Cookie lines gathered from its answers. */
  const cookiesOf = (...answers: { headers: Headers }[]) =>
    answers
      .flatMap((answer) => answer.headers.getSetCookie())
      .map((line) => line.split(';')[0] ?? '')
      .join('; ');

  test('is used once: its cookie replayed after the sign-in signs nobody in again', async () => {
    const { secret } = await enrolled('once@attack.example');
    const browser = new FormBrowser(app.base);
    const form = await browser.request('/console');
    const first = await browser.submitSignIn(form.html, 'once@attack.example');
    const cookies = cookiesOf(form, first);
    assert.match(cookies, /lk_2fa=lk_2fa_/);
    assert.equal((await secondStep(browser, await codeNow(secret))).status, 303);
    app.step(STEP);
    const replay = await fetch(`${app.base}/signin/two-step`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: FormBrowser.field(form.html, 'csrf'), code: await codeNow(secret) }),
    });
    assert.equal(replay.status, 400);
    assert.equal(replay.headers.getSetCookie().filter((line) => line.startsWith('lk_session=')).length, 0);
  });

  test('lives 10 minutes: a right code after that is refused and not spent', async () => {
    const { secret } = await enrolled('late@attack.example');
    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'late@attack.example');
    app.step(SECOND_STEP_SECONDS * 1000);
    const code = await codeNow(secret);
    const page = await browser.request('/signin/two-step');
    assert.equal(page.status, 400);
    const post = await browser.request('/signin/two-step', {
      csrf: FormBrowser.field((await browser.request('/console')).html, 'csrf'),
      code,
    });
    assert.equal(post.status, 400);
    assert.equal(await signedIn(browser), false);
    await firstStep(browser, 'late@attack.example');
    assert.equal((await secondStep(browser, code)).status, 303, 'the code was not spent on the expired step');
  });

  test('its cookie on an https issuer: __Host- named, Secure, HttpOnly, SameSite=Lax, for 10 minutes', async () => {
    const issuer = 'https://127.0.0.1:8443';
    const config = parseConfig({ LATCHKEY_ISSUER: issuer, LATCHKEY_IDENTITY: 'dev' });
    const store = memoryStore({ now: app.now });
    const https = createApp(config, { store, now: app.now });
    const services = await servicesLoader(config, { store, now: app.now })();
    const { id, secret } = await startTotpEnrollment(services, 'secure@attack.example');
    const bytes = base32Decode(secret) as Uint8Array;
    assert.equal(await confirmTotp(services, 'secure@attack.example', id, await codeNow(bytes)), 'ok');

    const page = await https.fetch(new Request(`${issuer}/console`));
    const binding = page.headers.getSetCookie().find((line) => line.startsWith('__Host-lk_b='));
    const first = await https.fetch(
      new Request(`${issuer}/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: binding?.split(';')[0] ?? '' },
        body: new URLSearchParams({
          csrf: FormBrowser.field(await page.text(), 'csrf'),
          return_to: '/console',
          email: 'secure@attack.example',
        }),
      }),
    );
    assert.equal(first.headers.get('location'), '/signin/two-step');
    const lines = first.headers.getSetCookie();
    assert.equal(lines.filter((line) => /lk_session=/.test(line)).length, 0, 'no browser sign-in on the first step');
    const cookie = lines.find((line) => line.startsWith('__Host-lk_2fa='));
    assert.ok(cookie, lines.join(' | '));
    for (const attribute of [/;\s*HttpOnly/i, /;\s*Secure/i, /;\s*SameSite=Lax/i, /;\s*Path=\//i])
      assert.match(cookie, attribute);
    assert.doesNotMatch(cookie, /;\s*Domain=/i);
    assert.equal(Number(/Max-Age=(\d+)/i.exec(cookie)?.[1]), SECOND_STEP_SECONDS);
    assert.equal(first.headers.get('cache-control'), 'no-store');
  });

  test('an authenticator removed while a second step waits proves nothing there', async () => {
    const { person, secret, id } = await enrolled('removed@attack.example');
    const intruder = new FormBrowser(app.base);
    await firstStep(intruder, 'removed@attack.example');
    assert.equal((await person.post(`${TWO_STEP}/${id}/remove`)).status, 303);
    assert.equal((await secondStep(intruder, await codeNow(secret))).status, 400);
    assert.equal(await signedIn(intruder), false);
  });
});

describe('the wrong-code limit', () => {
  test('is the person’s, whatever the browser and the kind of code: the sixth is refused though right', async () => {
    const { person, secret } = await enrolled('limit@attack.example');
    await makeRecoveryCodes(person);
    const wrong = ['000000', 'aaaaa-bbbbb', '111111', 'ccccc-ddddd'];
    for (const code of wrong) {
      const browser = new FormBrowser(app.base);
      await firstStep(browser, 'limit@attack.example');
      assert.equal((await secondStep(browser, code)).status, 400, code);
    }
    // The fifth: a wrong first code for a new authenticator at the console.
    const added = await addAuthenticator(person);
    assert.equal((await person.post(`${TWO_STEP}/totp/${pendingIdOn(added.html)}/confirm`, { code: '222222' })).status, 400);
    assert.equal(wrong.length + 1, WRONG_CODE_LIMIT);

    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'limit@attack.example');
    const right = await secondStep(browser, await codeNow(secret));
    assert.equal(right.status, 429);
    assert.equal(await signedIn(browser), false);
  });
});

describe('secrets', () => {
  test('neither the TOTP secret nor a recovery code is stored, redirected to or shown again; their pages are not cached', async () => {
    const person = await consolePerson(app.base, 'secrets@attack.example');
    const added = await addAuthenticator(person);
    assert.equal(added.headers.get('cache-control'), 'no-store');
    const secretText = /<code id="totp-secret">([A-Z2-7]+)<\/code>/.exec(added.html)?.[1] ?? '';
    const secret = base32Decode(secretText) as Uint8Array;
    assert.equal(base32Encode(secret), secretText);
    const confirmed = await person.post(`${TWO_STEP}/totp/${pendingIdOn(added.html)}/confirm`, { code: await codeNow(secret) });
    assert.equal(confirmed.status, 303);
    const page = await person.get(TWO_STEP);
    const made = await person.post(`${TWO_STEP}/recovery`, { form_id: FormBrowser.field(page.html, 'form_id') });
    assert.equal(made.status, 201);
    assert.equal(made.headers.get('cache-control'), 'no-store');
    const codes = [...made.html.matchAll(/<li><code>([a-z2-7]{5}-[a-z2-7]{5})<\/code><\/li>/g)].map((match) => match[1] ?? '');
    assert.equal(codes.length, 10);
    app.step(STEP);

    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'secrets@attack.example');
    const code = codes[0] ?? '';
    const proven = await secondStep(browser, code);
    assert.equal(proven.status, 303);

    const dump = JSON.stringify(app.store.dump());
    const later = (await person.get(TWO_STEP)).html + (await person.get('/console')).html;
    const redirects = [confirmed, proven].map((answer) => answer.headers.get('location') ?? '').join(' ');
    for (const needle of [secretText, secretText.toLowerCase(), ...codes, ...codes.map((c) => c.replace('-', ''))]) {
      assert.ok(!dump.includes(needle), `the store holds ${needle}`);
      assert.ok(!later.includes(needle), `a later page shows ${needle}`);
      assert.ok(!redirects.includes(needle), `a redirect carries ${needle}`);
    }
  });
});
