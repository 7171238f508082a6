/**
 * An org's API keys in the console, in Chromium against the running Worker (real workerd):
 * a key made in the page and used at once with the real curl on /v1/me, revoked in the page
 * and refused; rotated with a grace period; its secret on the answering page only; the
 * whole creation by keyboard alone. Then the same routes from people who must not use them,
 * over HTTP with cookies: a member, another org's admin, an admin reaching for an owner key,
 * a project key reaching another project, another org's key id, and forged forms.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { assertAccessible, consoleAs, DESKTOP, noticeOf, open, PHONE, screenshot, submit } from '../fixtures/console.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { addMember, deviceLogin, FormBrowser } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const run = promisify(execFile);
let worker: RunningWorker;
let browser: Browser;
let base: string;
const ORG = 'keys-co';
const OTHER = 'other-keys-co';
const ADMIN = 'admin@keys.example';
const MEMBER = 'member@keys.example';
const OTHER_ADMIN = 'admin@other-keys.example';
let ownerToken: string;
let otherOwnerToken: string;

before(async () => {
  [worker, browser] = await Promise.all([startWorker(), launchChromium()]);
  base = worker.url;
  ownerToken = (await deviceLogin(base, 'owner@keys.example')).access_token;
  await ok(apiCall(base, 'POST', '/v1/orgs', ownerToken, { slug: ORG, name: 'Keys Co' }));
  for (const slug of ['web', 'api']) await ok(apiCall(base, 'POST', `/v1/orgs/${ORG}/projects`, ownerToken, { slug }));
  await addMember(base, ownerToken, ORG, ADMIN, 'admin');
  await addMember(base, ownerToken, ORG, MEMBER, 'member');
  otherOwnerToken = (await deviceLogin(base, 'owner@other-keys.example')).access_token;
  await ok(apiCall(base, 'POST', '/v1/orgs', otherOwnerToken, { slug: OTHER }));
  await addMember(base, otherOwnerToken, OTHER, OTHER_ADMIN, 'admin');
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

const keysPath = `/console/orgs/${ORG}/keys`;

/** `GET /v1/me` with the real curl, the way the new-key page tells a person to. */
async function curlMe(secret: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const { stdout } = await run('/usr/bin/curl', [
    '-sS',
    '-H',
    `Authorization: Bearer ${secret}`,
    '-w',
    '\n%{http_code}',
    `${base}/v1/me`,
  ]);
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), json: JSON.parse(stdout.slice(0, cut)) };
}

const keysOf = async (org: string, token: string) =>
  (await ok(apiCall(base, 'GET', `/v1/orgs/${org}/keys`, token))).keys as {
    id: string;
    name: string;
    project: string | null;
    role: string;
  }[];

/** Fills and posts the page's key form; returns the answer's status. */
async function createInPage(page: Page, input: { name: string; project?: string; role?: string; days?: number }) {
  await open(page, base, keysPath);
  await page.fill('#key-name', input.name);
  if (input.project) await page.selectOption('#key-project', input.project);
  if (input.role) await page.selectOption('#key-role', input.role);
  if (input.days) await page.selectOption('#key-expires', String(input.days * 86400));
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click('form[aria-labelledby=create-key] button[type=submit]'),
  ]);
  return response?.status();
}

/** The secret the page shows, checked to appear once in its HTML (not in the curl example). */
async function secretOnPage(page: Page): Promise<string> {
  const secret = (await page.textContent('.secret#new-key-secret'))?.trim() ?? '';
  assert.match(secret, /^lk_(test|live)_/);
  const markup = await page.content();
  assert.equal(markup.split(secret).length - 1, 1, 'the secret is on the page exactly once');
  assert.ok(!page.url().includes(secret), 'nor in its URL');
  assert.match((await page.textContent('#secret-warning')) ?? '', /will not be shown again/);
  assert.match((await page.textContent('pre')) ?? '', /curl -H "Authorization: Bearer \$KEY" http:\/\/127\.0\.0\.1:\d+\/v1\/me/);
  const copy = page.locator('button[data-copy=new-key-secret]');
  assert.equal(await copy.isVisible(), true, 'console.js shows the copy button');
  return secret;
}

async function assertNoSecretOn(page: Page, ...secrets: string[]) {
  const markup = await page.content();
  for (const secret of secrets) assert.ok(!markup.includes(secret), `${page.url()} shows no secret`);
}

