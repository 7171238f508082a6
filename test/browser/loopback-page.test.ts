/**
 * The page the compiled CLI's loopback listener answers the browser with at the end of
 * `latchkey login --browser`, in Chromium: the Worker's look (its own style block, allowed
 * by hash under a CSP that allows nothing else), and the server's words escaped, never run.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../fixtures/chromium.ts';
import { buildCli, cleanEnv, exitOf, startCli, tempConfigDir, waitForStderr } from '../fixtures/cli-runner.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let browser: Browser;

before(async () => {
  buildCli();
  [worker, browser] = await Promise.all([startWorker(), launchChromium()]);
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

/** Starts `latchkey login --browser` with an opener that only records the URL; returns that URL and the run. */
async function startBrowserLogin() {
  const dir = await tempConfigDir();
  const urlFile = join(dir, 'opened-url');
  const opener = join(dir, 'opener.sh');
  await writeFile(opener, `#!/bin/sh\nprintf '%s' "$1" > '${urlFile}'\n`);
  await chmod(opener, 0o755);
  const env = cleanEnv({
    HOME: dir,
    LATCHKEY_CONFIG_DIR: dir,
    LATCHKEY_SECRET_PASSPHRASE: 'loopback page test passphrase',
    LATCHKEY_BROWSER: opener,
  });
  const child = startCli(['login', '--browser', '--server', worker.url, '--secret-store', 'encrypted-file'], env);
  const done = exitOf(child);
  child.stdin?.end();
  await waitForStderr(child, /Waiting for the browser/);
  for (let attempt = 0; attempt < 100; attempt++) {
    const text = await readFile(urlFile, 'utf8').catch(() => '');
    if (text) return { authorize: new URL(text), done, child };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill();
  throw new Error('the CLI never ran the opener');
}

/** A computed style of the first element matching `selector` (evaluated as text: the tests' types carry no DOM). */
const style = (page: Page, selector: string, property: string): Promise<string> =>
  page.evaluate(
    `getComputedStyle(document.querySelector(${JSON.stringify(selector)})).getPropertyValue(${JSON.stringify(property)})`,
  );

describe('the CLI’s loopback reply page', () => {
  test('an error answer shows the server’s words escaped, in the Worker’s look, and the CLI fails', async (t) => {
    const { authorize, done, child } = await startBrowserLogin();
    t.after(() => child.kill());
    const callback = new URL(authorize.searchParams.get('redirect_uri') ?? '');
    const hostile = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>\u001b[2J';
    callback.search = new URLSearchParams({
      error: 'server_error',
      error_description: hostile,
      state: authorize.searchParams.get('state') ?? '',
      iss: worker.url,
    }).toString();
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const errors: string[] = [];
    page.on('console', (message) => errors.push(message.text()));
    const response = await page.goto(callback.href);
    assert.equal(response?.status(), 200);
    assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'none'; style-src 'sha256-/);
    assert.equal(await page.textContent('h1'), 'Sign-in not completed');
    assert.equal(await page.title(), 'Sign-in not completed · latchkey');
    assert.equal(await page.textContent('.brand'), 'latchkey');
    assert.equal(await page.locator('img, script').count(), 0, 'the server’s markup is text');
    assert.ok(((await page.textContent('.muted')) ?? '').includes('<script>document.title="pwned"</script>\\u001b[2J'));
    // The style block ran (its hash is what the CSP allows): the Worker's width and error mark.
    assert.equal(await style(page, 'main', 'max-width'), '448px');
    assert.equal(await style(page, '.error', 'border-left-width'), '4px');
    assert.ok(!errors.some((text) => /Content Security Policy/.test(text)), errors.join('\n'));
    await page.close();
    const result = await done;
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /the server refused the sign-in/);
  });

  test('a forged answer (not this login’s state) is told so in the same look', async (t) => {
    const { authorize, child } = await startBrowserLogin();
    t.after(() => child.kill());
    const callback = new URL(authorize.searchParams.get('redirect_uri') ?? '');
    callback.search = `code=lk_ac_forged&state=forged&iss=${encodeURIComponent(worker.url)}`;
    const page = await browser.newPage();
    const response = await page.goto(callback.href);
    assert.equal(response?.status(), 400);
    assert.equal(await page.textContent('h1'), 'Not this login');
    assert.equal(await style(page, '.error', 'border-left-width'), '4px');
    await page.close();
  });
});
