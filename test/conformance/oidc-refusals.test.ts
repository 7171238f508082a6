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
