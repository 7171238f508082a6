/**
 * Browser login's server half (RFC 6749 §4.1, RFC 7636 PKCE, RFC 8252 loopback
 * redirects, RFC 9207 `iss`) over HTTP against wrangler dev, with the person played by
 * the form-posting browser of the fixtures.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { FormBrowser, postForm } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let server: RunningWorker;
before(async () => {
  server = await startWorker({
    LATCHKEY_CLIENTS: JSON.stringify([{ id: 'acme-cli', name: 'Acme CLI', grants: ['authorization_code', 'refresh_token'] }]),
  });
});
after(async () => {
  await server?.stop();
});

const REDIRECT = 'http://127.0.0.1:53682/callback';
const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

function authorizeUrl(params: Record<string, string>) {
  const defaults = { response_type: 'code', client_id: 'latchkey-cli', redirect_uri: REDIRECT, code_challenge_method: 'S256' };
  return `/oauth/authorize?${new URLSearchParams({ ...defaults, ...params })}`;
}

/** Signs in, answers the consent page, and returns where the browser was sent. */
async function authorize(params: Record<string, string>, decision: 'approve' | 'deny' = 'approve', email = 'pkce@example.com') {
  const browser = new FormBrowser(server.url);
  const signInPage = await browser.request(authorizeUrl(params));
  assert.equal(signInPage.status, 200, signInPage.html);
  const signedIn = await browser.submitSignIn(signInPage.html, email);
  assert.equal(signedIn.status, 303);
  const location = signedIn.headers.get('location') ?? '';
  assert.match(location, /^\/oauth\/authorize\?/);
  const consent = await browser.request(location);
  assert.match(consent.html, /Approve this sign-in\?/);
  assert.match(consent.html, /Returns to/);
  const answered = await browser.request('/oauth/authorize/decision', {
    csrf: FormBrowser.field(consent.html, 'csrf'),
    request: FormBrowser.field(consent.html, 'request'),
    decision,
  });
  assert.equal(answered.status, 303);
  return new URL(answered.headers.get('location') ?? '');
}

const redeem = (code: string, verifier: string, redirectUri = REDIRECT, clientId = 'latchkey-cli') =>
  postForm(`${server.url}/oauth/token`, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    client_id: clientId,
    code_verifier: verifier,
  });

