/**
 * Per-org single sign-on in Chromium against real OpenID providers: three instances of
 * panva's oidc-provider on loopback — the deployment's own (LATCHKEY_IDENTITY=oidc), acme's
 * and globex's (each org's connection, its client registered with /sso/callback) — and the
 * loopback DNS-over-HTTPS resolver. A domain is verified through the resolver, and refused
 * while its TXT record is absent or another org holds it. Enforcing is refused before the
 * connection works, with exactly "Cannot enforce SSO when SSO is not enabled". The sign-in
 * page leads acme.example's people to acme's provider, globex.example's to globex's, anyone
 * else to the deployment's; acme's provider cannot sign in globex's people. Just-in-time
 * membership off (a new person is no member) and on (a new person is a member with the
 * role). Enforced, the deployment's provider is refused for acme.example, naming acme.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { assertAccessible } from '../fixtures/console.ts';
import { type DohResolver, startDohResolver } from '../fixtures/doh-resolver.ts';
import { CLIENT_ID, pollToken, postForm } from '../fixtures/oauth-client.ts';
import { startOidcUpstream, UPSTREAM_CLIENT } from '../fixtures/oidc-upstream.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

type Org = 'acme' | 'globex';
const CLIENTS: Record<Org, { id: string; secret: string; redirectPath: string }> = {
  acme: { id: 'acme-sso', secret: 'acme-browser-secret-R4t8', redirectPath: '/sso/callback' },
  globex: { id: 'globex-sso', secret: 'globex-browser-secret-W2m6', redirectPath: '/sso/callback' },
};

let worker: RunningWorker;
let resolver: DohResolver;
let browser: Browser;
const idp = {} as Record<'deployment' | Org, Awaited<ReturnType<typeof startOidcUpstream>>>;
const owners: Record<Org, string> = { acme: '', globex: '' };

const api = (org: Org, method: string, suffix: string, body?: Record<string, unknown>) =>
  apiCall(worker.url, method, `/v1/orgs/${org}${suffix}`, owners[org], body);
const putSso = (org: Org, body: Record<string, unknown>) =>
  api(org, 'PUT', '/sso', { issuer: idp[org].issuer, client_id: CLIENTS[org].id, ...body });
const roleIn = async (org: Org, email: string) =>
  ((await ok(api(org, 'GET', ''))).members as { email: string; role: string }[]).find((member) => member.email === email)?.role;

/** Signs in at an oidc-provider's own pages (its development login takes any name) and consents. */
async function atProvider(page: Page, issuer: string, login: string) {
  await page.waitForURL(`${issuer}/**`);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'anything');
  await page.click('button[type=submit]');
  await page.waitForLoadState();
  if (page.url().startsWith(issuer)) await page.click('button[type=submit]'); // the provider's consent
}

/**
 * From the console's sign-in page in a fresh browser: `typed` into the email field, then
 * on to whichever provider that leads to (`expected`), signed in there as `login`.
 */
async function signIn(typed: string, expected: 'deployment' | Org, login = typed, checkPages = false) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${worker.url}/console`);
  if (checkPages) await assertAccessible(page);
  if (typed) await page.fill('#email', typed);
  await page.click('#continue');
  if (expected !== 'deployment') {
    await page.waitForSelector('#sso-continue');
    if (checkPages) await assertAccessible(page);
    assert.match((await page.textContent('#sso-realm')) ?? '', new RegExp(`the org ${expected}`));
    assert.equal(new URL((await page.getAttribute('#sso-continue', 'href')) ?? '').origin, idp[expected].issuer);
    await page.click('#sso-continue');
  }
  await atProvider(page, idp[expected].issuer, login);
  await page.waitForURL(`${worker.url}/**`);
  return { context, page, text: (await page.textContent('body')) ?? '' };
}

/** A device login approved in Chromium after signing in at the deployment's provider: an access token. */
async function deviceToken(email: string): Promise<string> {
  const started = await postForm(`${worker.url}/oauth/device_authorization`, { client_id: CLIENT_ID });
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(String(started.json.verification_uri_complete));
  await page.click('#continue');
  await atProvider(page, idp.deployment.issuer, email);
  await page.waitForURL(`${worker.url}/device**`);
  // The code is compared on its own page first (prefilled from the link), then approved.
  await page.click('form[action="/device/verify"] button[type=submit]');
  await page.click('button[value=approve]');
  await page.waitForLoadState();
  await context.close();
  const tokens = await pollToken(worker.url, String(started.json.device_code));
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  return String(tokens.json.access_token);
}

/** The connection's test sign-in, opened in Chromium and signed in at the org's provider. */
async function testConnection(org: Org, login: string) {
  const started = await ok(api(org, 'POST', '/sso/test'));
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(String(started.authorization_url));
  await atProvider(page, idp[org].issuer, login);
  await page.waitForURL(`${worker.url}/sso/callback**`);
  assert.match((await page.textContent('#sso-tested')) ?? '', /works/);
  await context.close();
}

