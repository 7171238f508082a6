/**
 * Attacks on what a token says was proven and on step-up (RFC 9470, issue #22), in process
 * on a stepping clock. A code sent with a spent refresh token is no way around reuse
 * detection, and a retry in the grace window gets its successor, code or not; another
 * client's refresh token spends none of the person's guesses; the code is never echoed.
 * Handing out admin or owner by invitation steps up as a role change does. A browser signed
 * in before the person enrolled makes no admin key at the console. A narrowed token keeps
 * the step-up's time, so narrowing does not refresh it. A device record from before says
 * nothing was proven.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { MFA_ACR, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../shared/schemas.ts';
import { Family, SignInSubject, steppedUp } from '../../worker/accounts/sessions.ts';
import { proofClaims } from '../../worker/grants/issue.ts';
import { TOTP_STEP_SECONDS, totpCodeAt } from '../../worker/mfa/totp.ts';
import { apiJsonCall } from '../fixtures/api-call.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { freePort } from '../fixtures/free-port.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import {
  deviceLogin,
  deviceSignInFrom,
  FormBrowser,
  pollToken,
  postForm,
  refresh,
  startDeviceLogin,
} from '../fixtures/oauth-client.ts';
import { enrollAuthenticator, pendingIdOn, secondStep, secretOn, viaUpstream } from '../fixtures/two-step.ts';

let app: InProcess;
const STEP = TOTP_STEP_SECONDS * 1000;
const OTHER_CLIENT = 'other-cli';
const OPERATOR = 'op@attack.example';

before(async () => {
  app = await startInProcess(
    { LATCHKEY_CLIENTS: JSON.stringify([{ id: OTHER_CLIENT, name: 'Other CLI' }]), LATCHKEY_OPERATORS: OPERATOR },
    Date.UTC(2026, 8, 1, 9, 0, 0),
  );
});
after(() => app?.close());

const call = (method: string, path: string, token: string, body?: Record<string, unknown>) =>
  apiJsonCall(app.base, method, path, token, body);

/** Signs in on the first step, enrolls an authenticator, and moves the clock a step on so the next code is new. */
async function enrolled(email: string, extra: Record<string, string> = {}) {
  const tokens = await deviceLogin(app.base, email, extra);
  const person = await consolePerson(app.base, email);
  const { secret } = await enrollAuthenticator(person, app.now());
  app.step(STEP);
  return { tokens, secret, person };
}

const code = (secret: Uint8Array) => totpCodeAt(secret, app.now());

/** A session record as the store keeps it, for the pure checks. */
const familyBase = {
  sub: 'usr_x',
  email: 'x@attack.example',
  clientId: 'latchkey-cli',
  scope: 'read',
  createdAt: 0,
  expiresAt: 1,
  revoked: null,
  device: { address: null, userAgent: null },
};

test('a spent refresh token sent with a code is reuse: the session ends, as it does without one', async () => {
  const { tokens } = await enrolled('reuse@attack.example');
  const next = await refresh(app.base, tokens.refresh_token);
  assert.equal(next.status, 200);
  app.step(60_000); // past the grace window
  const replay = await refresh(app.base, tokens.refresh_token, { otp: '123456' });
  assert.equal(replay.status, 400);
  assert.equal(replay.json.error, 'invalid_grant');
  // The thief's probe with a code must not be a way to test a stolen token without ending the session.
  const after = await refresh(app.base, String(next.json.refresh_token));
  assert.equal(after.status, 400, 'the session was ended by the reuse');
  assert.match(String(after.json.error_description), /revoked/);
});

test('a retry in the grace window with the same code gets the same successor, stepped up, once', async () => {
  const { tokens, secret } = await enrolled('retry@attack.example');
  const otp = await code(secret);
  const first = await refresh(app.base, tokens.refresh_token, { otp });
  assert.equal(first.status, 200, JSON.stringify(first.json));
  // The answer was lost; the client sends the same request again.
  const retry = await refresh(app.base, tokens.refresh_token, { otp });
  assert.equal(retry.status, 200, JSON.stringify(retry.json));
  assert.equal(retry.json.refresh_token, first.json.refresh_token);
  assert.equal(decodeJwt(String(retry.json.access_token)).acr, MFA_ACR);
  // The successor is live and the session alive.
  assert.equal((await refresh(app.base, String(first.json.refresh_token))).status, 200);
});

