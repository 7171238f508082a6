/**
 * Step-up (RFC 9470, issue #22) in process on a stepping clock: a stepped-up token covers
 * sensitive acts for LATCHKEY_STEP_UP_MAX_AGE and no longer (the challenge then names the
 * configured `max_age`); deleting a trust policy and an operator ending someone else's
 * session ask for it too; a recovery code steps up as a code does, once; and the sixth
 * wrong code in a window is refused even when right.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { MFA_ACR } from '../../shared/schemas.ts';
import { TOTP_STEP_SECONDS, totpCodeAt } from '../../worker/mfa/totp.ts';
import { apiJsonCall } from '../fixtures/api-call.ts';
import { octoRepoPolicy } from '../fixtures/ci-claims.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin, refresh } from '../fixtures/oauth-client.ts';
import { addPasskey } from '../fixtures/passkeys.ts';
import { SoftAuthenticator } from '../fixtures/soft-authenticator.ts';
import { enrollAuthenticator, makeRecoveryCodes } from '../fixtures/two-step.ts';

let app: InProcess;
const STEP = TOTP_STEP_SECONDS * 1000;
const GITHUB = 'https://token.actions.githubusercontent.com';

before(async () => {
  app = await startInProcess(
    { LATCHKEY_STEP_UP_MAX_AGE: '30m', LATCHKEY_OPERATORS: 'op@unit.example' },
    Date.UTC(2026, 6, 1, 9, 0, 0),
  );
});
after(() => app?.close());

const call = (method: string, path: string, token: string, body?: Record<string, unknown>) =>
  apiJsonCall(app.base, method, path, token, body);

/** Signs in on the first step, enrolls an authenticator, and moves the clock a step on so the next code is new. */
async function enrolled(email: string) {
  const tokens = await deviceLogin(app.base, email);
  const person = await consolePerson(app.base, email);
  const { secret } = await enrollAuthenticator(person, app.now());
  app.step(STEP);
  return { tokens, secret, person };
}

const stepUp = async (refreshToken: string, otp: string) => {
  const answer = await refresh(app.base, refreshToken, { otp });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  return { access: String(answer.json.access_token), refresh: String(answer.json.refresh_token) };
};

