/**
 * Browser login through a real upstream OpenID provider (panva's oidc-provider on
 * loopback): headless Chromium goes to latchkey's /oauth/authorize, signs in at the
 * upstream, comes back, approves, and the harness redeems the code.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../fixtures/chromium.ts';
import { postForm } from '../fixtures/oauth-client.ts';
import { startOidcUpstream, UPSTREAM_CLIENT } from '../fixtures/oidc-upstream.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let upstream: Awaited<ReturnType<typeof startOidcUpstream>>;
let browser: Browser;

before(async () => {
  const [workerPort, upstreamPort] = [await freePort(), await freePort()];
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  upstream = await startOidcUpstream(upstreamPort, workerUrl);
  [worker, browser] = await Promise.all([
    startWorker(
      {
        LATCHKEY_IDENTITY: 'oidc',
        LATCHKEY_OIDC_ISSUER: upstream.issuer,
        LATCHKEY_OIDC_CLIENT_ID: UPSTREAM_CLIENT.id,
        LATCHKEY_OIDC_CLIENT_SECRET: UPSTREAM_CLIENT.secret,
        LATCHKEY_ALLOWED_EMAIL_DOMAINS: 'example.com',
      },
      { port: workerPort },
    ),
    launchChromium(),
  ]);
});
after(async () => {
  await browser?.close();
  await worker?.stop();
  await upstream?.stop();
});

const REDIRECT = 'http://127.0.0.1:47011/callback';

async function signInThroughUpstream(login: string) {
  const verifier = randomBytes(32).toString('base64url');
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: 'latchkey-cli',
    redirect_uri: REDIRECT,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 'round-trip-me',
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  // Nothing listens on the loopback redirect; catch the navigation to it instead.
  let landed: URL | null = null;
  await page.route(`${REDIRECT}**`, async (route) => {
    landed = new URL(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>You can close this tab.</p>' });
  });
  await page.goto(`${worker.url}/oauth/authorize?${params}`);
  await page.click('#continue'); // latchkey's sign-in page -> the upstream
  await page.waitForURL(`${upstream.issuer}/**`);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'anything');
  await page.click('button[type=submit]');
  await page.waitForLoadState();
  if (page.url().startsWith(upstream.issuer)) {
    await page.click('button[type=submit]'); // the upstream's own consent ("Continue")
  }
  await page.waitForURL(`${worker.url}/**`);
  const text = (await page.textContent('body')) ?? '';
  return { page, context, text, verifier, landed: () => landed as URL | null };
}

describe('sign-in through an upstream OpenID provider', () => {
  test('Chromium signs in upstream, approves at latchkey, and the code redeems', async () => {
    const flow = await signInThroughUpstream('grace@example.com');
    assert.match(flow.text, /Approve this sign-in\?/);
    assert.match(flow.text, /grace@example.com/);
    await flow.page.click('button[value=approve]');
    await flow.page.waitForURL(`${REDIRECT}**`);
    const back = flow.landed();
    assert.ok(back, 'never came back to the loopback redirect');
    assert.equal(back.searchParams.get('state'), 'round-trip-me');
    assert.equal(back.searchParams.get('iss'), worker.url);
    await flow.context.close();

    const tokens = await postForm(`${worker.url}/oauth/token`, {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT,
      client_id: 'latchkey-cli',
      code_verifier: flow.verifier,
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
    const claims = decodeJwt(String(tokens.json.access_token));
    assert.equal(claims.email, 'grace@example.com');
    assert.match(String(claims.sub), /^usr_/);
  });

  test('an email outside LATCHKEY_ALLOWED_EMAIL_DOMAINS is refused on the page, saying why', async () => {
    const flow = await signInThroughUpstream('mallory@evil.example');
    assert.match(flow.text, /accounts at evil\.example may not sign in to this server/);
    assert.equal(flow.landed(), null);
    await flow.context.close();
  });
});