describe('API keys in the console (Chromium)', () => {
  test('make a key, use it with curl on /v1/me, revoke it in the console, curl is refused', async () => {
    const { context, page } = await consoleAs(browser, base, ADMIN);
    try {
      await open(page, base, keysPath);
      assert.equal(await page.textContent('h1'), 'API keys');
      const values = async (selector: string) =>
        Promise.all((await page.locator(selector).all()).map((option) => option.getAttribute('value')));
      assert.deepEqual(await values('#key-role option'), ['member', 'admin'], 'an admin is offered roles up to admin, no owner');
      assert.deepEqual(await values('#key-project option'), ['', 'web', 'api']);

      assert.equal(await createInPage(page, { name: 'deploy web', project: 'web', role: 'admin', days: 30 }), 201);
      assert.equal(await page.textContent('h1'), 'Your new key');
      const secret = await secretOnPage(page);
      await assertAccessible(page);

      const me = await curlMe(secret);
      assert.equal(me.status, 200, JSON.stringify(me.json));
      assert.equal(me.json.kind, 'api_key');
      assert.equal(me.json.org, ORG);
      assert.equal(me.json.project, 'web');
      assert.equal(me.json.role, 'admin');
      const made = (await keysOf(ORG, ownerToken)).find((key) => key.name === 'deploy web');
      assert.ok(made && me.json.sub === made.id);

      // Back to the list, and a reload of it: the secret is gone for good.
      await page.click(`a[href="${keysPath}"]:has-text("Back to the keys")`);
      await page.waitForLoadState();
      await assertNoSecretOn(page, secret);
      await page.reload();
      await assertNoSecretOn(page, secret);
      await assertAccessible(page);
      const row = page.locator('tr', { hasText: made.id });
      assert.notEqual(await row.locator('td.last-used').textContent(), 'never', 'curl’s use is its last use');

      page.once('dialog', (dialog) => dialog.accept());
      await submit(page, `button[aria-label="Revoke key deploy web"]`);
      assert.match((await noticeOf(page)) ?? '', /Key revoked/);
      assert.equal(await row.locator('.badge').textContent(), 'revoked');
      assert.equal(await row.locator('button').count(), 0, 'a revoked key has no actions');
      assert.equal((await curlMe(secret)).status, 401);
    } finally {
      await context.close();
    }
  });

  test('rotate with a grace period: a new secret once; the old key works through the grace', async () => {
    const { context, page } = await consoleAs(browser, base, ADMIN);
    try {
      assert.equal(await createInPage(page, { name: 'nightly job' }), 201);
      const first = await secretOnPage(page);
      const id = ((await keysOf(ORG, ownerToken)).find((key) => key.name === 'nightly job') ?? assert.fail()).id;

      await open(page, base, keysPath);
      await page.selectOption(`#grace-${id}`, '3600');
      const [response] = await Promise.all([page.waitForNavigation(), page.click('button[aria-label="Rotate key nightly job"]')]);
      assert.equal(response?.status(), 201);
      assert.equal(await page.textContent('h1'), 'Key rotated: its new secret');
      const second = await secretOnPage(page);
      assert.notEqual(second, first);
      assert.ok(!(await page.content()).includes(first), 'the old secret is not shown again');

      assert.equal((await curlMe(first)).status, 200, 'the old key works during its hour of grace');
      const me = await curlMe(second);
      assert.equal(me.status, 200);
      assert.equal(me.json.role, 'member');
      assert.equal(me.json.project, null);

      await open(page, base, keysPath);
      await assertNoSecretOn(page, first, second);
      await page.reload();
      await assertNoSecretOn(page, first, second);
    } finally {
      await context.close();
    }
  });

  test('the new-key page at 1280 and 390 pixels wide', async () => {
    for (const [viewport, name] of [
      [DESKTOP, 'console-new-key-desktop'],
      [PHONE, 'console-new-key-phone'],
    ] as const) {
      const { context, page } = await consoleAs(browser, base, ADMIN, viewport);
      try {
        assert.equal(await createInPage(page, { name: `ci deploy (${viewport.width})`, project: 'api' }), 201);
        await secretOnPage(page);
        const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
        assert.ok(overflow <= 0, `the page fits ${viewport.width} px (overflows by ${overflow})`);
        await screenshot(page, name);
        await open(page, base, keysPath);
        const listOverflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
        assert.ok(listOverflow <= 0, `the list fits ${viewport.width} px (its table scrolls in its box)`);
      } finally {
        await context.close();
      }
    }
  });

  test('keyboard only: reach the form, fill and choose, submit, reach the copy button', async () => {
    const { context, page } = await consoleAs(browser, base, ADMIN);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const focused = async () =>
      String(
        await page.evaluate(`(() => {
          const element = document.activeElement;
          return element?.id || element?.getAttribute('data-copy') || element?.textContent?.trim() || element?.tagName || '';
        })()`),
      );
    try {
      await open(page, base, keysPath);
      await page.keyboard.press('Tab');
      assert.equal(await focused(), 'Skip to content', 'the first stop is the skip link');
      await page.keyboard.press('Enter');
      assert.equal(await focused(), 'main', 'it moves focus to the content');
      const stops: string[] = [];
      for (let i = 0; i < 10 && (await focused()) !== 'key-name'; i++) {
        await page.keyboard.press('Tab');
        stops.push(await focused());
      }
      assert.deepEqual(
        stops,
        ['Overview', 'Members', 'API keys', 'CI trust', 'SSO', 'Audit trail', 'key-name'],
        'the org tabs, then the form',
      );
      await page.keyboard.type('typed by keyboard');
      await page.keyboard.press('Tab');
      assert.equal(await focused(), 'key-project');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Tab');
      assert.equal(await focused(), 'key-role');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Shift+Tab');
      assert.equal(await focused(), 'key-project', 'Shift+Tab goes back a field');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      assert.equal(await focused(), 'key-expires');
      await page.keyboard.press('ArrowUp');
      await page.keyboard.press('Tab');
      assert.equal(await focused(), 'Create key');
      const [response] = await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
      assert.equal(response?.status(), 201);
      const secret = await secretOnPage(page);

      let presses = 0;
      while ((await focused()) !== 'new-key-secret' && presses++ < 20) await page.keyboard.press('Tab');
      assert.equal(await focused(), 'new-key-secret', 'Tab reaches the copy button');
      await page.keyboard.press('Space');
      await page.waitForFunction(`document.querySelector('button[data-copy]')?.textContent === 'Copied'`);
      assert.equal(await page.evaluate('navigator.clipboard.readText()'), secret, 'it copied the secret');

      const made = (await keysOf(ORG, ownerToken)).find((key) => key.name === 'typed by keyboard');
      assert.ok(made, 'the key was created');
      assert.equal(made.project, 'web', 'ArrowDown chose the first project');
      assert.equal(made.role, 'admin', 'and the next role');
      const me = await curlMe(secret);
      assert.equal(me.status, 200);
      assert.ok(Number(me.json.exp) - Date.now() / 1000 < 31 * 86400, 'ArrowUp chose 30 days');
    } finally {
      await context.close();
    }
  });
});

