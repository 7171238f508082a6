/**
 * Two-step sign-in (issue #22) in process, on a stepping clock: a person enrolls an
 * authenticator app and recovery codes at the console, and from then on a browser sign-in
 * exists only after a code. Each code counts once (a replay, and the loser of two
 * submissions at once, refused), codes are good one step either side of now, the sixth
 * code in 15 minutes is refused even when right, and the attacks: a forged or stale form,
 * another person's factor, the code page without a first step, and A's first step finished
 * with B's code. A person without factors signs in in one step, as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RECENT_SIGN_IN_SECONDS } from '../../worker/accounts/web-sessions.ts';
import { TOTP_STEP_SECONDS, totpCodeAt } from '../../worker/mfa/totp.ts';
import { storeKey } from '../../worker/store/store.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { freePort } from '../fixtures/free-port.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import {
  addAuthenticator,
  enrollAuthenticator,
  firstStep,
  makeRecoveryCodes,
  pendingIdOn,
  secondStep,
  secretOn,
  signedIn,
  storedWebSessions,
  TWO_STEP,
  viaUpstream,
} from '../fixtures/two-step.ts';

let app: InProcess;
const STEP = TOTP_STEP_SECONDS * 1000;

before(async () => {
  // On a step boundary, so "one step later" is exactly STEP away.
  app = await startInProcess({}, Date.UTC(2026, 5, 1, 9, 0, 0));
});
after(() => app?.close());

const webSessions = () => storedWebSessions(app.store);

/** A person with an authenticator, enrolled just now; the clock then moves a step on, so the next code is new. */
async function enrolled(email: string) {
  const person = await consolePerson(app.base, email);
  const { secret, id } = await enrollAuthenticator(person, app.now());
  app.step(STEP);
  return { person, secret, id };
}

