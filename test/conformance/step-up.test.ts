/**
 * Step-up (RFC 9470, issue #22) on every runtime × store. A person who has an
 * authenticator and a token whose sign-in proved no second factor (it began before they
 * enrolled) is refused the sensitive acts — a key of admin or above, a role change, ending
 * someone else's session — with 401 `insufficient_user_authentication` and a challenge
 * naming `acr_values` and `max_age`; everything else goes on. A code sent with the refresh
 * token (`otp`) steps the session up: the new token carries the MFA `acr` and a fresh
 * `auth_time`, and the refused act then succeeds. A wrong code leaves the refresh token
 * unspent; no refresh token, no guess. People without factors, and keys, act as before.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { MFA_ACR } from '../../shared/schemas.ts';
import { TOTP_STEP_SECONDS, totpCodeAt } from '../../worker/mfa/totp.ts';
import { apiJsonCall } from '../fixtures/api-call.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { addMember, CLIENT_ID, deviceLogin, FormBrowser, pollToken, postForm, refresh } from '../fixtures/oauth-client.ts';
import { enrollAuthenticator } from '../fixtures/two-step.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
before(async () => {
  worker = await startWorker();
});
after(() => worker?.stop());

const NEXT_STEP = TOTP_STEP_SECONDS * 1000;
let unique = 0;
const call = (method: string, path: string, token: string, body?: Record<string, unknown>) =>
  apiJsonCall(worker.url, method, path, token, body);

/** A person signed in on the first step alone who then made an org and enrolled an authenticator. */
async function ownerWithAuthenticator(name: string) {
  const email = `${name}@step-up.example`;
  const tokens = await deviceLogin(worker.url, email);
  const org = `${name}-${++unique}`;
  assert.equal((await call('POST', '/v1/orgs', tokens.access_token, { slug: org })).status, 201);
  const { secret } = await enrollAuthenticator(await consolePerson(worker.url, email), Date.now());
  return { email, org, tokens, secret };
}

function assertChallenge(answer: { status: number; json: Record<string, unknown> }, headers: Headers) {
  assert.equal(answer.status, 401);
  assert.equal(answer.json.error, 'insufficient_user_authentication');
  const challenge = headers.get('www-authenticate') ?? '';
  assert.match(challenge, /^Bearer /);
  assert.match(challenge, /error="insufficient_user_authentication"/);
  assert.match(challenge, new RegExp(`acr_values="${MFA_ACR}"`));
  assert.match(challenge, /max_age=600\b/);
}

/** The same request, to read the challenge header (apiJsonCall keeps only status and body). */
const challengeOf = (method: string, path: string, token: string, body: Record<string, unknown>) =>
  fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then((response) => response.headers);

test('an admin key is refused until a code steps the session up; a member key never asks', async () => {
  const { org, tokens, secret } = await ownerWithAuthenticator('keys');
  const adminKey = { name: 'deploy', role: 'admin' };
  const refused = await call('POST', `/v1/orgs/${org}/keys`, tokens.access_token, adminKey);
  assertChallenge(refused, await challengeOf('POST', `/v1/orgs/${org}/keys`, tokens.access_token, adminKey));
  assert.match(String(refused.json.error_description), /second factor/);
  assert.equal((await call('GET', `/v1/orgs/${org}/keys`, tokens.access_token)).json.keys instanceof Array, true);
  assert.equal((await call('POST', `/v1/orgs/${org}/keys`, tokens.access_token, { name: 'ro', role: 'member' })).status, 201);

  // A wrong code: refused, and the refresh token is still good for the right one.
  const wrong = await refresh(worker.url, tokens.refresh_token, { otp: '000000' });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.json.error, 'invalid_grant');
  const stepped = await refresh(worker.url, tokens.refresh_token, { otp: await totpCodeAt(secret, Date.now() + NEXT_STEP) });
  assert.equal(stepped.status, 200, JSON.stringify(stepped.json));
  const token = String(stepped.json.access_token);
  const claims = decodeJwt(token);
  assert.equal(claims.acr, MFA_ACR);
  assert.ok(Math.abs((claims.auth_time as number) - Date.now() / 1000) < 60);
  assert.deepEqual(claims.amr, ['pwd', 'mfa', 'otp']);
  assert.equal(decodeJwt(tokens.access_token).acr, undefined, 'the token from before said nothing of a second factor');

  const created = await call('POST', `/v1/orgs/${org}/keys`, token, adminKey);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  // The owner key acts without a person behind it: keys never step up.
  const ownerKey = await call('POST', `/v1/orgs/${org}/keys`, token, { name: 'root', role: 'owner' });
  assert.equal(ownerKey.status, 201);
  const byKey = await call('POST', `/v1/orgs/${org}/keys`, String(ownerKey.json.key), { name: 'ci', role: 'admin' });
  assert.equal(byKey.status, 201);

  const sessions = await call('GET', '/v1/sessions', token);
  const current = (sessions.json.sessions as { current: boolean; mfa_at: number | null }[]).find((s) => s.current);
  assert.equal(typeof current?.mfa_at, 'number');
  const audit = await call('GET', `/v1/orgs/${org}/audit`, token);
  assert.match(audit.text, /session\.stepped_up/);
});

