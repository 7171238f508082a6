/**
 * Passkeys as the second step (issue #22) in Chromium against the running Worker (real
 * workerd), with Chromium's virtual authenticator (Chrome DevTools Protocol `WebAuthn`):
 * add a passkey from the You page, sign out, sign in with it (amr `hwk`), then a signature
 * from a credential that is not registered — another authenticator's, and the first one's
 * once removed — is refused and the browser stays out.
 *
 * The issuer is `http://localhost:<port>`: WebAuthn takes a domain as relying party, never
 * an IP address, and localhost is a secure context over plain http.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { launchChromium } from '../fixtures/chromium.ts';
import { assertAccessible, consoleAs, DESKTOP, noticeOf, signInHere, submit } from '../fixtures/console.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let browser: Browser;
let base: string;

before(async () => {
  const port = await freePort();
  base = `http://localhost:${port}`;
  [worker, browser] = await Promise.all([startWorker({ LATCHKEY_ISSUER: base }, { port }), launchChromium()]);
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

/** A virtual CTAP2 authenticator (a platform one with user verification, as a laptop's) in the page's browser context. */
async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

async function credentialsOf(authenticator: { cdp: CDPSession; id: string }) {
  return (await authenticator.cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator.id })).credentials;
}

/** Signs out this page's browser and runs the first step again: it must land on the second step's page. */
async function signOutAndIn(page: Page, email: string) {
  await page.goto(`${base}/console`);
  await submit(page, 'form[action="/console/signout"] button');
  await signInHere(page, email);
  assert.equal(new URL(page.url()).pathname, '/signin/two-step');
}

/** A fresh browser context at the first step for `email`, on the second step's page. */
async function firstStepIn(email: string): Promise<Page> {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  await page.goto(`${base}/console`);
  await signInHere(page, email);
  assert.equal(new URL(page.url()).pathname, '/signin/two-step');
  return page;
}

/** Clicks the passkey button on the second step's page: the status of the page that answers. */
async function usePasskey(page: Page): Promise<number | undefined> {
  const [response] = await Promise.all([page.waitForNavigation(), page.click('#passkey-button')]);
  return response?.status();
}

/**
 * Runs navigator.credentials.get on the second step's page with the page's challenge but no
 * allow-list (so the browser's authenticator may answer with any credential it holds for
 * this site, as a hostile page script could), and posts the answer as the page's script would.
 */
async function postAnyCredential(page: Page): Promise<void> {
  // A string: the test's TypeScript has no DOM types (and page.evaluate is not bound by the page's CSP).
  const sent = await page.evaluate(`(async () => {
    const form = document.querySelector('form[data-passkey]');
    if (!form) return 'no passkey form';
    const options = JSON.parse(form.dataset.options);
    const bytes = (text) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const b64 = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/[+]/g, '-').replace(/[/]/g, '_').replace(/=+$/, '');
    const credential = await navigator.credentials.get({
      publicKey: { challenge: bytes(options.challenge), rpId: options.rpId, allowCredentials: [], userVerification: 'preferred' },
    });
    const response = credential.response;
    form.elements.response.value = JSON.stringify({
      id: credential.id,
      rawId: b64(credential.rawId),
      type: 'public-key',
      response: {
        clientDataJSON: b64(response.clientDataJSON),
        authenticatorData: b64(response.authenticatorData),
        signature: b64(response.signature),
      },
      clientExtensionResults: {},
    });
    form.submit();
    return 'sent';
  })()`);
  assert.equal(sent, 'sent');
  await page.waitForURL(/\/signin\/two-step$/);
  await page.waitForLoadState();
}