describe('enrolling', () => {
  test('an authenticator counts only once confirmed; a wrong first code shows the same QR code again', async () => {
    const person = await consolePerson(app.base, 'enrol@unit.example');
    const page = await person.get(TWO_STEP);
    assert.match(page.html, /id="no-factors"/);
    const added = await addAuthenticator(person);
    assert.equal(added.status, 201);
    assert.match(added.html, /<svg [^>]*class="qr"/);
    const uri = /<code id="totp-uri">([^<]+)<\/code>/.exec(added.html)?.[1]?.replace(/&amp;/g, '&') ?? '';
    assert.match(uri, /^otpauth:\/\/totp\/latchkey:enrol%40unit\.example\?secret=[A-Z2-7]{32}&issuer=latchkey&/);
    const id = pendingIdOn(added.html);
    // Pending: not listed, and signing in still takes one step.
    assert.match((await person.get(TWO_STEP)).html, /id="no-factors"/);
    const other = new FormBrowser(app.base);
    await firstStep(other, 'enrol@unit.example');
    assert.ok(await signedIn(other), 'a pending authenticator asks nothing at sign-in');

    const wrong = await person.post(`${TWO_STEP}/totp/${id}/confirm`, { code: '000000' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.html, /That code is not right/);
    assert.equal(pendingIdOn(wrong.html), id);
    assert.equal(/id="totp-secret">(\w+)</.exec(wrong.html)?.[1], /id="totp-secret">(\w+)</.exec(added.html)?.[1]);
    // The store never holds the secret in the clear.
    const secretText = /id="totp-secret">(\w+)</.exec(added.html)?.[1] ?? '';
    assert.ok(!JSON.stringify(app.store.dump()).includes(secretText));
  });

  test('a reload of the page that showed a secret or recovery codes does nothing again', async () => {
    const person = await consolePerson(app.base, 'reload@unit.example');
    const page = await person.get(TWO_STEP);
    const formId = FormBrowser.field(page.html, 'form_id');
    assert.equal((await person.post(`${TWO_STEP}/recovery`, { form_id: formId })).status, 201);
    const again = await person.post(`${TWO_STEP}/recovery`, { form_id: formId });
    assert.equal(again.status, 409);
    assert.doesNotMatch(again.html, /<li><code>/);
  });
});

describe('signing in with an authenticator', () => {
  test('the first step makes no browser sign-in; a right code does, recording amr and when', async () => {
    const { person, secret } = await enrolled('ada@unit.example');
    assert.equal((await person.post('/console/signout')).status, 303);
    const browser = person.browser;
    const first = await firstStep(browser, 'ada@unit.example', '/console/two-step');
    assert.equal(first.headers.get('location'), '/signin/two-step');
    assert.equal(await signedIn(browser), false, 'nothing but the code page after the first step');
    assert.equal((await browser.request('/console/two-step')).status, 200);
    assert.doesNotMatch((await browser.request('/console/two-step')).html, /Authenticator app<\/td>/);

    const code = await totpCodeAt(secret, app.now());
    const done = await secondStep(browser, code);
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), '/console/two-step', 'back where the sign-in began');
    assert.ok(await signedIn(browser));
    const session = webSessions().find((found) => found.email === 'ada@unit.example' && found.mfaAt !== null);
    assert.deepEqual(session?.amr, ['pwd', 'mfa', 'otp']);
    assert.equal(session?.mfaAt, app.now());
    // The You page marks the browsers signed in with a second factor (this one), not those without (the enrolling one, signed out).
    const you = (await browser.request('/console')).html;
    assert.match(you, /class="this-one"[^]*?this browser<\/span> <span class="badge" data-two-step>with a second factor/);
    assert.equal(you.match(/data-two-step/g)?.length, 1);

    // The same code again, in another sign-in within its step: refused.
    const replay = new FormBrowser(app.base);
    await firstStep(replay, 'ada@unit.example');
    const refused = await secondStep(replay, code);
    assert.equal(refused.status, 400);
    assert.match(refused.html, /not right, or it was used already/);
    assert.equal(await signedIn(replay), false);
  });

  test('a code is good one step either side of now; an older step than the last accepted is not', async () => {
    const { secret } = await enrolled('edges@unit.example');
    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'edges@unit.example');
    // The phone runs a step ahead: its code is taken.
    assert.equal((await secondStep(browser, await totpCodeAt(secret, app.now() + STEP))).status, 303);
    // Now the current step's code is older than the one accepted: refused, though within the window.
    const late = new FormBrowser(app.base);
    await firstStep(late, 'edges@unit.example');
    assert.equal((await secondStep(late, await totpCodeAt(secret, app.now()))).status, 400);
    // Three steps on: a code two steps old is out of the window, one a step behind (and after the last accepted) is in.
    app.step(3 * STEP);
    assert.equal((await secondStep(late, await totpCodeAt(secret, app.now() - 2 * STEP))).status, 400);
    assert.equal((await secondStep(late, await totpCodeAt(secret, app.now() - STEP))).status, 303);
  });

  test('two submissions of one code at once: exactly one signs in', async () => {
    const { secret } = await enrolled('race@unit.example');
    const browsers = [new FormBrowser(app.base), new FormBrowser(app.base), new FormBrowser(app.base)];
    for (const browser of browsers) await firstStep(browser, 'race@unit.example');
    const pages = await Promise.all(browsers.map((browser) => browser.request('/signin/two-step')));
    const code = await totpCodeAt(secret, app.now());
    const answers = await Promise.all(
      browsers.map((browser, i) =>
        browser.request('/signin/two-step', { csrf: FormBrowser.field(pages[i]?.html ?? '', 'csrf'), code }),
      ),
    );
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [303, 400, 400]);
  });

  test('five wrong codes, then the sixth is refused as limited even when right; the next window takes it', async () => {
    const { secret } = await enrolled('slow@unit.example');
    // Into a fresh 15-minute window, so all six fall in one.
    app.step(15 * 60_000 - (app.now() % (15 * 60_000)));
    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'slow@unit.example');
    for (let n = 0; n < 5; n++) assert.equal((await secondStep(browser, String(100000 + n))).status, 400, `wrong code ${n + 1}`);
    const right = await totpCodeAt(secret, app.now());
    const limited = await secondStep(browser, right);
    assert.equal(limited.status, 429);
    assert.match(limited.html, /Too many wrong codes/);
    assert.equal(await signedIn(browser), false);
    // Another browser gets no fresh count: the limit is on the person.
    app.step(5 * 60_000);
    const stillLimited = new FormBrowser(app.base);
    await firstStep(stillLimited, 'slow@unit.example');
    assert.equal((await secondStep(stillLimited, await totpCodeAt(secret, app.now()))).status, 429);
    // The pending first step lived 10 minutes; the next window starts a fresh count.
    app.step(10 * 60_000);
    const fresh = new FormBrowser(app.base);
    await firstStep(fresh, 'slow@unit.example');
    assert.equal((await secondStep(fresh, await totpCodeAt(secret, app.now()))).status, 303);
  });
});