test("another client's refresh token with codes spends none of the person's guesses", async () => {
  const { tokens, secret } = await enrolled('client@attack.example');
  for (let n = 0; n < 8; n++) {
    const wrong = await postForm(`${app.base}/oauth/token`, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: OTHER_CLIENT,
      otp: String(500000 + n),
    });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error, 'invalid_grant');
  }
  const right = await refresh(app.base, tokens.refresh_token, { otp: await code(secret) });
  assert.equal(right.status, 200, JSON.stringify(right.json));
  assert.equal(decodeJwt(String(right.json.access_token)).acr, MFA_ACR);
});

test('wrong codes are limited per person, and a refused code leaves the refresh token unspent', async () => {
  const { tokens, secret } = await enrolled('budget@attack.example');
  let other = tokens.refresh_token;
  for (let n = 0; n < 5; n++) {
    const wrong = await refresh(app.base, other, { otp: String(600000 + n) });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error, 'invalid_grant');
  }
  const limited = await refresh(app.base, other, { otp: await code(secret) });
  assert.equal(limited.status, 429);
  // The refresh token was not spent by any of it.
  const plain = await refresh(app.base, other);
  assert.equal(plain.status, 200);
  other = String(plain.json.refresh_token);
  app.step(15 * 60_000 + STEP);
  assert.equal((await refresh(app.base, other, { otp: await code(secret) })).status, 200);
});

test('the code is never echoed, neither when wrong nor when malformed', async () => {
  const { tokens } = await enrolled('echo@attack.example');
  const marker = 'ZQXJ';
  const long = await refresh(app.base, tokens.refresh_token, { otp: `${marker}${'9'.repeat(70)}` });
  assert.equal(long.status, 400);
  assert.ok(!long.text.includes(marker), long.text);
  const wrong = await refresh(app.base, tokens.refresh_token, { otp: '918273' });
  assert.equal(wrong.status, 400);
  assert.ok(!wrong.text.includes('918273'), wrong.text);
});

test('inviting someone as admin or owner steps up, as a role change does; as a member it does not', async () => {
  const { tokens, secret } = await enrolled('inviter@attack.example');
  assert.equal((await call('POST', '/v1/orgs', tokens.access_token, { slug: 'invites' })).status, 201);
  assert.equal(
    (await call('POST', '/v1/orgs/invites/invitations', tokens.access_token, { email: 'm@attack.example' })).status,
    201,
  );
  for (const role of ['admin', 'owner']) {
    const refused = await call('POST', '/v1/orgs/invites/invitations', tokens.access_token, {
      email: `${role}@attack.example`,
      role,
    });
    assert.equal(refused.status, 401, `${role}: ${refused.text}`);
    assert.equal(refused.json.error, 'insufficient_user_authentication');
  }
  const listed = await call('GET', '/v1/orgs/invites/invitations', tokens.access_token);
  assert.equal((listed.json.invitations as unknown[]).length, 1, 'nothing was invited by the refused posts');
  const stepped = await refresh(app.base, tokens.refresh_token, { otp: await code(secret) });
  const access = String(stepped.json.access_token);
  assert.equal(
    (await call('POST', '/v1/orgs/invites/invitations', access, { email: 'o@attack.example', role: 'owner' })).status,
    201,
  );
});

test('a browser signed in before the person enrolled makes no admin key at the console, though its sign-in is recent', async () => {
  const email = 'console@attack.example';
  const tokens = await deviceLogin(app.base, email);
  assert.equal((await call('POST', '/v1/orgs', tokens.access_token, { slug: 'console-keys' })).status, 201);
  // An attacker's browser, signed in on the first step alone while the person had no factor.
  const earlier = await consolePerson(app.base, email);
  // The person adds an authenticator in their own browser.
  const own = await consolePerson(app.base, email);
  await enrollAuthenticator(own, app.now());
  app.step(60_000);
  const page = await earlier.get('/console/orgs/console-keys/keys');
  assert.equal(page.status, 200);
  const made = await earlier.post('/console/orgs/console-keys/keys', {
    name: 'backdoor',
    role: 'owner',
    form_id: FormBrowser.field(page.html, 'form_id'),
  });
  assert.ok(!/lk_test_/.test(made.html), 'no key secret shown');
  assert.match(made.html, /needs a recent sign-in/);
  const keys = await call('GET', '/v1/orgs/console-keys/keys', tokens.access_token);
  assert.deepEqual(keys.json.keys, [], 'no key was made');
});

