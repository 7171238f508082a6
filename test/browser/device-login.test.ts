/**
 * A person's device login in headless Chromium against the running Worker (wrangler dev,
 * real workerd): open the verification link, sign in, compare the code, approve — then
 * the device redeems its code, and the token verifies offline against the JWKS.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../fixtures/chromium.ts';
import { buildCli, cleanEnv, exitOf, runCli, startCli, tempConfigDir, waitForStderr } from '../fixtures/cli-runner.ts';
import { FormBrowser, pollToken, postForm } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let browser: Browser;

before(async () => {
  [worker, browser] = await Promise.all([startWorker({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s' }), launchChromium()]);
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

async function startFromDevice(userAgent: string) {
  const { status, json } = await postForm(
    `${worker.url}/oauth/device_authorization`,
    { client_id: 'latchkey-cli' },
    { 'user-agent': userAgent },
  );
  assert.equal(status, 200);
  return json as { device_code: string; user_code: string; verification_uri_complete: string };
}

async function signIn(page: Page, email: string) {
  await page.fill('#email', email);
  await page.click('button[type=submit]');
  await page.waitForLoadState();
}

describe('device login in Chromium', () => {
  test('sign in, compare the code, approve, redeem; the token verifies offline', async () => {
    const started = await startFromDevice('latchkey-test/1.0 (chromium suite)');
    assert.equal((await pollToken(worker.url, started.device_code)).json.error, 'authorization_pending');

    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const response = await page.goto(started.verification_uri_complete);
    assert.equal(response?.status(), 200);
    await signIn(page, 'chromium@example.com');

    assert.equal(await page.textContent('h1'), 'Approve this device?');
    assert.equal(await page.textContent('#user-code'), started.user_code);
    assert.equal(await page.textContent('#client-name'), 'latchkey CLI');
    assert.equal(await page.textContent('#requester-agent'), 'latchkey-test/1.0 (chromium suite)');
    assert.equal(await page.textContent('#requester-address'), '127.0.0.1');
    const scopes = await page.textContent('#scopes');
    assert.match(scopes ?? '', /read/);
    assert.match(scopes ?? '', /write/);
    await page.screenshot({ path: '/tmp/latchkey-consent-phone.png', fullPage: true });

    await page.click('button[value=approve]');
    await page.waitForLoadState();
    assert.equal(await page.textContent('h1'), 'Device approved');
    await page.close();

    const redeemed = await pollToken(worker.url, started.device_code);
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.json));
    const jwks = createRemoteJWKSet(new URL(`${worker.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(String(redeemed.json.access_token), jwks, { issuer: worker.url, audience: worker.url });
    assert.equal(payload.email, 'chromium@example.com');
    assert.equal(payload.kind, 'user');
    assert.match(String(payload.sub), /^usr_/);
    assert.match(String(payload.sid), /^ses_/);
  });

  test('deny in the browser -> the device hears access_denied', async () => {
    const started = await startFromDevice('latchkey-test/1.0');
    const page = await browser.newPage();
    await page.goto(started.verification_uri_complete);
    await signIn(page, 'deny@example.com');
    await page.click('button[value=deny]');
    await page.waitForLoadState();
    assert.equal(await page.textContent('h1'), 'Request denied');
    await page.close();
    assert.equal((await pollToken(worker.url, started.device_code)).json.error, 'access_denied');
  });

  test('the code typed in lower case without the dash reaches the consent page', async () => {
    const started = await startFromDevice('latchkey-test/1.0');
    const page = await browser.newPage();
    await page.goto(`${worker.url}/device`);
    await signIn(page, 'typist@example.com');
    assert.equal(await page.textContent('h1'), 'Connect a device');
    await page.fill('#user_code', started.user_code.replace('-', '').toLowerCase());
    await page.click('button[type=submit]');
    await page.waitForLoadState();
    assert.equal(await page.textContent('#user-code'), started.user_code);
    await page.close();
  });

  test('pages cannot be framed, run no script, and every form carries a CSRF token', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${worker.url}/device?user_code=BCDF-GHJK`);
    const headers = response?.headers() ?? {};
    assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.doesNotMatch(headers['content-security-policy'] ?? '', /script-src/);
    assert.equal(headers['x-frame-options'], 'DENY');
    const html = await page.content();
    assert.doesNotMatch(html, /<script/i);
    const forms = await page.$$eval('form[method=post]', (nodes) =>
      nodes.map((form) => Boolean(form.querySelector('input[name=csrf]'))),
    );
    assert.ok(forms.length > 0);
    assert.ok(forms.every(Boolean));

    // A page framing the consent page gets nothing rendered in the frame.
    const framer = await browser.newPage();
    await framer.setContent(`<iframe src="${worker.url}/device"></iframe>`);
    await framer.waitForTimeout(500);
    const frame = framer.frames().find((candidate) => candidate.url().startsWith(worker.url));
    const framedText = frame ? await frame.evaluate<string>("document.body ? document.body.innerText : ''").catch(() => '') : '';
    assert.doesNotMatch(framedText, /Sign in/);
    await page.close();
    await framer.close();
  });

  test('a form posted without its CSRF token is refused', async () => {
    const page = await browser.newPage();
    await page.goto(`${worker.url}/device`);
    await page.$eval('input[name=csrf]', (input) => {
      (input as unknown as { value: string }).value = 'forged';
    });
    await signIn(page, 'csrf@example.com');
    assert.match((await page.textContent('body')) ?? '', /expired or came from another site/);
    await page.close();
  });

  test('the compiled CLI logs in while Chromium approves', async () => {
    buildCli();
    const dir = await tempConfigDir();
    const env = cleanEnv({ HOME: dir, LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: 'browser test passphrase' });
    const child = startCli(['login', '--server', worker.url, '--secret-store', 'encrypted-file'], env);
    const done = exitOf(child);
    child.stdin?.end();
    const [, url] = await waitForStderr(child, /open this URL on any device:\s+(\S+)/);
    const page = await browser.newPage();
    await page.goto(String(url));
    await signIn(page, 'cli@example.com');
    await page.click('button[value=approve]');
    await page.waitForLoadState();
    await page.close();
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    const status = await runCli(['status', '--json'], env);
    assert.equal(JSON.parse(status.stdout).email, 'cli@example.com');
  });

  test('login --browser: the compiled CLI opens "the browser" (Chromium here), which signs in and comes back', async (t) => {
    buildCli();
    const dir = await tempConfigDir();
    // The opener the CLI runs: it only records the URL; the test then drives Chromium there.
    const urlFile = join(dir, 'opened-url');
    const opener = join(dir, 'open-in-chromium.sh');
    await writeFile(opener, `#!/bin/sh\nprintf '%s' "$1" > '${urlFile}'\n`);
    await chmod(opener, 0o755);
    const env = cleanEnv({
      HOME: dir,
      LATCHKEY_CONFIG_DIR: dir,
      LATCHKEY_SECRET_PASSPHRASE: 'browser test passphrase',
      LATCHKEY_BROWSER: opener,
    });

    const child = startCli(['login', '--browser', '--server', worker.url, '--secret-store', 'encrypted-file'], env);
    const done = exitOf(child);
    child.stdin?.end();
    t.after(() => child.kill());
    await waitForStderr(child, /Waiting for the browser/);
    // The opener runs on its own, so the URL may land a moment after the CLI starts waiting.
    const opened = async (): Promise<string> => {
      for (let attempt = 0; attempt < 100; attempt++) {
        const text = await readFile(urlFile, 'utf8').catch(() => '');
        if (text) return text;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('the CLI never ran the opener');
    };
    const authorizeUrl = new URL(await opened());
    assert.equal(authorizeUrl.pathname, '/oauth/authorize');
    assert.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
    const redirect = new URL(authorizeUrl.searchParams.get('redirect_uri') ?? '');
    assert.equal(redirect.hostname, '127.0.0.1');

    // A forged answer with the wrong state is turned away, and the CLI keeps waiting.
    const forged = await fetch(`${redirect.href}?code=lk_ac_forged&state=not-the-state&iss=${encodeURIComponent(worker.url)}`);
    assert.equal(forged.status, 400);

    const page = await browser.newPage();
    await page.goto(authorizeUrl.href);
    await signIn(page, 'desktop@example.com');
    assert.equal(await page.textContent('h1'), 'Approve this sign-in?');
    assert.equal(await page.textContent('#client-name'), 'latchkey CLI');
    await page.click('button[value=approve]');
    await page.waitForLoadState();
    assert.match((await page.textContent('body')) ?? '', /You can close this tab/);
    await page.close();

    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Logged in to .* as desktop@example.com/);
    const status = await runCli(['status', '--json'], env);
    assert.equal(JSON.parse(status.stdout).email, 'desktop@example.com');
  });

  test('login falls back to the device flow when no browser can be started', async () => {
    const dir = await tempConfigDir();
    const env = cleanEnv({
      HOME: dir,
      LATCHKEY_CONFIG_DIR: dir,
      LATCHKEY_SECRET_PASSPHRASE: 'browser test passphrase',
      LATCHKEY_BROWSER: join(dir, 'no-such-browser'),
    });
    const child = startCli(['login', '--server', worker.url, '--secret-store', 'encrypted-file'], env);
    const done = exitOf(child);
    child.stdin?.end();
    const [, code] = await waitForStderr(child, /check that it shows the code\s+([A-Z]{4}-[A-Z]{4})/);
    await new FormBrowser(worker.url).decide(String(code), 'approve', 'fallback@example.com');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Could not open a browser; using the device flow instead/);
  });
});