test('a role change and ending a member’s session need the step-up too', async () => {
  const { org, tokens, secret } = await ownerWithAuthenticator('roles');
  const member = `m${++unique}@step-up.example`;
  await addMember(worker.url, tokens.access_token, org, member);
  const promote = { role: 'admin' };
  assertChallenge(
    await call('PUT', `/v1/orgs/${org}/members/${member}`, tokens.access_token, promote),
    await challengeOf('PUT', `/v1/orgs/${org}/members/${member}`, tokens.access_token, promote),
  );
  const started = await postForm(`${worker.url}/oauth/device_authorization`, { client_id: CLIENT_ID, org });
  await new FormBrowser(worker.url).decide(String(started.json.user_code), 'approve', member);
  const forOrg = await pollToken(worker.url, String(started.json.device_code));
  const sid = String(decodeJwt(String(forOrg.json.access_token)).sid);
  const end = `/v1/orgs/${org}/sessions/${sid}/revoke`;
  assertChallenge(await call('POST', end, tokens.access_token), await challengeOf('POST', end, tokens.access_token, {}));
  // Ending one's own session asks nothing more.
  const own = String(decodeJwt(tokens.access_token).sid);
  const mine = await deviceLogin(worker.url, `own${unique}@step-up.example`);
  assert.equal((await call('POST', `/v1/sessions/${decodeJwt(mine.access_token).sid}/revoke`, mine.access_token)).status, 200);

  const stepped = await refresh(worker.url, tokens.refresh_token, { otp: await totpCodeAt(secret, Date.now() + NEXT_STEP) });
  const token = String(stepped.json.access_token);
  assert.equal(decodeJwt(token).sid, own, 'the same session, stepped up');
  assert.equal((await call('PUT', `/v1/orgs/${org}/members/${member}`, token, promote)).status, 200);
  assert.equal((await call('POST', end, token)).status, 200);
});

test('a code with no live refresh token takes none of the person’s guesses; nothing to prove without a factor', async () => {
  const { tokens, secret } = await ownerWithAuthenticator('guess');
  const rotated = await refresh(worker.url, tokens.refresh_token);
  assert.equal(rotated.status, 200);
  // Six wrong codes with a made-up refresh token, or the person's spent one, would use up the
  // person's guesses (five per window) if they counted: the right code would then be refused.
  for (let n = 0; n < 6; n++) {
    const refused = await refresh(worker.url, `lk_rt_${'A'.repeat(63)}`, { otp: String(100000 + n) });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'invalid_grant');
  }
  // The spent one is answered as without a code, checking none: in the grace window, the retry
  // of the rotation (its successor, not stepped up); past it, reuse (test/unit/step-up-attacks.test.ts).
  for (let n = 0; n < 6; n++) {
    const retried = await refresh(worker.url, tokens.refresh_token, { otp: String(100000 + n) });
    assert.equal(retried.status, 200);
    assert.equal(retried.json.refresh_token, rotated.json.refresh_token);
    assert.equal(decodeJwt(String(retried.json.access_token)).acr, undefined);
  }
  const live = String(rotated.json.refresh_token);
  const stepped = await refresh(worker.url, live, { otp: await totpCodeAt(secret, Date.now() + NEXT_STEP) });
  assert.equal(stepped.status, 200, JSON.stringify(stepped.json));

  const plain = await deviceLogin(worker.url, `plain${++unique}@step-up.example`);
  const none = await refresh(worker.url, plain.refresh_token, { otp: '123456' });
  assert.equal(none.status, 400);
  assert.equal(none.json.error, 'invalid_request');
  assert.match(String(none.json.error_description), /no second factor/);
});

test('a person without factors makes admin keys and changes roles as before', async () => {
  const email = `nofactor${++unique}@step-up.example`;
  const tokens = await deviceLogin(worker.url, email);
  const org = `nofactor-${unique}`;
  assert.equal((await call('POST', '/v1/orgs', tokens.access_token, { slug: org })).status, 201);
  assert.equal((await call('POST', `/v1/orgs/${org}/keys`, tokens.access_token, { name: 'a', role: 'admin' })).status, 201);
  const member = `m${++unique}@step-up.example`;
  await addMember(worker.url, tokens.access_token, org, member);
  assert.equal((await call('PUT', `/v1/orgs/${org}/members/${member}`, tokens.access_token, { role: 'admin' })).status, 200);
});