async function apiKey(org: string, token: string, body: Record<string, unknown>) {
  const created = await ok(apiCall(base, 'POST', `/v1/orgs/${org}/keys`, token, body));
  return { id: String(created.id), key: String(created.key) };
}

describe('who must not use the key pages', () => {
  test('a member (not admin): 403 on the page and on every post, and nothing changes', async () => {
    const target = await apiKey(ORG, ownerToken, { name: 'member target', role: 'member' });
    const before = (await keysOf(ORG, ownerToken)).length;
    const person = await consolePerson(base, MEMBER);
    assert.equal((await person.get(keysPath)).status, 403);
    assert.equal((await person.post(keysPath, { name: 'mine', role: 'member' })).status, 403);
    assert.equal((await person.post(`${keysPath}/${target.id}/rotate`, { grace_seconds: '0' })).status, 403);
    assert.equal((await person.post(`${keysPath}/${target.id}/revoke`)).status, 403);
    assert.equal((await keysOf(ORG, ownerToken)).length, before);
    assert.equal((await curlMe(target.key)).status, 200);
  });

  test('another org’s admin: 404 on the page and on every post', async () => {
    const target = await apiKey(ORG, ownerToken, { name: 'outsider target', role: 'member' });
    const before = (await keysOf(ORG, ownerToken)).length;
    const person = await consolePerson(base, OTHER_ADMIN);
    assert.equal((await person.get(`/console/orgs/${OTHER}/keys`)).status, 200, 'their own org’s page opens');
    assert.equal((await person.get(keysPath)).status, 404);
    assert.equal((await person.post(keysPath, { name: 'theirs', role: 'member' })).status, 404);
    assert.equal((await person.post(`${keysPath}/${target.id}/rotate`, { grace_seconds: '0' })).status, 404);
    assert.equal((await person.post(`${keysPath}/${target.id}/revoke`)).status, 404);
    assert.equal((await keysOf(ORG, ownerToken)).length, before);
    assert.equal((await curlMe(target.key)).status, 200);
  });

  test('an admin cannot make an owner key, nor rotate or revoke one', async () => {
    const owners = await apiKey(ORG, ownerToken, { name: 'owner key', role: 'owner' });
    const before = (await keysOf(ORG, ownerToken)).length;
    const person = await consolePerson(base, ADMIN);
    const page = await person.get(keysPath);
    assert.ok(!page.html.includes('<option value="owner"'), 'the owner role is not offered');
    assert.ok(!page.html.includes('aria-label="Revoke key owner key"'), 'nor a button on an owner key');
    const forged = await person.post(keysPath, { name: 'escalate', role: 'owner' });
    assert.equal(forged.status, 403);
    assert.match(forged.html, /lacks owner/);
    assert.equal((await person.post(`${keysPath}/${owners.id}/rotate`, { grace_seconds: '0' })).status, 403);
    assert.equal((await person.post(`${keysPath}/${owners.id}/revoke`)).status, 403);
    assert.equal((await keysOf(ORG, ownerToken)).length, before);
    assert.equal((await curlMe(owners.key)).status, 200);
  });

  test('a project key reaches only its project; the console’s project must be one of the org’s', async () => {
    const webAdmin = await apiKey(ORG, ownerToken, { name: 'web admin', role: 'admin', project: 'web' });
    const apiKeyOfApi = await apiKey(ORG, ownerToken, { name: 'api member', role: 'member', project: 'api' });
    const before = (await keysOf(ORG, ownerToken)).length;
    const post = (path: string, body: Record<string, unknown>) =>
      apiCall(base, 'POST', `/v1/orgs/${ORG}${path}`, webAdmin.key, body);
    assert.equal((await post('/keys', { name: 'reach', role: 'member', project: 'api' })).status, 403);
    assert.equal((await post('/keys', { name: 'reach', role: 'member' })).status, 403, 'nor the whole org');
    assert.equal((await post(`/keys/${apiKeyOfApi.id}/rotate`, { grace_seconds: 0 })).status, 403);
    assert.equal((await post(`/keys/${apiKeyOfApi.id}/revoke`, {})).status, 403);
    assert.equal((await keysOf(ORG, ownerToken)).length, before);
    assert.equal((await curlMe(apiKeyOfApi.key)).status, 200);
    const listed = (await ok(apiCall(base, 'GET', `/v1/orgs/${ORG}/keys`, webAdmin.key))).keys as { project: string | null }[];
    assert.ok(
      listed.every((key) => key.project === 'web'),
      'it lists its own project’s keys only',
    );

    const person = await consolePerson(base, ADMIN);
    assert.equal((await person.get(keysPath)).status, 200);
    assert.equal((await person.post(keysPath, { name: 'nowhere', role: 'member', project: 'nope' })).status, 404);
    assert.equal((await keysOf(ORG, ownerToken)).length, before);
  });

  test('another org’s key id from this org’s page: 404, and the key still works', async () => {
    const foreign = await apiKey(OTHER, otherOwnerToken, { name: 'foreign', role: 'member' });
    const person = await consolePerson(base, ADMIN);
    assert.equal((await person.post(`${keysPath}/${foreign.id}/rotate`, { grace_seconds: '0' })).status, 404);
    assert.equal((await person.post(`${keysPath}/${foreign.id}/revoke`)).status, 404);
    assert.equal((await curlMe(foreign.key)).status, 200);
    assert.equal((await keysOf(OTHER, otherOwnerToken)).length, 1, 'no successor was made');
    const own = await apiKey(ORG, ownerToken, { name: 'own', role: 'member' });
    const rotated = await person.post(`${keysPath}/${own.id}/rotate`, { grace_seconds: '0' });
    assert.equal(rotated.status, 201, 'the same form on this org’s own key works');
  });

  test('a missing or foreign CSRF token: 403 and no key made, rotated or revoked', async () => {
    const target = await apiKey(ORG, ownerToken, { name: 'csrf target', role: 'member' });
    const before = (await keysOf(ORG, ownerToken)).length;
    const person = await consolePerson(base, ADMIN);
    const foreign = (await consolePerson(base, ADMIN)).csrf;
    for (const token of [undefined, foreign]) {
      const csrf: Record<string, string> = token === undefined ? {} : { csrf: token };
      assert.equal((await person.browser.request(keysPath, { ...csrf, name: 'forged', role: 'member' })).status, 403);
      assert.equal(
        (await person.browser.request(`${keysPath}/${target.id}/rotate`, { ...csrf, grace_seconds: '0' })).status,
        403,
      );
      assert.equal((await person.browser.request(`${keysPath}/${target.id}/revoke`, csrf)).status, 403);
    }
    assert.equal((await keysOf(ORG, ownerToken)).length, before);
    assert.equal((await curlMe(target.key)).status, 200);
  });

  test('signed out: the page asks for a sign-in, a post is refused', async () => {
    const client = new FormBrowser(base);
    const page = await client.request(keysPath);
    assert.equal(page.status, 200);
    assert.match(page.html, /name="return_to" value="\/console\/orgs\/keys-co\/keys"/);
    const csrf = FormBrowser.field(page.html, 'csrf');
    const before = (await keysOf(ORG, ownerToken)).length;
    assert.equal((await client.request(keysPath, { csrf, name: 'anon', role: 'member' })).status, 403);
    assert.equal((await keysOf(ORG, ownerToken)).length, before);
  });
});
