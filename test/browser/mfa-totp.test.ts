/**
 * Two-step sign-in (issue #22) in Chromium against the running Worker (real workerd), as a
 * person does it: from the You page, add an authenticator app (the QR code drawn under the
 * page's CSP; the secret read off the page as one would type it into an app, and codes
 * computed from it with worker/mfa/totp.ts at the real clock), confirm it, make recovery
 * codes, sign out, sign in with a code; the same code replayed is refused; a recovery code
 * works once; the sixth code in a window is refused as limited even when right.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { base32Decode, TOTP_STEP_SECONDS, totpCodeAt } from '../../worker/mfa/totp.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { assertAccessible, consoleAs, DESKTOP, noticeOf, screenshot, signInHere, submit } from '../fixtures/console.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { enrollAuthenticator } from '../fixtures/two-step.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let browser: Browser;

before(async () => {
  [worker, browser] = await Promise.all([startWorker(), launchChromium()]);
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

const NEXT_STEP = TOTP_STEP_SECONDS * 1000;

/** A fresh browser (no cookies) at the console's sign-in form, signed in as `email` through the first step. */
async function firstStepIn(email: string): Promise<Page> {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  await page.goto(`${worker.url}/console`);
  await signInHere(page, email);
  return page;
}

/** Types `code` on the second step's page; the status of the page that answers. */
async function typeCode(page: Page, code: string): Promise<number | undefined> {
  assert.equal(await page.textContent('h1'), 'Two-step sign-in');
  await page.fill('#code', code);
  const [response] = await Promise.all([page.waitForNavigation(), page.click('form[action="/signin/two-step"] button')]);
  return response?.status();
}

test('enroll from the You page, sign out, sign in with a code; replay refused; a recovery code once', async () => {
  const email = 'ada@mfa-browser.example';
  const { page } = await consoleAs(browser, worker.url, email);
  const refusedByCsp: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) refusedByCsp.push(message.text());
  });

  await submit(page, 'a[href="/console/two-step"]');
  assert.equal(await page.textContent('h1'), 'Two-step sign-in');
  assert.match((await page.textContent('#no-factors')) ?? '', /off/);
  await submit(page, 'form[action="/console/two-step/totp"] button');
  assert.equal(await page.textContent('h1'), 'Add an authenticator app');
  const qr = await page.locator('#totp-qr svg').boundingBox();
  assert.ok(qr && qr.width >= 150 && qr.height === qr.width, `the QR code is drawn square: ${JSON.stringify(qr)}`);
  const secretText = (await page.textContent('#totp-secret')) ?? '';
  assert.match(secretText, /^[A-Z2-7]{32}$/);
  const uri = (await page.textContent('#totp-uri')) ?? '';
  assert.equal(new URL(uri).searchParams.get('secret'), secretText);
  assert.equal(decodeURIComponent(new URL(uri).pathname), '/latchkey:ada@mfa-browser.example');
  await assertAccessible(page);
  await screenshot(page, 'console-two-step-enroll-1280');
  const secret = base32Decode(secretText) as Uint8Array;

  await page.fill('#code', await totpCodeAt(secret, Date.now()));
  await submit(page, 'form[action$="/confirm"] button');
  assert.match((await noticeOf(page)) ?? '', /Authenticator app added/);
  assert.match((await page.textContent('#factors-on')) ?? '', /on/);
  assert.equal(await page.locator('tr[data-kind="totp"]').count(), 1);

  await submit(page, 'form[action="/console/two-step/recovery"] button');
  const codes = await page.locator('#recovery-codes code').allTextContents();
  assert.equal(codes.length, 10);
  await submit(page, 'a[href="/console/two-step"]');
  assert.match(await page.innerText('tr[data-kind="recovery"]'), /10 of 10 left/);
  assert.deepEqual(refusedByCsp, [], 'the CSP refused something on the two-step pages');

  // Sign out, then in: the first step ends on the code page, and the console is not reached without it.
  await submit(page, 'form[action="/console/signout"] button');
  await signInHere(page, email);
  assert.equal(new URL(page.url()).pathname, '/signin/two-step');
  await assertAccessible(page);
  const code = await totpCodeAt(secret, Date.now() + NEXT_STEP);
  assert.equal(await typeCode(page, code), 200);
  assert.equal(await page.textContent('h1'), 'You');

  // The same code in another browser: refused, and that browser stays out.
  const replay = await firstStepIn(email);
  assert.equal(await typeCode(replay, code), 400);
  assert.match((await replay.textContent('[role=alert]')) ?? '', /used already/);
  assert.equal((await replay.goto(`${worker.url}/console`))?.status(), 200);
  assert.notEqual(await replay.textContent('h1'), 'You');

  // A recovery code works once.
  const lost = await firstStepIn(email);
  assert.equal(await typeCode(lost, (codes[0] ?? '').toUpperCase()), 200);
  assert.equal(await lost.textContent('h1'), 'You');
  const again = await firstStepIn(email);
  assert.equal(await typeCode(again, codes[0] ?? ''), 400);
  await lost.goto(`${worker.url}/console/two-step`);
  assert.match(await lost.innerText('tr[data-kind="recovery"]'), /9 of 10 left/);
});

test('five wrong codes, then the sixth is refused as limited though right', async (t) => {
  const email = 'slow@mfa-browser.example';
  const { secret } = await enrollAuthenticator(await consolePerson(worker.url, email), Date.now());
  const window = () => Math.floor(Date.now() / 900_000);
  const began = window();
  const page = await firstStepIn(email);
  for (let n = 0; n < 5; n++) assert.equal(await typeCode(page, String(300000 + n)), 400, `wrong code ${n + 1}`);
  const sixth = await typeCode(page, await totpCodeAt(secret, Date.now() + NEXT_STEP));
  // Counted per fixed 15-minute window: one that ended mid-test started a fresh count.
  if (window() !== began && sixth === 200) return t.skip('a 15-minute window ended during the test');
  assert.equal(sixth, 429);
  assert.match((await page.textContent('[role=alert]')) ?? '', /Too many wrong codes/);
});