before(async () => {
  const workerPort = await freePort();
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  resolver = await startDohResolver();
  idp.deployment = await startOidcUpstream(await freePort(), workerUrl);
  idp.acme = await startOidcUpstream(await freePort(), workerUrl, CLIENTS.acme);
  idp.globex = await startOidcUpstream(await freePort(), workerUrl, CLIENTS.globex);
  [worker, browser] = await Promise.all([
    startWorker(
      {
        LATCHKEY_IDENTITY: 'oidc',
        LATCHKEY_OIDC_ISSUER: idp.deployment.issuer,
        LATCHKEY_OIDC_CLIENT_ID: UPSTREAM_CLIENT.id,
        LATCHKEY_OIDC_CLIENT_SECRET: UPSTREAM_CLIENT.secret,
        LATCHKEY_DOH_URL: resolver.url,
      },
      { port: workerPort },
    ),
    launchChromium(),
  ]);
  owners.acme = await deviceToken('owner@acme.example');
  owners.globex = await deviceToken('owner@globex.example');
  for (const org of ['acme', 'globex'] as const) {
    assert.equal((await apiCall(worker.url, 'POST', '/v1/orgs', owners[org], { slug: org })).status, 201);
  }
});
after(async () => {
  await browser?.close();
  await worker?.stop();
  await Promise.all([resolver?.stop(), ...Object.values(idp).map((provider) => provider?.stop())]);
});

describe('per-org single sign-on against real OpenID providers', () => {
  test('a domain is verified through the loopback DoH resolver; refused while its TXT record is absent or another org holds it', async () => {
    const claimed = await ok(api('acme', 'POST', '/domains', { domain: 'acme.example' }));
    const record = claimed.record as { name: string; value: string };
    const absent = await api('acme', 'POST', '/domains/acme.example/verify');
    assert.equal(absent.status, 400, absent.text);
    assert.match(String(absent.json.error_description), /no TXT record _latchkey-challenge\.acme\.example was found/);
    resolver.set(record.name, { txt: [[record.value]] });
    assert.equal((await ok(api('acme', 'POST', '/domains/acme.example/verify'))).state, 'verified');

    // globex claims acme.example too and publishes its own value beside acme's: acme holds it.
    const theirs = await ok(api('globex', 'POST', '/domains', { domain: 'acme.example' }));
    resolver.set(record.name, { txt: [[record.value], [(theirs.record as { value: string }).value]] });
    const held = await api('globex', 'POST', '/domains/acme.example/verify');
    assert.equal(held.status, 409, held.text);
    assert.match(String(held.json.error_description), /verified by another org/);
    await ok(api('globex', 'DELETE', '/domains/acme.example'));

    const globex = await ok(api('globex', 'POST', '/domains', { domain: 'globex.example' }));
    resolver.set('_latchkey-challenge.globex.example', { txt: [[(globex.record as { value: string }).value]] });
    assert.equal((await ok(api('globex', 'POST', '/domains/globex.example/verify'))).state, 'verified');
  });

  test('enforcing is refused before the connection works; each connection tested in Chromium, then enabled', async () => {
    for (const org of ['acme', 'globex'] as const) {
      assert.equal((await putSso(org, { client_secret: CLIENTS[org].secret })).status, 201);
      const early = await putSso(org, { enforced: true });
      assert.equal(early.status, 409);
      assert.equal(early.json.error_description, 'Cannot enforce SSO when SSO is not enabled');
      // Before it is enabled, discovery leads nobody there.
      const notYet = await signIn(`someone@${org}.example`, 'deployment');
      assert.equal(new URL(notYet.page.url()).pathname, '/console');
      await notYet.context.close();
      await testConnection(org, `admin@${org}.example`);
      assert.equal((await putSso(org, { enabled: true })).status, 200);
    }
  });

  test("discovery by email domain: acme.example to acme's provider, globex.example to globex's, others to the deployment's", async () => {
    for (const [email, expected] of [
      ['ann@acme.example', 'acme'],
      ['gil@globex.example', 'globex'],
      ['zed@elsewhere.example', 'deployment'],
    ] as const) {
      // The sign-in page with its email field, and discovery's page, checked with axe once.
      const { context, page } = await signIn(email, expected, email, expected === 'acme');
      assert.equal(new URL(page.url()).pathname, '/console', `${email}: ${page.url()}`);
      assert.match((await page.textContent('body')) ?? '', new RegExp(email.replace('.', '\\.')));
      await context.close();
    }
  });

  test("acme's provider cannot sign in globex's people", async () => {
    const { context, page } = await signIn('ann@acme.example', 'acme', 'gil@globex.example');
    assert.match(
      (await page.textContent('#sso-failed')) ?? '',
      /gil@globex\.example, whose domain is not one of the org's verified domains/,
    );
    await context.close();
  });

  test('just-in-time membership: off, a new person is no member; on, they join with the role', async () => {
    const off = await signIn('carol@globex.example', 'globex');
    await off.context.close();
    assert.equal(await roleIn('globex', 'carol@globex.example'), undefined);

    assert.equal((await putSso('acme', { jit_role: 'member' })).json.jit_role, 'member');
    const on = await signIn('dave@acme.example', 'acme');
    await on.context.close();
    assert.equal(await roleIn('acme', 'dave@acme.example'), 'member');
  });

  test("enforced: the deployment's provider is refused for acme.example, naming acme; acme's own still signs in", async () => {
    assert.equal((await putSso('acme', { enforced: true })).json.enforced, true);
    const refused = await signIn('', 'deployment', 'erin@acme.example');
    assert.match(refused.text, /acme requires you to sign in through its single sign-on: enter your email on the sign-in page/);
    await refused.context.close();
    const through = await signIn('erin@acme.example', 'acme');
    assert.equal(new URL(through.page.url()).pathname, '/console');
    await through.context.close();
    // globex's people are not acme's to refuse.
    const other = await signIn('', 'deployment', 'gil@globex.example');
    assert.equal(new URL(other.page.url()).pathname, '/console');
    await other.context.close();
  });
});