describe('recovery codes', () => {
  test('alone they turn nothing on: signing in stays one step until an authenticator is confirmed', async () => {
    const person = await consolePerson(app.base, 'codes-only@unit.example');
    await makeRecoveryCodes(person);
    assert.match((await person.get(TWO_STEP)).html, /id="no-factors"[\s\S]*10 of 10 left/);
    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'codes-only@unit.example');
    assert.ok(await signedIn(browser));
  });

  test('each works once, in place of an app code; the list says how many are left; replacing ends the old ones', async () => {
    const { person } = await enrolled('lost@unit.example');
    const codes = await makeRecoveryCodes(person);
    assert.ok(!JSON.stringify(app.store.dump()).includes((codes[0] ?? '').replace('-', '')), 'stored only as hashes');
    const [first = '', second = ''] = codes;

    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'lost@unit.example');
    assert.equal((await secondStep(browser, first.toUpperCase())).status, 303);
    assert.equal(
      webSessions()
        .find((found) => found.email === 'lost@unit.example' && found.mfaAt === app.now())
        ?.amr.at(-1),
      'otp',
    );

    const again = new FormBrowser(app.base);
    await firstStep(again, 'lost@unit.example');
    assert.equal((await secondStep(again, first)).status, 400, 'a used recovery code is refused');
    assert.match((await person.get(TWO_STEP)).html, /9 of 10 left/);

    const fresh = await makeRecoveryCodes(person);
    assert.equal((await secondStep(again, second)).status, 400, 'an old code after replacing');
    assert.equal((await secondStep(again, fresh[0] ?? '')).status, 303);
  });
});

describe('attacks', () => {
  test('a form without the CSRF token, or with another browser’s, adds nothing', async () => {
    const person = await consolePerson(app.base, 'forged@unit.example');
    const stranger = await consolePerson(app.base, 'stranger@unit.example');
    for (const fields of [{}, { csrf: stranger.csrf }] as Record<string, string>[]) {
      const forged = await person.browser.request(`${TWO_STEP}/totp`, fields);
      assert.equal(forged.status, 403);
      assert.equal((await person.browser.request(`${TWO_STEP}/recovery`, fields)).status, 403);
    }
    assert.equal(app.store.dump()[storeKey('factors', 'forged@unit.example')], undefined);
  });

  test('a stale sign-in is asked to sign in again before adding or removing a factor', async () => {
    const { person, id } = await enrolled('stale@unit.example');
    // Enrolling needed a recent sign-in; this one signed in a step before it.
    app.step(RECENT_SIGN_IN_SECONDS * 1000);
    const before = app.store.dump()[storeKey('factors', 'stale@unit.example')];
    for (const path of [`${TWO_STEP}/totp`, `${TWO_STEP}/recovery`, `${TWO_STEP}/${id}/remove`]) {
      const answer = await person.post(path, { form_id: 'frm_aaaaaaaaaaaaaaaaaaaa' });
      assert.equal(answer.status, 200, path);
      assert.match(answer.html, /<h1>Confirm it’s you<\/h1>/, path);
    }
    assert.equal(app.store.dump()[storeKey('factors', 'stale@unit.example')], before, 'nothing changed');
  });

  test('another person’s factor id in a remove form answers as none and removes nothing', async () => {
    const { id } = await enrolled('victim@unit.example');
    const attacker = await consolePerson(app.base, 'attacker@unit.example');
    const answer = await attacker.post(`${TWO_STEP}/${id}/remove`);
    assert.equal(answer.status, 404);
    assert.match(app.store.dump()[storeKey('factors', 'victim@unit.example')] ?? '', new RegExp(id));
  });

  test('removing the last factor turns two-step sign-in off (no org requires it yet)', async () => {
    const { person, id } = await enrolled('remove@unit.example');
    const removed = await person.post(`${TWO_STEP}/${id}/remove`);
    assert.equal(removed.status, 303);
    assert.equal(removed.headers.get('location'), `${TWO_STEP}?notice=factor-removed`);
    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'remove@unit.example');
    assert.ok(await signedIn(browser));
  });

  test('the code page without a first step, or with another browser’s cookie, signs nobody in', async () => {
    const nobody = new FormBrowser(app.base);
    assert.equal((await nobody.request('/signin/two-step')).status, 400);
    const page = await nobody.request('/console');
    const post = await nobody.request('/signin/two-step', { csrf: FormBrowser.field(page.html, 'csrf'), code: '123456' });
    assert.equal(post.status, 400);
    assert.match(post.html, /No sign-in is waiting for a code/);

    // A's pending cookie carried to a browser of its own (another binding cookie): not A's browser.
    await enrolled('carried@unit.example');
    const a = new FormBrowser(app.base);
    const first = await firstStep(a, 'carried@unit.example');
    const cookie = first.headers
      .getSetCookie()
      .find((line) => line.startsWith('lk_2fa='))
      ?.split(';')[0];
    assert.ok(cookie);
    const elsewhere = await fetch(`${app.base}/signin/two-step`, { headers: { cookie } });
    assert.equal(elsewhere.status, 400);
  });

  test('a first step of A finished with B’s right code is refused, and B’s code stays B’s to use', async () => {
    const a = await enrolled('a@unit.example');
    const b = await enrolled('b@unit.example');
    const browser = new FormBrowser(app.base);
    await firstStep(browser, 'a@unit.example');
    const bCode = await totpCodeAt(b.secret, app.now());
    assert.equal((await secondStep(browser, bCode)).status, 400);
    assert.equal(await signedIn(browser), false);
    const bBrowser = new FormBrowser(app.base);
    await firstStep(bBrowser, 'b@unit.example');
    assert.equal((await secondStep(bBrowser, bCode)).status, 303);
    assert.equal((await secondStep(browser, await totpCodeAt(a.secret, app.now()))).status, 303);
  });
});

