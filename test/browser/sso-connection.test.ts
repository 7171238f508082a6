/**
 * An org's SSO connection tested in Chromium against a real OpenID provider (panva's
 * oidc-provider on loopback, its client registered with latchkey's /sso/callback): the
 * admin sets the connection over the API, enabling is refused while it is untested, the
 * test sign-in's URL is opened in Chromium, the person signs in at the provider and
 * consents, the callback page says the connection works, and then it is enabled and
 * enforced. The state is spent: the same callback in the browser again is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { apiCall } from '../fixtures/api-call.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { assertAccessible, consoleAs, noticeOf, open, screenshot, submit } from '../fixtures/console.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { startOidcUpstream } from '../fixtures/oidc-upstream.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const CLIENT = { id: 'acme-sso', secret: 'acme-sso-secret-not-shown', redirectPath: '/sso/callback' };

let worker: RunningWorker;
let idp: Awaited<ReturnType<typeof startOidcUpstream>>;
let browser: Browser;
let owner: string;

const sso = (method: string, suffix = '', body?: Record<string, unknown>) =>
  apiCall(worker.url, method, `/v1/orgs/acme/sso${suffix}`, owner, body);

before(async () => {
  const [workerPort, idpPort] = [await freePort(), await freePort()];
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  idp = await startOidcUpstream(idpPort, workerUrl, CLIENT);
  [worker, browser] = await Promise.all([startWorker({}, { port: workerPort }), launchChromium()]);
  owner = (await deviceLogin(worker.url, 'owner@acme.example')).access_token;
  assert.equal((await apiCall(worker.url, 'POST', '/v1/orgs', owner, { slug: 'acme' })).status, 201);
});
after(async () => {
  await browser?.close();
  await worker?.stop();
  await idp?.stop();
});

describe("an org's SSO connection against a real OpenID provider", () => {
  test('set, refused enabling, tested in Chromium, then enabled and enforced', async () => {
    const made = await sso('PUT', '', { issuer: idp.issuer, client_id: CLIENT.id, client_secret: CLIENT.secret });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.redirect_uri, `${worker.url}/sso/callback`);
    const early = await sso('PUT', '', { issuer: idp.issuer, client_id: CLIENT.id, enabled: true });
    assert.equal(early.status, 409, early.text);
    const enforce = await sso('PUT', '', { issuer: idp.issuer, client_id: CLIENT.id, enforced: true });
    assert.equal(enforce.json.error_description, 'Cannot enforce SSO when SSO is not enabled');

    const started = await sso('POST', '/test');
    assert.equal(started.status, 201, started.text);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(String(started.json.authorization_url));
    await page.waitForURL(`${idp.issuer}/**`);
    await page.fill('input[name=login]', 'alice@acme.example');
    await page.fill('input[name=password]', 'anything');
    await page.click('button[type=submit]');
    await page.waitForLoadState();
    if (page.url().startsWith(idp.issuer)) await page.click('button[type=submit]'); // the provider's consent
    await page.waitForURL(`${worker.url}/sso/callback**`);
    const callback = page.url();
    assert.match((await page.textContent('#sso-tested')) ?? '', /works: .* signed in\s+alice@acme\.example/);

    // The same answer again: spent.
    await page.goto(callback);
    assert.match((await page.textContent('#sso-failed')) ?? '', /expired or was already used/);
    await context.close();

    const tested = await sso('GET');
    assert.equal(typeof tested.json.tested_at, 'number', tested.text);
    assert.equal(tested.json.tested_by, 'owner@acme.example');
    const enabled = await sso('PUT', '', { issuer: idp.issuer, client_id: CLIENT.id, enabled: true });
    assert.equal(enabled.status, 200, enabled.text);
    const enforced = await sso('PUT', '', { issuer: idp.issuer, client_id: CLIENT.id, enforced: true });
    assert.equal(enforced.status, 200, enforced.text);
    assert.deepEqual([enforced.json.enabled, enforced.json.enforced], [true, true]);
    assert.equal(enforced.text.includes(CLIENT.secret), false);
  });

  test("the console's SSO page: set, test through the provider, enable, require", async () => {
    assert.equal((await apiCall(worker.url, 'POST', '/v1/orgs', owner, { slug: 'rocket' })).status, 201);
    const { context, page } = await consoleAs(browser, worker.url, 'owner@acme.example');
    await open(page, worker.url, '/console/orgs/rocket/sso');
    assert.match((await page.textContent('#sso-none')) ?? '', /no SSO connection/);
    assert.equal(await page.textContent('#sso-redirect-uri'), `${worker.url}/sso/callback`);
    await page.fill('#sso-issuer', idp.issuer);
    await page.fill('#sso-client-id', CLIENT.id);
    await page.fill('#sso-client-secret', CLIENT.secret);
    await submit(page, 'form[action="/console/orgs/rocket/sso"] button[type=submit]');
    assert.match((await noticeOf(page)) ?? '', /SSO connection saved/);
    assert.equal((await page.content()).includes(CLIENT.secret), false, 'the secret is written into the page');
    assert.equal(await page.textContent('#sso-tested-at'), 'not yet');
    assert.equal(await page.locator('button', { hasText: 'Enable SSO' }).count(), 0, 'enabling offered before a test');
    await assertAccessible(page);
    await screenshot(page, 'console-sso');

    await submit(page, 'form[action="/console/orgs/rocket/sso/test"] button');
    await Promise.all([page.waitForURL(`${idp.issuer}/**`), page.click('#sso-test-link')]);
    await page.fill('input[name=login]', 'bob@rocket.example');
    await page.fill('input[name=password]', 'anything');
    await page.click('button[type=submit]');
    await page.waitForLoadState();
    if (page.url().startsWith(idp.issuer)) await page.click('button[type=submit]');
    await page.waitForURL(`${worker.url}/sso/callback**`);
    assert.match((await page.textContent('#sso-tested')) ?? '', /bob@rocket\.example/);
    await submit(page, 'a[href="/console/orgs/rocket/sso"]');

    await submit(page, 'button:has-text("Enable SSO")');
    assert.match((await noticeOf(page)) ?? '', /SSO is enabled/);
    await submit(page, 'button:has-text("Require SSO for all members")');
    assert.match((await noticeOf(page)) ?? '', /SSO is enforced/);
    assert.equal(await page.textContent('#sso-enforced'), 'yes');
    await context.close();
  });
});