test('a narrowed token keeps the step-up time (narrowing later does not make it recent) and acts in its project only', async () => {
  const { tokens, secret } = await enrolled('narrow@attack.example');
  assert.equal((await call('POST', '/v1/orgs', tokens.access_token, { slug: 'narrow' })).status, 201);
  assert.equal((await call('POST', '/v1/orgs/narrow/projects', tokens.access_token, { slug: 'web' })).status, 201);
  const stepped = await refresh(app.base, tokens.refresh_token, { otp: await code(secret) });
  const access = String(stepped.json.access_token);
  app.step(9 * 60_000);
  const narrowed = await postForm(`${app.base}/oauth/token`, {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: access,
    subject_token_type: TOKEN_TYPE.accessToken,
    audience: 'web',
  });
  assert.equal(narrowed.status, 200, JSON.stringify(narrowed.json));
  const claims = decodeJwt(String(narrowed.json.access_token));
  assert.equal(claims.auth_time, decodeJwt(access).auth_time);
  assert.equal(claims.acr, MFA_ACR);
  // A narrowed token acts in its project only: no key, role or policy act of the org at all.
  const keyed = await call('POST', '/v1/orgs/narrow/keys', String(narrowed.json.access_token), { name: 'k', role: 'admin' });
  assert.equal(keyed.status, 403, keyed.text);
});

test('a device code approved by a version that recorded no proof says nothing was proven', async () => {
  const old = SignInSubject.parse({ sub: 'dev:old@attack.example', email: 'old@attack.example' });
  assert.deepEqual(proofClaims(old), {});
  // And a live one: a person without factors gets pwd and no acr.
  const started = await startDeviceLogin(app.base);
  await new FormBrowser(app.base).decide(started.user_code, 'approve', 'plain@attack.example');
  const claims = decodeJwt(String((await pollToken(app.base, started.device_code)).json.access_token));
  assert.deepEqual(claims.amr, ['pwd']);
  assert.equal(claims.acr, undefined);
});

test("removing a member ends their sessions for the org: it steps up as ending someone's session does", async () => {
  const { tokens, secret } = await enrolled('remover@attack.example');
  assert.equal((await call('POST', '/v1/orgs', tokens.access_token, { slug: 'removal' })).status, 201);
  const member = await deviceLogin(app.base, 'removed@attack.example', {});
  const invitation = await call('POST', '/v1/orgs/removal/invitations', tokens.access_token, { email: 'removed@attack.example' });
  assert.equal((await call('POST', `/v1/invitations/${invitation.json.id}/accept`, member.access_token)).status, 200);
  const refused = await call('DELETE', '/v1/orgs/removal/members/removed@attack.example', tokens.access_token);
  assert.equal(refused.status, 401, refused.text);
  assert.equal(refused.json.error, 'insufficient_user_authentication');
  const org = await call('GET', '/v1/orgs/removal', tokens.access_token);
  assert.ok(JSON.stringify(org.json).includes('removed@attack.example'), 'still a member');
  const stepped = await refresh(app.base, tokens.refresh_token, { otp: await code(secret) });
  const removed = await call('DELETE', '/v1/orgs/removal/members/removed@attack.example', String(stepped.json.access_token));
  assert.equal(removed.status, 200, removed.text);
  // And the member's token no longer reaches the org.
  assert.equal((await call('GET', '/v1/orgs/removal', member.access_token)).status, 404);
});

