/**
 * An org's CI trust policies in Chromium against the running Worker (real workerd), a
 * fake GitHub-shaped CI issuer trusted with `repository_owner_id` as its owner id claim
 * (as an operator declares GitHub Enterprise Server): an admin creates a GitHub Actions
 * policy from the form, dry-runs one token that matches (every condition passes, the
 * decision is allowed) and one of a re-created repository (its repository_id fails, and the
 * page says so), creates another policy from JSON, and deletes it. The pasted token is in
 * no page the console sends back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { apiCall } from '../fixtures/api-call.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { GITHUB } from '../fixtures/ci-claims.ts';
import { assertAccessible, consoleAs, noticeOf, open, PHONE, screenshot, submit } from '../fixtures/console.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let github: FakeCiIssuer;
let worker: RunningWorker;
let browser: Browser;
let page: Page;

const POLICIES = '/console/orgs/acme/policies';

before(async () => {
  github = await startFakeCiIssuer();
  [worker, browser] = await Promise.all([
    startWorker({ LATCHKEY_CI_ISSUERS: `${github.issuer}=repository_owner_id` }),
    launchChromium(),
  ]);
  const owner = (await deviceLogin(worker.url, 'owner@example.com')).access_token;
  assert.equal((await apiCall(worker.url, 'POST', '/v1/orgs', owner, { slug: 'acme' })).status, 201);
  for (const slug of ['web', 'docs']) {
    assert.equal((await apiCall(worker.url, 'POST', '/v1/orgs/acme/projects', owner, { slug })).status, 201);
  }
  ({ page } = await consoleAs(browser, worker.url, 'owner@example.com'));
});
after(async () => {
  await browser?.close();
  await worker?.stop();
  await github?.stop();
});

/** Pastes a token into the dry-run form and returns the result page's HTML. */
async function dryRun(token: string): Promise<string> {
  await open(page, worker.url, `${POLICIES}/dry-run`);
  await page.fill('#f-subject_token', token);
  await page.selectOption('#f-audience', 'web');
  await submit(page, 'form[action$="/dry-run"] button[type=submit]');
  const html = await page.content();
  assert.ok(!html.includes(token), 'the pasted token is nowhere in the result page');
  assert.ok(!page.url().includes(token.slice(0, 40)), 'nor in its URL');
  assert.equal(await page.inputValue('#f-subject_token'), '', 'the textarea comes back empty');
  return html;
}

const conditionRows = (html: string) =>
  [...html.matchAll(/<tr class="condition" data-claim="([^"]+)">(.*?)<\/tr>/gs)].map(([, claim, row]) => ({
    claim: claim as string,
    pass: /class="pass">✓ pass/.test(row ?? ''),
    fail: /class="fail">✗ fail/.test(row ?? ''),
  }));