/** A browser (its own context and virtual authenticator) at the second step for `email`, holding `credential` for this site. */
async function strangerHolding(email: string, credential: { credentialId: string; privateKey: string }) {
  const page = await firstStepIn(email);
  const authenticator = await virtualAuthenticator(page);
  await authenticator.cdp.send('WebAuthn.addCredential', {
    authenticatorId: authenticator.id,
    credential: {
      ...credential,
      isResidentCredential: true,
      rpId: 'localhost',
      userHandle: Buffer.from('x').toString('base64'),
      signCount: 1000,
    },
  });
  return page;
}

/** Asserts the page refused the passkey and the browser is not signed in. */
async function refused(page: Page) {
  assert.equal(new URL(page.url()).pathname, '/signin/two-step');
  assert.match((await page.textContent('[role=alert]')) ?? '', /not one of yours/);
  assert.equal((await page.goto(`${base}/console`))?.status(), 200);
  assert.notEqual(await page.textContent('h1'), 'You', 'the browser got in');
}

test('add a passkey in the console, sign out, sign in with it; unregistered and removed credentials are refused', async () => {
  const email = 'ada@passkey-browser.example';
  const { page } = await consoleAs(browser, base, email);
  const refusedByCsp: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) refusedByCsp.push(message.text());
  });
  const laptop = await virtualAuthenticator(page);

  await submit(page, 'a[href="/console/two-step"]');
  assert.match((await page.textContent('#no-factors')) ?? '', /off/);
  await submit(page, 'form[action="/console/two-step/passkey"] button');
  assert.equal(await page.textContent('h1'), 'Add a passkey or security key');
  await assertAccessible(page);
  await page.fill('#passkey-name', 'Work laptop');
  await submit(page, '#passkey-create');
  assert.match((await noticeOf(page)) ?? '', /Passkey added/);
  assert.match((await page.textContent('#factors-on')) ?? '', /on/);
  assert.match(await page.innerText('tr[data-kind="webauthn"]'), /Work laptop/);
  const [made] = await credentialsOf(laptop);
  assert.ok(made, 'the virtual authenticator holds the passkey made');

  // A second one, a security key, from the same browser (its sign-in proved the first passkey when it was made).
  await laptop.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: laptop.id });
  const key = await virtualAuthenticator(page);
  await submit(page, 'form[action="/console/two-step/passkey"] button');
  await page.fill('#passkey-name', 'Security key');
  await submit(page, '#passkey-create');
  assert.match((await noticeOf(page)) ?? '', /Passkey added/);
  assert.equal(await page.locator('tr[data-kind="webauthn"]').count(), 2);
  assert.deepEqual(refusedByCsp, [], 'the CSP refused something on the passkey pages');

  // Sign out, then in: the first step ends on the second step's page, which offers the passkey.
  await signOutAndIn(page, email);
  assert.ok(await page.isVisible('#passkey-button'), 'the passkey button is shown (the script ran under the CSP)');
  await assertAccessible(page);
  assert.equal(await usePasskey(page), 200);
  assert.equal(await page.textContent('h1'), 'You');
  assert.deepEqual(refusedByCsp, []);
  await page.goto(`${base}/console/two-step`);
  assert.match(await page.innerText('tr[data-kind="webauthn"]:has-text("Security key")'), /last used/);
  assert.equal((await credentialsOf(key)).length, 1);

  // A credential for this site that this person never registered (a key they do hold, under another id): refused.
  const forged = await strangerHolding(email, {
    credentialId: Buffer.from('never-registered-credential').toString('base64'),
    privateKey: made.privateKey,
  });
  await postAnyCredential(forged);
  await refused(forged);

  // The laptop's passkey removed: its credential, still on the laptop, no longer signs in.
  await page.goto(`${base}/console/two-step`);
  await submit(page, 'tr[data-kind="webauthn"]:has-text("Work laptop") form button');
  assert.match((await noticeOf(page)) ?? '', /removed/);
  assert.equal(await page.locator('tr[data-kind="webauthn"]').count(), 1);
  const removed = await strangerHolding(email, { credentialId: made.credentialId, privateKey: made.privateKey });
  await postAnyCredential(removed);
  await refused(removed);
});
