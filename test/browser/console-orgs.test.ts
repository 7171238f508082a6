/**
 * An org made and run from the console in Chromium against the running Worker (real
 * workerd): a person creates an org from the form and a project in it, invites a second
 * person, who accepts in a second browser context on their own You page and is then listed
 * as a member; the owner changes their role, resends and withdraws another invitation, and
 * removes the member. What the pages did is checked through the JSON API as well.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { assertAccessible, consoleAs, noticeOf, open, PHONE, screenshot, submit } from '../fixtures/console.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let browser: Browser;
const OWNER = 'owner@orgs.example';
const BOB = 'bob@orgs.example';
const CAROL = 'carol@orgs.example';
const ORG = 'rocket-lab';

before(async () => {
  [worker, browser] = await Promise.all([startWorker(), launchChromium()]);
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

/** The org as the JSON API shows it to its owner. */
async function orgViaApi() {
  const token = (await deviceLogin(worker.url, OWNER)).access_token;
  const org = await ok(apiCall(worker.url, 'GET', `/v1/orgs/${ORG}`, token));
  const invitations = await ok(apiCall(worker.url, 'GET', `/v1/orgs/${ORG}/invitations`, token));
  return {
    projects: org.projects as string[],
    members: Object.fromEntries((org.members as { email: string; role: string }[]).map((m) => [m.email, m.role])),
    invitations: invitations.invitations as { id: string; email: string; expires_at: number }[],
  };
}

const memberRow = (page: Page, email: string) => page.locator('tbody tr', { hasText: email });
/** The id of the pending invitation of `email`, read from its withdraw form on the members page. */
async function invitationIdOn(page: Page, email: string): Promise<string> {
  const action = await page.getAttribute(`form[action$="/withdraw"]:has(button[aria-label$="${email}"])`, 'action');
  const id = /invitations\/(inv_[A-Za-z0-9_-]+)\/withdraw$/.exec(action ?? '')?.[1];
  assert.ok(id, `a withdraw form for ${email}: ${action}`);
  return id;
}

describe('orgs, projects and members in the console', () => {
  test('create an org and a project; invite a person who accepts in another browser; change their role; remove them', async () => {
    const owner = await consoleAs(browser, worker.url, OWNER);
    const page = owner.page;
    page.on('dialog', (dialog) => dialog.accept());
    try {
      // An org from the form, reached from the You page.
      await submit(page, 'a[href="/console/orgs/new"]');
      assert.equal(await page.textContent('h1'), 'New org');
      await assertAccessible(page);
      await page.fill('#slug', ORG);
      await page.fill('#name', 'Rocket Lab');
      await submit(page, 'form[action="/console/orgs"] button[type=submit]');
      assert.equal(new URL(page.url()).pathname, `/console/orgs/${ORG}`);
      assert.match((await noticeOf(page)) ?? '', /Org created/);
      assert.equal(await page.textContent('h1'), 'Rocket Lab');
      assert.match((await page.textContent('dl')) ?? '', /Your role\s*owner/);

      // A project from the overview.
      await page.fill('#project-slug', 'web');
      await submit(page, `form[action="/console/orgs/${ORG}/projects"] button[type=submit]`);
      assert.match((await noticeOf(page)) ?? '', /Project created/);
      assert.equal(await page.textContent('main ul li code'), 'web');
      assert.deepEqual((await orgViaApi()).projects, ['web']);
      await assertAccessible(page);

      // Invite Bob as a member.
      await submit(page, `nav.tabs a[href="/console/orgs/${ORG}/members"]`);
      await page.fill('#invite-email', BOB);
      await page.selectOption('#invite-role', 'member');
      await page.selectOption('#invite-expires', String(3 * 86400));
      await submit(page, `form[action="/console/orgs/${ORG}/invitations"] button[type=submit]`);
      assert.match((await noticeOf(page)) ?? '', /Invitation created/);
      const bobInvitation = await invitationIdOn(page, BOB);

      // Bob, in his own browser, accepts on his You page.
      const bob = await consoleAs(browser, worker.url, BOB);
      try {
        await submit(bob.page, `form[action="/console/invitations/${bobInvitation}/accept"] button`);
        assert.match((await noticeOf(bob.page)) ?? '', /Invitation accepted/);
        await open(bob.page, worker.url, `/console/orgs/${ORG}`);
        assert.match((await bob.page.textContent('dl')) ?? '', /Your role\s*member/);
        assert.equal(await bob.page.$('#project-slug'), null, 'a member gets no project form');
        await assertAccessible(bob.page);
        await open(bob.page, worker.url, `/console/orgs/${ORG}/members`);
        assert.equal(await bob.page.$('select[name="role"]'), null, 'a member changes no roles');
        await assertAccessible(bob.page);
      } finally {
        await bob.context.close();
      }

      // Bob is listed; the owner makes him an admin.
      await open(page, worker.url, `/console/orgs/${ORG}/members`);
      assert.match((await memberRow(page, BOB).textContent()) ?? '', /member/);
      await memberRow(page, BOB).locator('select[name="role"]').selectOption('admin');
      await submit(page, `button[aria-label="Change role of ${BOB}"]`);
      assert.match((await noticeOf(page)) ?? '', /Role changed/);
      assert.match((await memberRow(page, BOB).locator('.badge').textContent()) ?? '', /admin/);
      assert.equal((await orgViaApi()).members[BOB], 'admin');

      // Carol's invitation: resent with a new expiry, then withdrawn.
      await page.fill('#invite-email', CAROL);
      await page.selectOption('#invite-expires', String(86400));
      await submit(page, `form[action="/console/orgs/${ORG}/invitations"] button[type=submit]`);
      const carolInvitation = await invitationIdOn(page, CAROL);
      const sent = (await orgViaApi()).invitations.find((item) => item.id === carolInvitation);
      assert.ok(sent);
      await submit(page, `button[aria-label="Resend the invitation of ${CAROL}"]`);
      assert.match((await noticeOf(page)) ?? '', /sent again/);
      const resent = (await orgViaApi()).invitations.find((item) => item.id === carolInvitation);
      assert.ok(resent && resent.expires_at > sent.expires_at + 5 * 86400, 'the same invitation, now a week from now');
      await assertAccessible(page);
      await screenshot(page, 'console-members-desktop');
      await page.setViewportSize(PHONE);
      await assertAccessible(page);
      await screenshot(page, 'console-members-phone');
      await submit(page, `button[aria-label="Withdraw the invitation of ${CAROL}"]`);
      assert.match((await noticeOf(page)) ?? '', /Invitation withdrawn/);
      assert.equal(await memberRow(page, CAROL).count(), 0);
      assert.deepEqual((await orgViaApi()).invitations, []);

      // Remove Bob.
      await submit(page, `button[aria-label="Remove ${BOB}"]`);
      assert.match((await noticeOf(page)) ?? '', /Member removed/);
      assert.equal(await memberRow(page, BOB).count(), 0);
      assert.deepEqual((await orgViaApi()).members, { [OWNER]: 'owner' });
    } finally {
      await owner.context.close();
    }
  });
});