describe('CI trust policies in the console', () => {
  test('create a GitHub Actions policy from the form; a matching token passes every condition', async () => {
    await open(page, worker.url, POLICIES);
    assert.equal(await page.textContent('#no-policies').then((text) => Boolean(text)), true);
    await submit(page, 'a[href$="/policies/new?preset=github"]');
    assert.equal(await page.textContent('h1'), 'New GitHub Actions policy');
    assert.match((await page.textContent('main')) ?? '', /new id/, 'the page says why the ids are pinned');
    await assertAccessible(page);

    // A first try without the repository id: refused with the reason, nothing typed lost.
    await page.fill('#f-id', 'octo-main');
    await page.fill('#f-description', 'deploys from main');
    await page.fill('#f-repository', 'octo-org/octo-repo');
    await page.fill('#f-repository_owner_id', '65');
    await page.fill('#f-ref', 'refs/heads/main');
    await page.fill('#f-issuer', github.issuer);
    await page.selectOption('#f-project', 'web');
    await page.selectOption('#f-scope', 'read write');
    await submit(page, 'form[action$="/policies"] button[type=submit]');
    assert.match((await page.textContent('#form-error')) ?? '', /give repository_id/);
    await assertAccessible(page);
    assert.equal(await page.inputValue('#f-ref'), 'refs/heads/main');
    assert.equal(await page.inputValue('#f-issuer'), github.issuer);
    assert.equal(await page.inputValue('#f-scope'), 'read write');

    await page.fill('#f-repository_id', '74');
    await submit(page, 'form[action$="/policies"] button[type=submit]');
    assert.equal(await noticeOf(page), 'Trust policy created.');
    const row = (await page.textContent('#policy-octo-main')) ?? '';
    for (const part of [
      'deploys from main',
      'repository_id',
      '74',
      'repository_owner_id',
      '65',
      'refs/heads/main',
      'web',
      'read write',
    ]) {
      assert.ok(row.includes(part), `the row shows ${part}: ${row}`);
    }

    const token = await github.sign(GITHUB.branchPush, { audience: `${worker.url}/orgs/acme` });
    const html = await dryRun(token);
    assert.match((await page.textContent('#decision')) ?? '', /Decision: allowed.*octo-main.*web/s);
    const rows = conditionRows(html);
    assert.deepEqual(
      rows.map((one) => one.claim),
      ['aud', 'repository', 'repository_owner_id', 'repository_id', 'ref'],
    );
    assert.ok(
      rows.every((one) => one.pass && !one.fail),
      JSON.stringify(rows),
    );
    assert.equal(
      await page.textContent('#claims tr:has(code:text-is("repository_id")) td'),
      '74',
      'the verified claims are shown',
    );
    await assertAccessible(page);
    await screenshot(page, 'console-policies-desktop');
  });

  test('a token of a re-created repository (another repository_id) fails that condition, and the page says which', async () => {
    const token = await github.sign(GITHUB.recreatedRepository, { audience: `${worker.url}/orgs/acme` });
    const html = await dryRun(token);
    assert.match((await page.textContent('#decision')) ?? '', /Decision: refused/);
    const rows = conditionRows(html);
    assert.deepEqual(
      rows.filter((one) => one.fail).map((one) => one.claim),
      ['repository_id'],
    );
    assert.ok(rows.filter((one) => one.claim !== 'repository_id').every((one) => one.pass));
    assert.match((await page.textContent('#result-octo-main .failed-conditions')) ?? '', /repository_id/);
    assert.match((await page.textContent('#result-octo-main tr[data-claim="repository_id"]')) ?? '', /74.*9001.*fail/s);
  });

  test('create from JSON, then delete it', async () => {
    await open(page, worker.url, `${POLICIES}/new?preset=gitlab`);
    assert.equal(await page.textContent('h1'), 'New GitLab policy');
    assert.match((await page.textContent('main')) ?? '', /namespace_id.*project_id/s);
    await assertAccessible(page);
    await open(page, worker.url, `${POLICIES}/new?preset=json`);
    await assertAccessible(page);
    const policy = {
      preset: 'github-actions',
      id: 'octo-tags',
      issuer: github.issuer,
      repository: 'octo-org/octo-repo',
      repository_owner_id: '65',
      repository_id: '74',
      ref: 'refs/tags/*',
      grant: { project: 'docs', scopes: ['read'] },
    };
    await page.fill('#f-policy', JSON.stringify(policy, null, 2));
    await submit(page, 'form[action$="/policies"] button[type=submit]');
    assert.equal(await noticeOf(page), 'Trust policy created.');
    assert.match((await page.textContent('#policy-octo-tags')) ?? '', /refs\/tags\/\*.*docs/s);
    await assertAccessible(page);

    page.once('dialog', (dialog) => void dialog.accept());
    await submit(page, 'button[aria-label="Delete trust policy octo-tags"]');
    assert.equal(await noticeOf(page), 'Trust policy deleted.');
    assert.equal(await page.$('#policy-octo-tags'), null);
    assert.ok(await page.$('#policy-octo-main'));
  });

  test('the dry-run page on a phone', async () => {
    const { context, page: small } = await consoleAs(browser, worker.url, 'owner@example.com', PHONE);
    const token = await github.sign(GITHUB.recreatedRepository, { audience: `${worker.url}/orgs/acme` });
    await open(small, worker.url, `${POLICIES}/dry-run`);
    await small.fill('#f-subject_token', token);
    await submit(small, 'form[action$="/dry-run"] button[type=submit]');
    const width = Number(await small.evaluate('document.documentElement.scrollWidth'));
    assert.ok(width <= PHONE.width, `no sideways scrolling of the page: ${width}`);
    await assertAccessible(small);
    await screenshot(small, 'console-policies-phone');
    await context.close();
  });
});
