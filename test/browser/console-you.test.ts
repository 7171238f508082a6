/**
 * The console's You and Operator pages in Chromium against the running Worker (real
 * workerd): a person sees the CLI's session and this browser, revokes the session and the
 * compiled CLI's next `latchkey status` is refused; accepts and declines invitations; signs
 * another browser out. Then the same routes from the outside as an attacker would use them:
 * someone else's ids, no operator, no or a foreign CSRF token.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { buildCli, cleanEnv, cliDeviceLogin, runCli, tempConfigDir } from '../fixtures/cli-runner.ts';
import { assertAccessible, consoleAs, noticeOf, open, PHONE, screenshot, submit } from '../fixtures/console.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const OPERATOR = 'op@you.example';
let worker: RunningWorker;
let browser: Browser;

before(async () => {
  buildCli();
  [worker, browser] = await Promise.all([
    startWorker({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s', LATCHKEY_OPERATORS: OPERATOR }),
    launchChromium(),
  ]);
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

const sidOf = (accessToken: string) => String(decodeJwt(accessToken).sid);
/** Whether an access token is still accepted (its session live). */
const accepted = async (token: string) => (await apiCall(worker.url, 'GET', '/v1/orgs', token)).status === 200;

async function createOrg(token: string, slug: string) {
  await ok(apiCall(worker.url, 'POST', '/v1/orgs', token, { slug, name: `${slug} inc` }));
}
async function invite(token: string, org: string, email: string, role = 'member'): Promise<string> {
  return String((await ok(apiCall(worker.url, 'POST', `/v1/orgs/${org}/invitations`, token, { email, role }))).id);
}
async function pendingFor(token: string): Promise<string[]> {
  const list = await ok(apiCall(worker.url, 'GET', '/v1/invitations', token));
  return (list.invitations as { id: string }[]).map((invitation) => invitation.id);
}

/** A person at the console in a cookie-carrying client; `page` is their You page. */
async function consoleClient(email: string) {
  const person = await consolePerson(worker.url, email);
  assert.match(person.page, /<h1>You<\/h1>/);
  return person;
}

const rowText = (page: Page, selector: string) => page.innerText(selector).then((text) => text.replace(/\s+/g, ' '));

