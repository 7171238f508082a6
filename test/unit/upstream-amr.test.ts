/**
 * An upstream provider's `amr` (issue #22): `mfa` in its ID token stands in for latchkey's
 * own second step only when the operator says so (LATCHKEY_OIDC_TRUST_AMR=true). Trusted,
 * a person with an authenticator is not asked for a code after such a sign-in, and the
 * browser sign-in and the sessions it approves say MFA; a sign-in whose `amr` lacks `mfa`
 * still stops at the code page. Untrusted (the default), the provider's `amr` is not
 * repeated anywhere, so it cannot pass for a second factor (an org's requirement, step-up).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { TOTP_STEP_SECONDS, totpCodeAt } from '../../worker/mfa/totp.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { freePort } from '../fixtures/free-port.ts';
import { startInProcess } from '../fixtures/in-process.ts';
import { deviceSignInFrom, FormBrowser } from '../fixtures/oauth-client.ts';
import { pendingIdOn, secretOn, signedIn, storedWebSessions, viaUpstream } from '../fixtures/two-step.ts';

let upstream: Awaited<ReturnType<typeof startFakeOidc>>;
before(async () => {
  upstream = await startFakeOidc(await freePort(), 'latchkey');
});
after(() => upstream?.stop());

/** The app on an upstream provider; the fake provider signs at the real time, so the clock starts there. */
const appOn = (trust: 'true' | 'false') =>
  startInProcess(
    {
      LATCHKEY_IDENTITY: 'oidc',
      LATCHKEY_OIDC_ISSUER: upstream.issuer,
      LATCHKEY_OIDC_CLIENT_ID: 'latchkey',
      LATCHKEY_OIDC_TRUST_AMR: trust,
    },
    Date.now(),
  );

const says = (amr: string[], email = 'up@amr.example') => upstream.setClaims({ idToken: { email, email_verified: true, amr } });

test('trusted: the provider’s mfa stands in for the code; without mfa the code page still asks', async () => {
  const app = await appOn('true');
  try {
    says(['pwd', 'mfa', 'otp']);
    const first = new FormBrowser(app.base);
    assert.equal((await viaUpstream(first)).headers.get('location'), '/console');
    // Set up an authenticator from that sign-in (it proved a second factor already).
    const page = await first.request('/console/two-step');
    const added = await first.request('/console/two-step/totp', {
      csrf: FormBrowser.field(page.html, 'csrf'),
      form_id: FormBrowser.field(page.html, 'form_id'),
    });
    const confirm = { csrf: FormBrowser.field(page.html, 'csrf'), code: await totpCodeAt(secretOn(added.html), app.now()) };
    assert.equal((await first.request(`/console/two-step/totp/${pendingIdOn(added.html)}/confirm`, confirm)).status, 303);
    app.step(TOTP_STEP_SECONDS * 1000);

    // A device login approved after the provider's own MFA: no code page, and the session says MFA.
    const second = new FormBrowser(app.base);
    assert.equal((await viaUpstream(second)).headers.get('location'), '/console');
    assert.ok(await signedIn(second));
    const claims = decodeJwt((await deviceSignInFrom(app.base, second, 'up@amr.example')).access_token);
    assert.equal(claims.acr, 'urn:latchkey:acr:mfa');
    assert.deepEqual(claims.amr, ['pwd', 'mfa', 'otp']);

    says(['pwd']);
    const third = new FormBrowser(app.base);
    assert.equal((await viaUpstream(third)).headers.get('location'), '/signin/two-step');
    assert.equal(await signedIn(third), false);
  } finally {
    app.close();
  }
});

test('untrusted (the default): the provider’s amr (mfa, hwk) is recorded nowhere and proves nothing', async () => {
  const app = await appOn('false');
  try {
    says(['pwd', 'mfa', 'hwk'], 'plain@amr.example');
    const browser = new FormBrowser(app.base);
    assert.equal((await viaUpstream(browser)).headers.get('location'), '/console');
    const [session] = storedWebSessions(app.store);
    assert.deepEqual(session?.amr, ['pwd'], 'none of what the provider said');
    assert.equal(session?.mfaAt, null);

    const claims = decodeJwt((await deviceSignInFrom(app.base, browser, 'plain@amr.example')).access_token);
    assert.equal(claims.acr, undefined);
    assert.deepEqual(claims.amr, ['pwd']);
  } finally {
    app.close();
  }
});