test('turning the org’s two-step requirement on or off steps up: a sign-in that proved a factor long ago is not enough', async () => {
  const email = 'mfaowner@attack.example';
  await deviceLogin(app.base, email);
  const person = await consolePerson(app.base, email);
  const { secret } = await enrollAuthenticator(person, app.now());
  app.step(STEP);
  // A device login approved from the browser that gave the code: its tokens say mfa.
  const tokens = await deviceSignInFrom(app.base, person.browser, email);
  assert.equal(decodeJwt(tokens.access_token).acr, MFA_ACR);
  assert.equal((await call('POST', '/v1/orgs', tokens.access_token, { slug: 'strict' })).status, 201);
  assert.equal((await call('PUT', '/v1/orgs/strict/mfa', tokens.access_token, { required: true })).status, 200);
  // Hours later, the same session (refreshed, as a CLI does) turns it off.
  app.step(3 * 3600_000);
  const later = await refresh(app.base, tokens.refresh_token);
  const stale = String(later.json.access_token);
  const off = await call('PUT', '/v1/orgs/strict/mfa', stale, { required: false });
  assert.equal(off.status, 401, off.text);
  assert.equal(off.json.error, 'insufficient_user_authentication');
  assert.equal((await call('GET', '/v1/orgs/strict/mfa', stale)).json.required, true);
  const stepped = await refresh(app.base, String(later.json.refresh_token), { otp: await code(secret) });
  assert.equal((await call('PUT', '/v1/orgs/strict/mfa', String(stepped.json.access_token), { required: false })).status, 200);
});

test('an operator ends someone else’s session at the console only from a recent sign-in, as the API asks a step-up', async () => {
  const victim = await deviceLogin(app.base, 'victim@attack.example');
  const sid = String(decodeJwt(victim.access_token).sid);
  const operator = await consolePerson(app.base, OPERATOR);
  app.step(11 * 60_000);
  for (const path of [`/console/operator/sessions/${sid}/revoke`, `/console/sessions/${sid}/revoke`]) {
    const refused = await operator.post(path, { email: 'victim@attack.example' });
    assert.equal(refused.status, 403, `${path}: ${refused.status} ${refused.html.slice(0, 300)}`);
    assert.match(refused.html, /recent sign-in/);
  }
  assert.equal((await call('GET', '/v1/me', victim.access_token)).status, 200, 'the session lives');
  // Their own session, ended from the same stale browser, needs nothing.
  const own = await deviceLogin(app.base, OPERATOR);
  const ownSid = String(decodeJwt(own.access_token).sid);
  assert.equal((await operator.post(`/console/sessions/${ownSid}/revoke`)).status, 303);
  // Signed in again, the operator ends it.
  const fresh = await consolePerson(app.base, OPERATOR);
  assert.equal((await fresh.post(`/console/operator/sessions/${sid}/revoke`, { email: 'victim@attack.example' })).status, 303);
  assert.equal((await call('GET', '/v1/me', victim.access_token)).status, 401);
});

test('a provider that says eight amr values, then latchkey’s own code: the device login still completes', async () => {
  // And a step-up on such a session keeps mfa among the eight it records.
  const stepped = steppedUp(Family.parse({ ...familyBase, amr: ['pwd', 'a', 'b', 'c', 'd', 'e', 'f', 'g'] }), {
    at: 1,
    methods: ['otp'],
  });
  assert.ok(stepped.amr.includes('mfa') && stepped.amr.includes('otp') && stepped.amr.length === 8, String(stepped.amr));
  const upstream = await startFakeOidc(await freePort(), 'latchkey');
  const oidc = await startInProcess(
    { LATCHKEY_IDENTITY: 'oidc', LATCHKEY_OIDC_ISSUER: upstream.issuer, LATCHKEY_OIDC_CLIENT_ID: 'latchkey' },
    Date.now(),
  );
  try {
    const email = 'many@attack.example';
    upstream.setClaims({
      idToken: { email, email_verified: true, amr: ['pwd', 'hwk', 'swk', 'otp', 'sms', 'kba', 'pin', 'fpt'] },
    });
    const first = new FormBrowser(oidc.base);
    assert.equal((await viaUpstream(first)).headers.get('location'), '/console');
    const page = await first.request('/console/two-step');
    const csrf = FormBrowser.field(page.html, 'csrf');
    const added = await first.request('/console/two-step/totp', { csrf, form_id: FormBrowser.field(page.html, 'form_id') });
    const secret = secretOn(added.html);
    const confirm = { csrf, code: await totpCodeAt(secret, oidc.now()) };
    assert.equal((await first.request(`/console/two-step/totp/${pendingIdOn(added.html)}/confirm`, confirm)).status, 303);
    oidc.step(STEP);
    // Signing in again: the provider's eight, then latchkey's code adds mfa.
    const second = new FormBrowser(oidc.base);
    assert.equal((await viaUpstream(second)).headers.get('location'), '/signin/two-step');
    assert.equal((await secondStep(second, await totpCodeAt(secret, oidc.now()))).status, 303);
    const { access_token } = await deviceSignInFrom(oidc.base, second, email);
    const claims = decodeJwt(access_token);
    assert.equal(claims.acr, MFA_ACR);
    assert.ok((claims.amr as string[]).includes('mfa'));
    assert.equal((await apiJsonCall(oidc.base, 'GET', '/v1/me', access_token)).status, 200);
  } finally {
    oidc.close();
    await upstream.stop();
  }
});

