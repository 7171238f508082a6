/**
 * What a sign-in proved travels with the session it approved (issue #22), on every
 * runtime × store: a person's access tokens carry `amr` and `auth_time` (and `acr` once a
 * second factor was proven), refreshes keep them, and the session lists say whether the
 * sign-in behind each session took a second factor and when. The metadata names the `acr`
 * value and the `amr` values tokens may carry.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { AMR_VALUES, MFA_ACR, ServerMetadata, SessionList } from '../../shared/schemas.ts';
import { TOTP_STEP_SECONDS, totpCodeAt } from '../../worker/mfa/totp.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import {
  deviceLogin,
  deviceSignInFrom,
  FormBrowser,
  pollToken,
  postForm,
  refresh,
  startDeviceLogin,
} from '../fixtures/oauth-client.ts';
import { enrollAuthenticator, firstStep, secondStep } from '../fixtures/two-step.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
before(async () => {
  worker = await startWorker();
});
after(() => worker?.stop());

const NEXT_STEP = TOTP_STEP_SECONDS * 1000;

async function sessions(token: string) {
  const answer = await fetch(`${worker.url}/v1/sessions`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(answer.status, 200);
  return SessionList.parse(await answer.json()).sessions;
}

/** A device login by a person with an authenticator: the first step, the code, then approval. */
async function twoStepDeviceLogin(email: string, secret: Uint8Array) {
  const browser = new FormBrowser(worker.url);
  assert.equal((await firstStep(browser, email)).headers.get('location'), '/signin/two-step');
  assert.equal((await secondStep(browser, await totpCodeAt(secret, Date.now() + NEXT_STEP))).status, 303);
  return deviceSignInFrom(worker.url, browser, email);
}

test('a sign-in with no second factor: amr pwd and auth_time in the token, no acr; the session says no two-step', async () => {
  const before = Math.floor(Date.now() / 1000);
  const tokens = await deviceLogin(worker.url, 'plain@proof.example');
  const claims = decodeJwt(tokens.access_token);
  assert.deepEqual(claims.amr, ['pwd']);
  assert.equal(typeof claims.auth_time, 'number');
  assert.ok((claims.auth_time as number) >= before - 5 && (claims.auth_time as number) <= Math.ceil(Date.now() / 1000));
  assert.equal(claims.acr, undefined);
  const [current] = (await sessions(tokens.access_token)).filter((session) => session.current);
  assert.deepEqual(current?.amr, ['pwd']);
  assert.equal(current?.auth_time, claims.auth_time);
  assert.equal(current?.mfa_at, null);
});

test('a device login after a code: amr mfa and otp, acr, the same after a refresh; the session says when', async () => {
  const person = await consolePerson(worker.url, 'coded@proof.example');
  const { secret } = await enrollAuthenticator(person, Date.now());
  const tokens = await twoStepDeviceLogin('coded@proof.example', secret);
  const claims = decodeJwt(tokens.access_token);
  assert.deepEqual(claims.amr, ['pwd', 'mfa', 'otp']);
  assert.equal(claims.acr, MFA_ACR);
  assert.equal(typeof claims.auth_time, 'number');

  const refreshed = await refresh(worker.url, tokens.refresh_token);
  assert.equal(refreshed.status, 200);
  const again = decodeJwt((refreshed.json as { access_token: string }).access_token);
  assert.deepEqual([again.amr, again.acr, again.auth_time], [claims.amr, claims.acr, claims.auth_time]);

  const [current] = (await sessions(tokens.access_token)).filter((session) => session.current);
  assert.deepEqual(current?.amr, ['pwd', 'mfa', 'otp']);
  assert.equal(typeof current?.mfa_at, 'number');
  assert.ok(Math.abs((current?.mfa_at ?? 0) - Date.now() / 1000) < 120);
});

test('a browser login (authorization code) after a code carries the same proof', async () => {
  const person = await consolePerson(worker.url, 'pkce@proof.example');
  const { secret } = await enrollAuthenticator(person, Date.now());
  const verifier = randomBytes(32).toString('base64url');
  const redirect = 'http://127.0.0.1:53682/callback';
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: 'latchkey-cli',
    redirect_uri: redirect,
    code_challenge_method: 'S256',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
  });
  const browser = new FormBrowser(worker.url);
  const signInPage = await browser.request(`/oauth/authorize?${query}`);
  assert.equal((await browser.submitSignIn(signInPage.html, 'pkce@proof.example')).headers.get('location'), '/signin/two-step');
  const done = await secondStep(browser, await totpCodeAt(secret, Date.now() + NEXT_STEP));
  const consent = await browser.request(done.headers.get('location') ?? '');
  const answered = await browser.request('/oauth/authorize/decision', {
    csrf: FormBrowser.field(consent.html, 'csrf'),
    request: FormBrowser.field(consent.html, 'request'),
    decision: 'approve',
  });
  const code = new URL(answered.headers.get('location') ?? '').searchParams.get('code') ?? '';
  const redeemed = await postForm(`${worker.url}/oauth/token`, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirect,
    client_id: 'latchkey-cli',
    code_verifier: verifier,
  });
  assert.equal(redeemed.status, 200, JSON.stringify(redeemed.json));
  const claims = decodeJwt((redeemed.json as { access_token: string }).access_token);
  assert.deepEqual(claims.amr, ['pwd', 'mfa', 'otp']);
  assert.equal(claims.acr, MFA_ACR);
});

test('the metadata names the acr value and the amr values tokens may carry', async () => {
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    const metadata = ServerMetadata.parse(await (await fetch(`${worker.url}${path}`)).json());
    assert.deepEqual(metadata.acr_values_supported, [MFA_ACR]);
    assert.deepEqual(metadata.amr_values_supported, [...AMR_VALUES]);
  }
});