test('a person without factors signs in in one step, as before', async () => {
  const browser = new FormBrowser(app.base);
  const answer = await firstStep(browser, 'plain@unit.example');
  assert.equal(answer.headers.get('location'), '/console');
  assert.ok(await signedIn(browser));
  assert.deepEqual(webSessions().find((found) => found.email === 'plain@unit.example')?.amr, ['pwd']);
});

test('through an upstream OpenID provider: the callback stops at the code page too, and the provider’s untrusted amr is not kept', async () => {
  const upstream = await startFakeOidc(await freePort(), 'latchkey');
  // The fake provider signs its ID tokens at the real time, so this app's clock starts there.
  const oidc = await startInProcess(
    { LATCHKEY_IDENTITY: 'oidc', LATCHKEY_OIDC_ISSUER: upstream.issuer, LATCHKEY_OIDC_CLIENT_ID: 'latchkey' },
    Date.now(),
  );
  try {
    upstream.setClaims({ idToken: { email: 'up@unit.example', email_verified: true, amr: ['pwd', 'hwk'] } });
    const first = new FormBrowser(oidc.base);
    assert.equal((await viaUpstream(first)).headers.get('location'), '/console');
    const page = await first.request('/console/two-step');
    const added = await first.request('/console/two-step/totp', {
      csrf: FormBrowser.field(page.html, 'csrf'),
      form_id: FormBrowser.field(page.html, 'form_id'),
    });
    const secret = secretOn(added.html);
    const confirm = { csrf: FormBrowser.field(page.html, 'csrf'), code: await totpCodeAt(secret, oidc.now()) };
    assert.equal((await first.request(`/console/two-step/totp/${pendingIdOn(added.html)}/confirm`, confirm)).status, 303);
    oidc.step(STEP);

    const browser = new FormBrowser(oidc.base);
    const callback = await viaUpstream(browser);
    assert.equal(callback.headers.get('location'), '/signin/two-step');
    assert.equal(await signedIn(browser), false);
    assert.equal((await secondStep(browser, await totpCodeAt(secret, oidc.now()))).status, 303);
    assert.ok(await signedIn(browser));
    const sessions = storedWebSessions(oidc.store);
    // The first browser typed the authenticator's first code, so it proved the factor too.
    assert.deepEqual(
      sessions.map((session) => [session.amr, session.mfaAt !== null]),
      [
        [['pwd', 'mfa', 'otp'], true],
        [['pwd', 'mfa', 'otp'], true],
      ],
    );
  } finally {
    oidc.close();
    await upstream.stop();
  }
});