test('removed from the org between picking it at consent and the device’s poll: no session for it is made', async () => {
  const owner = await deviceLogin(app.base, 'raceowner@attack.example');
  assert.equal((await call('POST', '/v1/orgs', owner.access_token, { slug: 'race' })).status, 201);
  const email = 'racer@attack.example';
  const theirs = await deviceLogin(app.base, email);
  const invitation = await call('POST', '/v1/orgs/race/invitations', owner.access_token, { email });
  assert.equal((await call('POST', `/v1/invitations/${invitation.json.id}/accept`, theirs.access_token)).status, 200);
  const started = await startDeviceLogin(app.base);
  const browser = new FormBrowser(app.base);
  await browser.signIn(email, started.user_code);
  const consent = await browser.request(`/device?user_code=${started.user_code}`);
  assert.match(consent.html, /name="org" value="race"/);
  const decided = await browser.request('/device/decision', {
    csrf: FormBrowser.field(consent.html, 'csrf'),
    user_code: started.user_code,
    decision: 'approve',
    org: 'race',
  });
  assert.ok(decided.status < 400);
  assert.equal((await call('DELETE', `/v1/orgs/race/members/${email}`, owner.access_token)).status, 200);
  const polled = await pollToken(app.base, started.device_code);
  assert.equal(polled.status, 400, polled.text);
  assert.equal(polled.json.error, 'access_denied');
  // Invited again later, nothing made while they were out acts in the org.
  const again = await call('POST', '/v1/orgs/race/invitations', owner.access_token, { email });
  assert.equal((await call('POST', `/v1/invitations/${again.json.id}/accept`, theirs.access_token)).status, 200);
  const sessions = await call('GET', '/v1/orgs/race/sessions', owner.access_token);
  assert.deepEqual(sessions.json.sessions, []);
});

test('removing a member at the console wants a recent sign-in, as the API’s step-up; nothing changes from a stale one', async () => {
  const owner = await consolePerson(app.base, 'consoleremover@attack.example');
  const ownerToken = (await deviceLogin(app.base, 'consoleremover@attack.example')).access_token;
  assert.equal((await call('POST', '/v1/orgs', ownerToken, { slug: 'console-removal' })).status, 201);
  const email = 'consoleremoved@attack.example';
  const theirs = await deviceLogin(app.base, email);
  const invitation = await call('POST', '/v1/orgs/console-removal/invitations', ownerToken, { email });
  assert.equal((await call('POST', `/v1/invitations/${invitation.json.id}/accept`, theirs.access_token)).status, 200);
  app.step(11 * 60_000);
  const path = `/console/orgs/console-removal/members/${encodeURIComponent(email)}/remove`;
  const stale = await owner.post(path);
  assert.equal(stale.status, 200, stale.html.slice(0, 300));
  assert.match(stale.html, /needs a recent sign-in/);
  const org = await call('GET', '/v1/orgs/console-removal', ownerToken);
  assert.ok(JSON.stringify(org.json).includes(email), 'still a member');
  const fresh = await consolePerson(app.base, 'consoleremover@attack.example');
  assert.equal((await fresh.post(path)).status, 303);
});
