/**
 * An org admin reads the audit trail in the console (Chromium against the running Worker):
 * what was done through the API is there, newest first; the filter by action and actor and
 * the pages work as links and a GET form; and the chain the page verifies ends at the head
 * the JSON API's entries end with, which `latchkey audit verify --expect-head` accepts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { BINARY, buildCli, cleanEnv, runCli, tempConfigDir } from '../fixtures/cli-runner.ts';
import { assertAccessible, consoleAs, open, PHONE, screenshot, submit } from '../fixtures/console.ts';
import { addMember, deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let browser: Browser;
let owner: string;
const ORG = 'audited';
const OWNER = 'owner@audit.example';
const ADMIN = 'admin@audit.example';

type Entry = { seq: number; action: string; actor: string; subject: string; hash: string };

/** The whole trail through the JSON API, a page of 200 at a time, as `latchkey audit verify` reads it. */
async function apiTrail(): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (let after: number | null = 0; after !== null; ) {
    const page = await ok(apiCall(worker.url, 'GET', `/v1/orgs/${ORG}/audit?after=${after}&limit=200`, owner));
    entries.push(...(page.entries as Entry[]));
    after = page.next_after as number | null;
  }
  return entries;
}

const rowSeqs = (page: Page) =>
  page.$$eval('#audit-rows tbody tr', (rows) => rows.map((row) => Number(row.getAttribute('data-seq'))));
const column = (page: Page, index: number) =>
  page.$$eval('#audit-rows tbody tr', (rows, at) => rows.map((row) => row.children[at]?.textContent ?? ''), index);