test('a step-up covers sensitive acts for the configured max age, then asks again', async () => {
  const { tokens, secret } = await enrolled('window@unit.example');
  assert.equal((await call('POST', '/v1/orgs', tokens.access_token, { slug: 'window' })).status, 201);
  const stepped = await stepUp(tokens.refresh_token, await totpCodeAt(secret, app.now()));
  assert.equal(decodeJwt(stepped.access).acr, MFA_ACR);
  app.step(29 * 60_000);
  // The access token lives 15 minutes: a refresh keeps the session's step-up time.
  const later = String((await refresh(app.base, stepped.refresh)).json.access_token);
  assert.equal(decodeJwt(later).auth_time, decodeJwt(stepped.access).auth_time);
  assert.equal((await call('POST', '/v1/orgs/window/keys', later, { name: 'a', role: 'admin' })).status, 201);
  app.step(2 * 60_000);
  const stale = await fetch(`${app.base}/v1/orgs/window/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${later}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'b', role: 'admin' }),
  });
  assert.equal(stale.status, 401);
  assert.match(stale.headers.get('www-authenticate') ?? '', /max_age=1800\b/);
});

test('deleting a trust policy asks for the step-up; creating one does not', async () => {
  const { tokens, secret } = await enrolled('policy@unit.example');
  const token = tokens.access_token;
  assert.equal((await call('POST', '/v1/orgs', token, { slug: 'policy' })).status, 201);
  assert.equal((await call('POST', '/v1/orgs/policy/projects', token, { slug: 'web' })).status, 201);
  const policy = octoRepoPolicy(GITHUB, `${app.base}/orgs/policy`, { id: 'deploy', grant: { project: 'web', scopes: ['read'] } });
  assert.equal((await call('POST', '/v1/orgs/policy/trust-policies', token, policy)).status, 201);
  const refused = await call('DELETE', '/v1/orgs/policy/trust-policies/deploy', token);
  assert.equal(refused.status, 401);
  assert.equal(refused.json.error, 'insufficient_user_authentication');
  const stepped = await stepUp(tokens.refresh_token, await totpCodeAt(secret, app.now()));
  assert.equal((await call('DELETE', '/v1/orgs/policy/trust-policies/deploy', stepped.access)).status, 200);
});

test('an operator ending someone else’s session steps up; ending their own does not', async () => {
  const spare = await deviceLogin(app.base, 'op@unit.example');
  const { tokens, secret } = await enrolled('op@unit.example');
  // Another session of their own, from before they enrolled: ended without a code.
  const spareSid = String(decodeJwt(spare.access_token).sid);
  assert.equal((await call('POST', `/v1/sessions/${spareSid}/revoke`, tokens.access_token)).status, 200);
  const other = await deviceLogin(app.base, 'someone@unit.example');
  const theirs = String(decodeJwt(other.access_token).sid);
  const refused = await call('POST', `/v1/sessions/${theirs}/revoke`, tokens.access_token);
  assert.equal(refused.status, 401);
  assert.equal(refused.json.error, 'insufficient_user_authentication');
  assert.equal((await call('GET', '/v1/me', other.access_token)).status, 200, 'refused before anything ended');
  const stepped = await stepUp(tokens.refresh_token, await totpCodeAt(secret, app.now()));
  assert.equal((await call('POST', `/v1/sessions/${theirs}/revoke`, stepped.access)).status, 200);
  assert.equal((await call('GET', '/v1/me', other.access_token)).status, 401);
});

test('a recovery code steps up once; the sixth wrong code in a window is refused even when right', async () => {
  const { tokens, secret, person } = await enrolled('codes@unit.example');
  const [first = '', second = ''] = await makeRecoveryCodes(person);
  const stepped = await stepUp(tokens.refresh_token, first);
  assert.deepEqual(decodeJwt(stepped.access).amr, ['pwd', 'mfa', 'otp']);
  const again = await refresh(app.base, stepped.refresh, { otp: first });
  assert.equal(again.status, 400, 'a used recovery code');
  let live = stepped.refresh;
  for (let n = 0; n < 4; n++) {
    const wrong = await refresh(app.base, live, { otp: String(300000 + n) });
    assert.equal(wrong.status, 400);
  }
  const limited = await refresh(app.base, live, { otp: await totpCodeAt(secret, app.now()) });
  assert.equal(limited.status, 429);
  assert.equal(limited.json.error, 'rate_limited');
  app.step(15 * 60_000);
  const after = await stepUp(live, second);
  live = after.refresh;
  assert.equal(decodeJwt(after.access).acr, MFA_ACR);
});

test('a person whose only factor is a passkey is told to sign in again, and no guess is spent', async () => {
  const tokens = await deviceLogin(app.base, 'keyonly@unit.example');
  const person = await consolePerson(app.base, 'keyonly@unit.example');
  await addPasskey(person, new SoftAuthenticator(app.base));
  for (let n = 0; n < 6; n++) {
    const answer = await refresh(app.base, tokens.refresh_token, { otp: String(400000 + n) });
    assert.equal(answer.status, 400);
    assert.equal(answer.json.error, 'invalid_request');
    assert.match(String(answer.json.error_description), /passkey or security key[^]*latchkey login/);
  }
  // The refresh token is unspent and the person's guesses untouched: recovery codes made now still step up.
  const [code = ''] = await makeRecoveryCodes(person);
  assert.equal(decodeJwt((await stepUp(tokens.refresh_token, code)).access).acr, MFA_ACR);
});

test('renewing an invitation as admin needs the step-up; one as member does not', async () => {
  const { tokens, secret } = await enrolled('renew@unit.example');
  assert.equal((await call('POST', '/v1/orgs', tokens.access_token, { slug: 'renew' })).status, 201);
  const stepped = await stepUp(tokens.refresh_token, await totpCodeAt(secret, app.now()));
  const invite = (role: string) =>
    call('POST', '/v1/orgs/renew/invitations', stepped.access, { email: `${role}@renew.example`, role });
  const admin = String((await invite('admin')).json.id);
  const member = String((await invite('member')).json.id);
  app.step(31 * 60_000);
  const later = String((await refresh(app.base, stepped.refresh)).json.access_token);
  const refused = await call('POST', `/v1/orgs/renew/invitations/${admin}/resend`, later);
  assert.equal(refused.status, 401);
  assert.equal(refused.json.error, 'insufficient_user_authentication');
  assert.match(String(refused.json.error_description), /renew an invitation as admin/);
  assert.equal((await call('POST', `/v1/orgs/renew/invitations/${member}/resend`, later)).status, 200);
});