describe('the You page in Chromium', () => {
  test('lists the CLI’s session and this browser; revoking the session refuses the CLI’s next status', async () => {
    const dir = await tempConfigDir();
    const env = cleanEnv({ HOME: dir, LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: 'console you test' });
    const login = await cliDeviceLogin(['login', '--device', '--server', worker.url, '--secret-store', 'encrypted-file'], env, {
      server: worker.url,
      email: 'ada@you.example',
    });
    assert.equal(login.code, 0, login.stderr);
    const status = await runCli(['status', '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    const sid = JSON.parse(status.stdout).session_id as string;

    const { context, page } = await consoleAs(browser, worker.url, 'ada@you.example');
    const row = await rowText(page, `tr[data-session="${sid}"]`);
    assert.match(row, /latchkey CLI/);
    assert.ok(row.includes(hostname().slice(0, 64)), `the device name is shown: ${row}`);
    assert.match(row, /127\.0\.0\.1/);
    assert.match(row, /live/);
    const here = await rowText(page, 'tr.this-one');
    assert.match(here, /this browser/);
    // The device approval's sign-in is another browser of hers; this one is marked.
    assert.equal(await page.locator('tr[data-browser]').count(), 2);
    assert.equal(await page.locator('tr.this-one').count(), 1);
    await screenshot(page, 'console-you-1280');
    await assertAccessible(page);

    await submit(page, `form[action="/console/sessions/${sid}/revoke"] button`);
    assert.match((await noticeOf(page)) ?? '', /The session was ended/);
    assert.match(await rowText(page, `tr[data-session="${sid}"]`), /ended \(signed out\)/);
    assert.equal(await page.locator(`form[action="/console/sessions/${sid}/revoke"]`).count(), 0, 'no Revoke on an ended one');

    const refused = await runCli(['status'], env);
    assert.equal(refused.code, 3, refused.stdout);
    assert.match(refused.stderr, /the server ended the session of context "default"/);
    await context.close();
  });

  test('accept an invitation and see the org listed; decline another', async () => {
    const owner = (await deviceLogin(worker.url, 'owner@you.example')).access_token;
    await createOrg(owner, 'you-acme');
    await createOrg(owner, 'you-other');
    const accepted = await invite(owner, 'you-acme', 'bea@you.example', 'admin');
    const declined = await invite(owner, 'you-other', 'bea@you.example');

    const { context, page } = await consoleAs(browser, worker.url, 'bea@you.example', PHONE);
    assert.match(await rowText(page, `tr[data-invitation="${accepted}"]`), /you-acme inc.*admin.*owner@you\.example/);
    assert.equal(await page.locator('a[href="/console/orgs/new"]').textContent(), 'Create an org');
    await screenshot(page, 'console-you-390');
    await assertAccessible(page);

    await submit(page, `form[action="/console/invitations/${accepted}/accept"] button`);
    assert.match((await noticeOf(page)) ?? '', /Invitation accepted/);
    assert.match(await rowText(page, 'tr[data-org="you-acme"]'), /you-acme inc admin/);
    assert.equal(await page.locator('tr[data-org="you-acme"] a').getAttribute('href'), '/console/orgs/you-acme');

    await submit(page, `form[action="/console/invitations/${declined}/decline"] button`);
    assert.match((await noticeOf(page)) ?? '', /Invitation declined/);
    assert.equal(await page.locator('tr[data-invitation]').count(), 0);
    assert.equal(await page.locator('tr[data-org="you-other"]').count(), 0, 'a declined invitation makes no member');
    const bea = (await deviceLogin(worker.url, 'bea@you.example')).access_token;
    const orgs = await ok(apiCall(worker.url, 'GET', '/v1/orgs', bea));
    assert.deepEqual(orgs.orgs, [{ slug: 'you-acme', name: 'you-acme inc', role: 'admin' }]);
    await context.close();
  });

  test('signing another browser out ends its sign-in; signing out here ends this one', async () => {
    const first = await consoleAs(browser, worker.url, 'cat@you.example');
    const second = await consoleAs(browser, worker.url, 'cat@you.example');
    await first.page.reload();
    assert.equal(await first.page.locator('tr[data-browser]').count(), 2);
    const other = first.page.locator('tr[data-browser]:not(.this-one)');
    await submit(first.page, 'tr[data-browser]:not(.this-one) form button');
    assert.match((await noticeOf(first.page)) ?? '', /That browser is signed out/);
    assert.equal(await other.count(), 0);
    assert.equal(await first.page.locator('tr[data-browser]').count(), 1);

    await second.page.reload();
    assert.equal(await second.page.locator('#email').count(), 1, 'the other browser is shown the sign-in form');
    assert.notEqual(await second.page.textContent('h1'), 'You');

    await submit(first.page, 'tr.this-one form button');
    assert.equal(await first.page.locator('#email').count(), 1, 'signing out here shows the sign-in form');
    await first.context.close();
    await second.context.close();
  });

  test('an operator lists another person’s sessions by email and ends one', async () => {
    const dan = (await deviceLogin(worker.url, 'dan@you.example')).access_token;
    const owner = (await deviceLogin(worker.url, 'owner@you.example')).access_token;
    await createOrg(owner, 'you-listed');
    const { context, page } = await consoleAs(browser, worker.url, OPERATOR);
    await open(page, worker.url, '/console/operator');
    assert.equal(await page.textContent('h1'), 'Operator');
    assert.match(await rowText(page, 'tr[data-org="you-listed"]'), /you-listed inc.*owner@you\.example/);
    await page.fill('#email', 'dan@you.example');
    await submit(page, 'form[action="/console/operator"] button');
    const sid = sidOf(dan);
    assert.match(await rowText(page, `tr[data-session="${sid}"]`), /live/);
    await screenshot(page, 'console-operator-1280');
    await assertAccessible(page);
    await submit(page, `form[action="/console/operator/sessions/${sid}/revoke"] button`);
    assert.match((await noticeOf(page)) ?? '', /The session was ended/);
    assert.equal(new URL(page.url()).searchParams.get('email'), 'dan@you.example');
    assert.match(await rowText(page, `tr[data-session="${sid}"]`), /ended by an admin/);
    assert.equal(await accepted(dan), false);
    await context.close();
  });
});

describe('the You and Operator routes against an attacker', () => {
  test('another person’s session id answers as not found, and the session still works', async () => {
    const ada = (await deviceLogin(worker.url, 'ada2@you.example')).access_token;
    const eve = await consoleClient('eve@you.example');
    const answer = await eve.post(`/console/sessions/${sidOf(ada)}/revoke`);
    assert.equal(answer.status, 404);
    assert.match(answer.html, /no session/);
    assert.equal(await accepted(ada), true);
  });

  test('another person’s browser id ends nothing', async () => {
    const ada = await consoleClient('ada3@you.example');
    const id = /data-browser="(web_[\w-]+)"/.exec(ada.page)?.[1];
    assert.ok(id);
    const eve = await consoleClient('eve@you.example');
    const answer = await eve.post(`/console/browsers/${id}/end`);
    assert.equal(answer.status, 404);
    const still = await ada.get('/console');
    assert.match(still.html, /<h1>You<\/h1>/);
    assert.ok(still.html.includes(`data-browser="${id}"`));
  });

  test('a non-operator finds no operator page and cannot post to it', async () => {
    const dan = (await deviceLogin(worker.url, 'dan2@you.example')).access_token;
    const eve = await consoleClient('eve@you.example');
    assert.doesNotMatch(eve.page, /href="\/console\/operator"/);
    const page = await eve.get('/console/operator?email=dan2@you.example');
    assert.equal(page.status, 404);
    assert.match(page.html, /There is no such page/);
    assert.doesNotMatch(page.html, /dan2@you\.example/);
    const post = await eve.post(`/console/operator/sessions/${sidOf(dan)}/revoke`, {
      email: 'dan2@you.example',
    });
    assert.equal(post.status, 404);
    assert.equal(await accepted(dan), true);
  });

  test('an invitation addressed to someone else cannot be accepted or declined', async () => {
    const owner = (await deviceLogin(worker.url, 'owner@you.example')).access_token;
    await createOrg(owner, 'you-private');
    const id = await invite(owner, 'you-private', 'fay@you.example');
    const eve = await consoleClient('eve@you.example');
    for (const answer of ['accept', 'decline']) {
      const refused = await eve.post(`/console/invitations/${id}/${answer}`);
      assert.equal(refused.status, 404, answer);
    }
    const fay = (await deviceLogin(worker.url, 'fay@you.example')).access_token;
    assert.deepEqual(await pendingFor(fay), [id], 'the invitation still stands for its person');
    const eveToken = (await deviceLogin(worker.url, 'eve@you.example')).access_token;
    assert.deepEqual((await ok(apiCall(worker.url, 'GET', '/v1/orgs', eveToken))).orgs, []);
  });

  test('posts without a CSRF token or with another browser’s are refused (403) and change nothing', async () => {
    const owner = (await deviceLogin(worker.url, 'owner@you.example')).access_token;
    await createOrg(owner, 'you-csrf');
    const gus = await consoleClient('gus@you.example');
    const gusToken = (await deviceLogin(worker.url, 'gus@you.example')).access_token;
    const invitation = await invite(owner, 'you-csrf', 'gus@you.example');
    const gusBrowser = /data-browser="(web_[\w-]+)"/.exec((await gus.get('/console')).html)?.[1];
    assert.ok(gusBrowser);
    const attacker = await consoleClient('mal@you.example');
    const posts = [
      `/console/sessions/${sidOf(gusToken)}/revoke`,
      `/console/browsers/${gusBrowser}/end`,
      `/console/invitations/${invitation}/accept`,
      `/console/invitations/${invitation}/decline`,
      `/console/operator/sessions/${sidOf(gusToken)}/revoke`,
    ];
    for (const path of posts) {
      for (const csrf of [undefined, attacker.csrf, '']) {
        const answer = await gus.browser.request(path, csrf === undefined ? { email: 'x@you.example' } : { csrf });
        assert.equal(answer.status, 403, `${path} with ${csrf === undefined ? 'no' : 'a foreign'} token`);
      }
    }
    assert.equal(await accepted(gusToken), true);
    assert.deepEqual(await pendingFor(gusToken), [invitation]);
    assert.match((await gus.get('/console')).html, /<h1>You<\/h1>/);
  });
});