before(async () => {
  [worker, browser] = await Promise.all([startWorker(), launchChromium()]);
  if (!existsSync(BINARY)) buildCli();
  owner = (await deviceLogin(worker.url, OWNER)).access_token;
  await ok(apiCall(worker.url, 'POST', '/v1/orgs', owner, { slug: ORG }));
  for (const slug of ['web', 'api', 'docs', 'mobile']) {
    await ok(apiCall(worker.url, 'POST', `/v1/orgs/${ORG}/projects`, owner, { slug }));
  }
  const admin = await addMember(worker.url, owner, ORG, ADMIN, 'admin');
  await ok(apiCall(worker.url, 'POST', `/v1/orgs/${ORG}/keys`, admin, { name: 'deploy', role: 'member' }));
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

describe('the audit trail in the console', () => {
  test('what was done through the API is on the page, newest first, and the chain verified', async () => {
    const { context, page } = await consoleAs(browser, worker.url, ADMIN);
    try {
      await open(page, worker.url, `/console/orgs/${ORG}/audit`);
      const trail = await apiTrail();
      assert.deepEqual(await rowSeqs(page), trail.map((entry) => entry.seq).reverse());
      const actions = await column(page, 2);
      for (const action of ['org.created', 'project.created', 'invitation.created', 'invitation.accepted', 'key.created']) {
        assert.ok(actions.includes(action), `${action} in ${actions}`);
      }
      assert.equal(await page.getAttribute('[aria-current="page"][href$="/audit"]', 'href'), `/console/orgs/${ORG}/audit`);
      const overflow = await page.$eval('.table-wrap', (wrap) => wrap.scrollWidth - wrap.clientWidth);
      assert.ok(overflow <= 0, `at 1280 px the table fits its column (${overflow} px over)`);
      await assertAccessible(page);
      await screenshot(page, 'console-audit-desktop');
    } finally {
      await context.close();
    }
  });

  test('verify the audit chain: the head on the page is the JSON API’s last hash, and the CLI accepts it', async () => {
    const { context, page } = await consoleAs(browser, worker.url, OWNER);
    try {
      await open(page, worker.url, `/console/orgs/${ORG}/audit?action=key.created`);
      const trail = await apiTrail();
      const last = trail.at(-1) as Entry;
      const verdict = (await page.textContent('[role="status"]')) ?? '';
      assert.match(verdict, new RegExp(`Chain verified: ${trail.length} entries`), 'the whole chain, not the filtered rows');
      assert.equal(await page.textContent('#audit-head'), last.hash);
      const command = ((await page.textContent('#audit-expect-head')) ?? '').trim();
      assert.equal(command, `latchkey audit verify --org ${ORG} --expect-head ${last.seq}:${last.hash}`);

      const dir = await tempConfigDir();
      const env = cleanEnv({ HOME: dir, LATCHKEY_CONFIG_DIR: dir, LATCHKEY_TOKEN: owner, LATCHKEY_SERVER: worker.url });
      const verified = await runCli([...command.split(' ').slice(1), '--json'], env);
      assert.equal(verified.code, 0, verified.stderr);
      assert.deepEqual(JSON.parse(verified.stdout).head, { seq: last.seq, hash: last.hash });
    } finally {
      await context.close();
    }
  });

  test('filter by action with the select, by actor with the text field; pages of `limit` with older and newer links', async () => {
    const { context, page } = await consoleAs(browser, worker.url, OWNER);
    try {
      await open(page, worker.url, `/console/orgs/${ORG}/audit`);
      const trail = await apiTrail();

      await page.selectOption('#audit-action', 'project.created');
      await submit(page, 'form.filter button[type=submit]');
      assert.match(page.url(), /action=project\.created/);
      const projects = trail.filter((entry) => entry.action === 'project.created');
      assert.deepEqual(await rowSeqs(page), projects.map((entry) => entry.seq).reverse());
      assert.deepEqual(new Set(await column(page, 2)), new Set(['project.created']));

      await page.selectOption('#audit-action', '');
      await page.fill('#audit-actor', 'admin@');
      await submit(page, 'form.filter button[type=submit]');
      const byAdmin = trail.filter((entry) => entry.actor.includes('admin@'));
      assert.ok(byAdmin.length >= 2, 'the admin accepted an invitation and made a key');
      assert.deepEqual(await rowSeqs(page), byAdmin.map((entry) => entry.seq).reverse());
      assert.equal(await page.inputValue('#audit-actor'), 'admin@', 'the form keeps the filter');

      await page.fill('#audit-actor', '');
      await page.fill('#audit-limit', '3');
      await submit(page, 'form.filter button[type=submit]');
      const newest = trail.map((entry) => entry.seq).reverse();
      assert.deepEqual(await rowSeqs(page), newest.slice(0, 3));
      assert.equal(await page.$('#audit-newer'), null, 'nothing newer than the newest');
      await submit(page, '#audit-older');
      assert.deepEqual(await rowSeqs(page), newest.slice(3, 6));
      await submit(page, '#audit-older');
      assert.deepEqual(await rowSeqs(page), newest.slice(6, 9));
      await submit(page, '#audit-newer');
      assert.deepEqual(await rowSeqs(page), newest.slice(3, 6));
      await submit(page, '#audit-newest');
      assert.deepEqual(await rowSeqs(page), newest.slice(0, 3));
    } finally {
      await context.close();
    }
  });

  test('a member who is not an admin is refused with the console’s 403 page', async () => {
    await addMember(worker.url, owner, ORG, 'member@audit.example', 'member');
    const { context, page } = await consoleAs(browser, worker.url, 'member@audit.example');
    try {
      const response = await page.goto(`${worker.url}/console/orgs/${ORG}/audit`);
      assert.equal(response?.status(), 403);
      assert.match((await page.textContent('[role="alert"]')) ?? '', /audit:read/);
      assert.equal(await page.$('#audit-rows'), null);
    } finally {
      await context.close();
    }
  });

  test('on a phone (390 px) the page reads without the page itself scrolling sideways', async () => {
    const { context, page } = await consoleAs(browser, worker.url, OWNER, PHONE);
    try {
      await open(page, worker.url, `/console/orgs/${ORG}/audit?limit=8`);
      const width = Number(await page.evaluate('document.documentElement.scrollWidth'));
      assert.ok(width <= PHONE.width, `the page is ${width} px wide`);
      await assertAccessible(page);
      await screenshot(page, 'console-audit-phone');
    } finally {
      await context.close();
    }
  });
});
