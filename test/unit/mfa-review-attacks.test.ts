/**
 * Attacks from the review of passkeys, the org's two-step requirement and step-up (issue
 * #22), in process on a stepping clock. Recovery codes made on the first step alone, while
 * the person has no authenticator or passkey, are no second factor: they do not step a
 * session up, so they do not get a member past an org that requires two-step sign-in.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { MFA_ACR } from '../../shared/schemas.ts';
import { TOTP_STEP_SECONDS } from '../../worker/mfa/totp.ts';
import { apiJsonCall } from '../fixtures/api-call.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { addMember, deviceLogin, refresh } from '../fixtures/oauth-client.ts';
import { deviceSignInFrom } from '../fixtures/org-mfa.ts';
import { enrollAuthenticator, makeRecoveryCodes } from '../fixtures/two-step.ts';

let app: InProcess;
const STEP = TOTP_STEP_SECONDS * 1000;

before(async () => {
  app = await startInProcess({}, Date.UTC(2026, 8, 1, 9, 0, 0));
});
after(() => app?.close());

const call = (method: string, path: string, token: string, body?: Record<string, unknown>) =>
  apiJsonCall(app.base, method, path, token, body);

/** An org `slug` whose owner (with an authenticator) requires two-step sign-in, with `member` in it (no factor). */
async function strictOrgWith(slug: string, member: string) {
  const ownerEmail = `owner@${slug}.example`;
  await deviceLogin(app.base, ownerEmail);
  const owner = await consolePerson(app.base, ownerEmail);
  await enrollAuthenticator(owner, app.now());
  app.step(STEP);
  const ownerTokens = await deviceSignInFrom(app.base, owner.browser, ownerEmail);
  assert.equal((await call('POST', '/v1/orgs', ownerTokens.access_token, { slug })).status, 201);
  const memberTokens = await deviceLogin(app.base, member);
  await addMember(app.base, ownerTokens.access_token, slug, member, 'member', memberTokens.access_token);
  const turned = await call('PUT', `/v1/orgs/${slug}/mfa`, ownerTokens.access_token, { required: true });
  assert.equal(turned.status, 200, turned.text);
  return memberTokens;
}

test('recovery codes made without a factor do not step a session up, nor get past an org that requires two-step sign-in', async () => {
  const member = 'rc@strict-rc.example';
  const tokens = await strictOrgWith('strict-rc', member);
  assert.equal((await call('GET', '/v1/orgs/strict-rc', tokens.access_token)).json.error, 'mfa_required');
  // The member (or whoever holds their first step alone) makes recovery codes at the console:
  // with no authenticator or passkey, the first step is all it asks.
  const person = await consolePerson(app.base, member);
  const [first] = await makeRecoveryCodes(person);
  const stepped = await refresh(app.base, tokens.refresh_token, { otp: String(first) });
  assert.equal(stepped.status, 400, JSON.stringify(stepped.json));
  assert.equal(stepped.json.error, 'invalid_request');
  assert.match(String(stepped.json.error_description), /no second factor to prove; add an authenticator app/);
  // The refresh token was not spent, and what it brings back proves nothing.
  const plain = await refresh(app.base, tokens.refresh_token);
  assert.equal(plain.status, 200, JSON.stringify(plain.json));
  const access = String(plain.json.access_token);
  assert.notEqual(decodeJwt(access).acr, MFA_ACR);
  assert.equal((await call('GET', '/v1/orgs/strict-rc', access)).json.error, 'mfa_required');
  // Once an authenticator turns two-step sign-in on, codes made then answer a step-up.
  await enrollAuthenticator(person, app.now());
  app.step(STEP);
  const [code] = await makeRecoveryCodes(person);
  const now = await refresh(app.base, String(plain.json.refresh_token), { otp: String(code) });
  assert.equal(now.status, 200, JSON.stringify(now.json));
  assert.equal(decodeJwt(String(now.json.access_token)).acr, MFA_ACR);
  assert.equal((await call('GET', '/v1/orgs/strict-rc', String(now.json.access_token))).status, 200);
});