describe('authorization code + PKCE', () => {
  test('approve: code and state come back to the loopback redirect with iss; the code redeems once', async () => {
    const { verifier, challenge } = pkce();
    const back = await authorize({ code_challenge: challenge, state: 'st-123/+=' });
    assert.equal(back.origin + back.pathname, REDIRECT);
    assert.equal(back.searchParams.get('state'), 'st-123/+=');
    assert.equal(back.searchParams.get('iss'), server.url);
    const code = back.searchParams.get('code') ?? '';
    assert.match(code, /^lk_ac_/);

    const tokens = await redeem(code, verifier);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
    assert.equal(decodeJwt(String(tokens.json.access_token)).email, 'pkce@example.com');
    assert.match(String(tokens.json.refresh_token), /^lk_rt_/);

    const replay = await redeem(code, verifier);
    assert.equal(replay.status, 400);
    assert.equal(replay.json.error, 'invalid_grant');
  });

  test('any loopback port works, on 127.0.0.1 and [::1]', async () => {
    for (const redirect of ['http://127.0.0.1:1/callback', 'http://[::1]:65535/callback']) {
      const { verifier, challenge } = pkce();
      const back = await authorize({ code_challenge: challenge, redirect_uri: redirect });
      assert.equal(back.origin + back.pathname, redirect);
      assert.equal((await redeem(back.searchParams.get('code') ?? '', verifier, redirect)).status, 200);
    }
  });

  test('a wrong verifier is invalid_grant, and burns the code', async () => {
    const { verifier, challenge } = pkce();
    const code = (await authorize({ code_challenge: challenge })).searchParams.get('code') ?? '';
    const wrong = await redeem(code, pkce().verifier);
    assert.equal(wrong.json.error, 'invalid_grant');
    assert.match(String(wrong.json.error_description), /code_verifier/);
    assert.equal((await redeem(code, verifier)).json.error, 'invalid_grant');
  });

  test('the redirect URI at the token endpoint must be the one authorized, port included', async () => {
    const { verifier, challenge } = pkce();
    const code = (await authorize({ code_challenge: challenge })).searchParams.get('code') ?? '';
    const other = await redeem(code, verifier, 'http://127.0.0.1:9999/callback');
    assert.equal(other.json.error, 'invalid_grant');
    assert.match(String(other.json.error_description), /redirect_uri/);
  });

  test('deny sends access_denied back with the state', async () => {
    const back = await authorize({ code_challenge: pkce().challenge, state: 'xyz' }, 'deny');
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), 'xyz');
    assert.equal(back.searchParams.get('code'), null);
  });

  test('plain PKCE and a missing challenge are refused back at the client, with the state', async () => {
    const browser = new FormBrowser(server.url);
    const cases: Record<string, string>[] = [{ code_challenge: pkce().challenge, code_challenge_method: 'plain' }, {}];
    for (const params of cases) {
      const response = await browser.request(authorizeUrl({ state: 's1', ...params }));
      assert.equal(response.status, 303);
      const back = new URL(response.headers.get('location') ?? '');
      assert.equal(back.searchParams.get('error'), 'invalid_request');
      assert.equal(back.searchParams.get('state'), 's1');
    }
  });

  test('redirect URIs that are not registered loopback ones are refused on a page, never redirected to', async () => {
    const browser = new FormBrowser(server.url);
    for (const redirect of [
      'https://evil.example/callback',
      'http://localhost:8000/callback',
      'http://127.0.0.1.evil.example/callback',
      'http://127.0.0.1:8000/callback/../evil',
      'http://127.0.0.1:8000/callbackx',
      'http://user@127.0.0.1:8000/callback',
    ]) {
      const response = await browser.request(authorizeUrl({ code_challenge: pkce().challenge, redirect_uri: redirect }));
      assert.equal(response.status, 400, redirect);
      assert.equal(response.headers.get('location'), null);
      assert.match(response.html, /registered loopback/);
    }
  });

  test('a consent answer is accepted once, and only from the browser that was shown it', async () => {
    const ada = new FormBrowser(server.url);
    const page = await ada.request(authorizeUrl({ code_challenge: pkce().challenge }));
    const signedIn = await ada.submitSignIn(page.html, 'ada@example.com');
    const consent = await ada.request(signedIn.headers.get('location') ?? '');
    const fields = {
      csrf: FormBrowser.field(consent.html, 'csrf'),
      request: FormBrowser.field(consent.html, 'request'),
      decision: 'approve',
    };

    const mallory = new FormBrowser(server.url);
    await mallory.signIn('mallory@example.com');
    const ownPage = await mallory.request('/device');
    const stolen = await mallory.request('/oauth/authorize/decision', {
      ...fields,
      csrf: FormBrowser.field(ownPage.html, 'csrf'),
    });
    assert.equal(stolen.status, 400);
    assert.match(stolen.html, /expired or was already answered/);

    assert.equal((await ada.request('/oauth/authorize/decision', fields)).status, 303);
    assert.equal((await ada.request('/oauth/authorize/decision', fields)).status, 400);
  });

  test('20 simultaneous redemptions of one code: exactly one succeeds', async () => {
    const { verifier, challenge } = pkce();
    const code = (await authorize({ code_challenge: challenge })).searchParams.get('code') ?? '';
    const results = await Promise.all(Array.from({ length: 20 }, () => redeem(code, verifier)));
    assert.equal(results.filter((result) => result.status === 200).length, 1);
    for (const result of results) assert.ok(result.status === 200 || result.json.error === 'invalid_grant');
  });

  test('a client from LATCHKEY_CLIENTS signs in under its own name; its code is not another client’s', async () => {
    const browser = new FormBrowser(server.url);
    const approve = async (challenge: string) => {
      let page = await browser.request(authorizeUrl({ client_id: 'acme-cli', code_challenge: challenge }));
      if (page.html.includes('name="return_to"')) {
        const signedIn = await browser.submitSignIn(page.html, 'acme@example.com');
        page = await browser.request(signedIn.headers.get('location') ?? '');
      }
      assert.match(page.html, /<dd id="client-name">Acme CLI<\/dd>/);
      const answered = await browser.request('/oauth/authorize/decision', {
        csrf: FormBrowser.field(page.html, 'csrf'),
        request: FormBrowser.field(page.html, 'request'),
        decision: 'approve',
      });
      return new URL(answered.headers.get('location') ?? '').searchParams.get('code') ?? '';
    };
    const first = pkce();
    assert.equal(
      (await redeem(await approve(first.challenge), first.verifier, REDIRECT, 'latchkey-cli')).json.error,
      'invalid_grant',
    );
    const second = pkce();
    const tokens = await redeem(await approve(second.challenge), second.verifier, REDIRECT, 'acme-cli');
    assert.equal(tokens.status, 200);
    assert.equal(decodeJwt(String(tokens.json.access_token)).client_id, 'acme-cli');
    const device = await postForm(`${server.url}/oauth/device_authorization`, { client_id: 'acme-cli' });
    assert.equal(device.json.error, 'unauthorized_client');
  });
});
