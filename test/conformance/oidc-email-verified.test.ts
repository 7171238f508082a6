/**
 * An upstream OpenID provider that does not say an address is verified must not sign
 * anyone in as that address: only `email_verified: true` (a boolean) counts, unless the
 * operator sets LATCHKEY_OIDC_EMAILS_VERIFIED=true for a provider that verifies every
 * address it issues. An attacker who can register an unverified address at the provider
 * (or a provider that leaves the claim out) would otherwise become that person here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Claims, startFakeOidc } from '../fixtures/fake-oidc.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const VICTIM = 'ceo@example.com';
let upstream: Awaited<ReturnType<typeof startFakeOidc>>;
let strict: RunningWorker;
let trusting: RunningWorker;

before(async () => {
  upstream = await startFakeOidc(await freePort(), 'latchkey');
  const vars = { LATCHKEY_IDENTITY: 'oidc', LATCHKEY_OIDC_ISSUER: upstream.issuer, LATCHKEY_OIDC_CLIENT_ID: 'latchkey' };
  strict = await startWorker(vars);
  trusting = await startWorker({ ...vars, LATCHKEY_OIDC_EMAILS_VERIFIED: 'true' });
});
after(async () => {
  await strict?.stop();
  await trusting?.stop();
  await upstream?.stop();
});

/** One whole sign-in at `worker` with the upstream saying `claims`; the callback's answer. */
async function signIn(worker: RunningWorker, claims: Claims) {
  upstream.setClaims(claims);
  const browser = new FormBrowser(worker.url);
  const page = await browser.request('/device');
  const posted = await browser.request('/signin', { csrf: FormBrowser.field(page.html, 'csrf'), return_to: '/device' });
  assert.equal(posted.status, 303, posted.html);
  const answered = await browser.request(posted.headers.get('location') ?? '');
  const done = await browser.request(answered.headers.get('location') ?? '');
  const signedIn = /lk_session/.test(done.headers.get('set-cookie') ?? '');
  return { ...done, signedIn, device: signedIn ? await browser.request('/device') : null };
}

function assertRefused(result: Awaited<ReturnType<typeof signIn>>, reason: RegExp) {
  assert.ok(result.status >= 400 && result.status < 500, `status ${result.status}: ${result.html}`);
  assert.equal(result.signedIn, false, 'no session may be started');
  assert.match(result.html, reason);
}

describe('OIDC email_verified: only a boolean true signs in as the address', () => {
  test('email_verified true signs the person in', async () => {
    const result = await signIn(strict, { idToken: { email: VICTIM, email_verified: true } });
    assert.equal(result.status, 303, result.html);
    assert.equal(result.signedIn, true);
    assert.match(result.device?.html ?? '', /ceo@example\.com/);
  });

  test('refused: email_verified missing', async () => {
    assertRefused(
      await signIn(strict, { idToken: { email: VICTIM } }),
      /did not vouch for an email address \(it did not send email_verified\)/,
    );
  });

  test('refused: email_verified is the string "false"', async () => {
    assertRefused(
      await signIn(strict, { idToken: { email: VICTIM, email_verified: 'false' } }),
      /did not vouch for an email address \(email_verified is &quot;false&quot;; only true counts\)/,
    );
  });

  test('refused: email_verified is the string "true" (not a boolean either)', async () => {
    assertRefused(await signIn(strict, { idToken: { email: VICTIM, email_verified: 'true' } }), /only true counts/);
  });

  test('refused: email_verified false', async () => {
    assertRefused(await signIn(strict, { idToken: { email: VICTIM, email_verified: false } }), /email_verified is false/);
  });

  test('refused: the address only at userinfo, without email_verified there', async () => {
    assertRefused(
      await signIn(strict, { idToken: {}, userinfo: { email: VICTIM } }),
      /did not vouch for an email address \(it did not send email_verified\)/,
    );
  });

  test('the address at userinfo with email_verified true signs in', async () => {
    const result = await signIn(strict, { idToken: {}, userinfo: { email: VICTIM, email_verified: true } });
    assert.equal(result.signedIn, true, result.html);
  });
});

describe('LATCHKEY_OIDC_EMAILS_VERIFIED=true: the operator vouches for a provider that leaves the claim out', () => {
  test('email_verified missing signs in', async () => {
    const result = await signIn(trusting, { idToken: { email: VICTIM } });
    assert.equal(result.status, 303, result.html);
    assert.equal(result.signedIn, true);
  });

  test('still refused: email_verified false, or the string "false"', async () => {
    assertRefused(await signIn(trusting, { idToken: { email: VICTIM, email_verified: false } }), /email_verified is false/);
    assertRefused(
      await signIn(trusting, { idToken: { email: VICTIM, email_verified: 'false' } }),
      /email_verified is &quot;false&quot;/,
    );
  });
});
