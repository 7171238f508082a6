/**
 * What latchkey refuses from an upstream OpenID provider. The upstream here is a fake
 * (test/fixtures/fake-oidc.ts) because a certified provider will not sign a bad ID token;
 * the happy path with the real `oidc-provider` is in test/browser/oidc-upstream.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Flaw, startFakeOidc } from '../fixtures/fake-oidc.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let upstream: Awaited<ReturnType<typeof startFakeOidc>>;

before(async () => {
  upstream = await startFakeOidc(await freePort(), 'latchkey');
  worker = await startWorker({
    LATCHKEY_IDENTITY: 'oidc',
    LATCHKEY_OIDC_ISSUER: upstream.issuer,
    LATCHKEY_OIDC_CLIENT_ID: 'latchkey',
  });
});
after(async () => {
  await worker?.stop();
  await upstream?.stop();
});

/** Starts a sign-in in `browser`, lets the upstream answer, and returns the callback URL. */
async function upstreamAnswer(browser: FormBrowser): Promise<string> {
  const page = await browser.request('/device');
  const posted = await browser.request('/signin', { csrf: FormBrowser.field(page.html, 'csrf'), return_to: '/device' });
  assert.equal(posted.status, 303);
  const authorize = new URL(posted.headers.get('location') ?? '');
  assert.equal(authorize.origin, upstream.issuer);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(authorize.searchParams.get('nonce'));
  const answered = await browser.request(authorize.href);
  return answered.headers.get('location') ?? '';
}

async function signInWith(flaw: Flaw) {
  upstream.setFlaw(flaw);
  const browser = new FormBrowser(worker.url);
  const callback = await upstreamAnswer(browser);
  return browser.request(callback);
}

describe('upstream ID tokens latchkey refuses', () => {
  test('a good ID token signs the person in', async () => {
    const result = await signInWith('none');
    assert.equal(result.status, 303, result.html);
    assert.equal(result.headers.get('location'), '/device');
  });

  const refusals: [Flaw, RegExp][] = [
    ['other-issuer', /&quot;iss&quot; claim is wrong/],
    ['wrong-nonce', /nonce does not match/],
    ['wrong-audience', /&quot;aud&quot; claim is wrong/],
    ['expired', /expired/],
    ['foreign-key', /signature does not verify/],
    ['unverified-email', /did not vouch for an email/],
  ];
  for (const [flaw, message] of refusals) {
    test(`refused: ${flaw}`, async () => {
      const result = await signInWith(flaw);
      assert.ok(result.status >= 400 && result.status < 500, `status ${result.status}`);
      assert.match(result.html, message);
      assert.doesNotMatch(result.headers.get('set-cookie') ?? '', /lk_session/);
    });
  }

  test('the answer only completes in the browser that started the sign-in', async () => {
    upstream.setFlaw('none');
    const callback = await upstreamAnswer(new FormBrowser(worker.url));
    const other = await new FormBrowser(worker.url).request(callback);
    assert.equal(other.status, 403);
    assert.match(other.html, /started in another browser/);
  });

  test('a replayed or tampered state is refused', async () => {
    upstream.setFlaw('none');
    const browser = new FormBrowser(worker.url);
    const callback = await upstreamAnswer(browser);
    assert.equal((await browser.request(callback)).status, 303);
    const replay = await browser.request(callback);
    assert.equal(replay.status, 400);
    assert.match(replay.html, /expired or was already used/);
    const tampered = new URL(callback);
    tampered.searchParams.set('state', 'x'.repeat(32));
    assert.equal((await browser.request(tampered.href)).status, 400);
  });
});

describe('confirming who you are again (the console asks before sensitive actions)', () => {
  /** A signed-in browser posts the sign-in form the console shows to confirm (its hidden `reauthenticate`). */
  async function reauthenticate(idToken: Record<string, unknown>) {
    upstream.setFlaw('none');
    const browser = new FormBrowser(worker.url);
    assert.equal((await browser.request(await upstreamAnswer(browser))).status, 303, 'the first sign-in');
    upstream.setClaims({ idToken: { email: 'upstream@example.com', email_verified: true, ...idToken } });
    const page = await browser.request('/device');
    const posted = await browser.request('/signin', {
      csrf: FormBrowser.field(page.html, 'csrf'),
      return_to: '/console',
      reauthenticate: '1',
    });
    const authorize = new URL(posted.headers.get('location') ?? '');
    const callback = (await browser.request(authorize.href)).headers.get('location') ?? '';
    return { authorize, result: await browser.request(callback) };
  }
  after(() => upstream.setClaims({ idToken: { email: 'upstream@example.com', email_verified: true } }));

  test('the provider is asked to prompt (prompt=login, max_age=0), and a fresh auth_time signs in', async () => {
    const { authorize, result } = await reauthenticate({ auth_time: Math.floor(Date.now() / 1000) });
    assert.equal(authorize.searchParams.get('prompt'), 'login');
    assert.equal(authorize.searchParams.get('max_age'), '0');
    assert.equal(result.status, 303, result.html);
    assert.equal(result.headers.get('location'), '/console');
    assert.match(result.headers.get('set-cookie') ?? '', /lk_session=/);
  });

  for (const [what, claims] of [
    ['an auth_time from before the confirmation', { auth_time: Math.floor(Date.now() / 1000) - 3600 }],
    ['no auth_time at all', {}],
  ] as const) {
    test(`refused: ${what} (the provider answered from its own session without asking)`, async () => {
      const { result } = await reauthenticate(claims);
      assert.equal(result.status, 400);
      assert.match(result.html, /did not ask you to sign in again/);
      assert.doesNotMatch(result.headers.get('set-cookie') ?? '', /lk_session/);
    });
  }

  test('a first sign-in asks no prompt and needs no auth_time', async () => {
    upstream.setFlaw('none');
    const browser = new FormBrowser(worker.url);
    const page = await browser.request('/device');
    const posted = await browser.request('/signin', { csrf: FormBrowser.field(page.html, 'csrf'), return_to: '/device' });
    const authorize = new URL(posted.headers.get('location') ?? '');
    assert.equal(authorize.searchParams.get('prompt'), null);
    assert.equal(authorize.searchParams.get('max_age'), null);
  });
});
