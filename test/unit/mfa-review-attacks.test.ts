/**
 * Attacks from the review of passkeys, the org's two-step requirement and step-up (issue
 * #22), in process on a stepping clock. Recovery codes made on the first step alone, while
 * the person has no authenticator or passkey, are no second factor: they do not step a
 * session up, so they do not get a member past an org that requires two-step sign-in. An
 * authenticator or passkey begun by a browser on the first step alone, while the person had
 * no factor, is not confirmed by that browser once the person has turned two-step sign-in on
 * meanwhile (the window someone holding the first step alone had to plant a factor of theirs).
 * A session for an org made while the owner turns the requirement on (or removes the member)
 * is not left alive, nor is one the org's session list no longer names (it keeps the newest
 * 500): it ends at its next refresh. A passkey whose counter is always 0 signs in each time,
 * and its answer counts once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { OAuthError } from '../../shared/errors.ts';
import { MFA_ACR } from '../../shared/schemas.ts';
import { setOrgMfa } from '../../worker/accounts/mfa-policy.ts';
import { createOrg, removeMember, updateOrg } from '../../worker/accounts/orgs.ts';
import { createFamily, readFamily } from '../../worker/accounts/sessions.ts';
import { parseConfig } from '../../worker/config.ts';
import { TOTP_STEP_SECONDS, totpCodeAt } from '../../worker/mfa/totp.ts';
import type { Principal } from '../../worker/policy/roles.ts';
import { servicesLoader } from '../../worker/services.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import { storeKey } from '../../worker/store/store.ts';
import { apiJsonCall } from '../fixtures/api-call.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { addMember, deviceLogin, deviceSignInFrom, FormBrowser, oneStepSignIn, refresh } from '../fixtures/oauth-client.ts';
import { addPasskey, answerWithPasskey, beginPasskey, passkeyRequest } from '../fixtures/passkeys.ts';
import { SoftAuthenticator } from '../fixtures/soft-authenticator.ts';
import {
  addAuthenticator,
  enrollAuthenticator,
  firstStep,
  makeRecoveryCodes,
  pendingIdOn,
  secretOn,
  storedWebSessions,
  TWO_STEP,
} from '../fixtures/two-step.ts';

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

/** The web sessions (browser sign-ins) of `email` as the store keeps them. */
const webSessionsOf = (email: string) => storedWebSessions(app.store).filter((session) => session.email === email);

/** How many confirmed authenticator apps the person's factor record holds. */
function confirmedTotp(email: string): number {
  const found = Object.entries(app.store.dump()).filter(([key]) => key.startsWith('mfa:') && key.includes(email));
  assert.equal(found.length, 1, 'one factor record');
  const record = JSON.parse((found[0] as [string, string])[1]) as { totp: { confirmedAt: number | null }[] };
  return record.totp.filter((factor) => factor.confirmedAt !== null).length;
}

test('an authenticator begun on the first step alone is not confirmed by that browser once the person turned two-step sign-in on', async () => {
  const email = 'plant-totp@review.example';
  // Someone with the person's first step alone (a stolen upstream password) begins an authenticator of theirs...
  const intruder = await consolePerson(app.base, email);
  const begun = await addAuthenticator(intruder);
  assert.equal(begun.status, 201);
  const planted = { secret: secretOn(begun.html), id: pendingIdOn(begun.html) };
  // ...the person turns two-step sign-in on with their own authenticator...
  const owner = await consolePerson(app.base, email);
  await enrollAuthenticator(owner, app.now());
  app.step(STEP);
  // ...and the intruder's browser, which proved no second factor, confirms theirs within its 15 minutes.
  const confirmed = await intruder.post(`${TWO_STEP}/totp/${planted.id}/confirm`, {
    code: await totpCodeAt(planted.secret, app.now()),
  });
  assert.notEqual(confirmed.status, 303, 'the intruder’s authenticator was confirmed');
  assert.match(confirmed.html, /sign in again/i);
  assert.deepEqual(confirmedTotp(email), 1, 'the person’s own authenticator alone is confirmed');
  assert.ok(
    webSessionsOf(email).filter((session) => session.mfaAt !== null).length === 1,
    'only the person’s own browser proved a second factor',
  );
  // A browser that proved the person's factor may still add a second authenticator.
  const second = await addAuthenticator(owner);
  assert.equal(second.status, 201);
  const ok = await owner.post(`${TWO_STEP}/totp/${pendingIdOn(second.html)}/confirm`, {
    code: await totpCodeAt(secretOn(second.html), app.now()),
  });
  assert.equal(ok.status, 303, ok.html.slice(0, 400));
});

test('a passkey begun on the first step alone is not added by that browser once the person turned two-step sign-in on', async () => {
  const email = 'plant-passkey@review.example';
  const intruder = await consolePerson(app.base, email);
  const { challenge } = await beginPasskey(intruder);
  const owner = await consolePerson(app.base, email);
  await enrollAuthenticator(owner, app.now());
  app.step(STEP);
  const { json } = await new SoftAuthenticator(app.base).register(challenge);
  const added = await intruder.post(`${TWO_STEP}/passkey/confirm`, { response: json, name: 'Mine now' });
  assert.notEqual(added.status, 303, 'the intruder’s passkey was added');
  assert.match(added.html, /sign in again/i);
  assert.doesNotMatch((await owner.get(TWO_STEP)).html, /Mine now/);
  assert.ok(
    webSessionsOf(email).filter((session) => session.mfaAt !== null).length === 1,
    'only the person’s own browser proved a second factor',
  );
});

/**
 * The store of an in-process deployment whose next read of `key` first lets `meanwhile` run
 * to the end: a request that read the record just before another changed it, on purpose.
 */
function racingStore(clock: () => number) {
  const inner = memoryStore({ now: clock });
  let armed: { key: string; meanwhile: () => Promise<unknown> } | null = null;
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name !== 'get' || typeof value !== 'function') return value;
      return async (key: string) => {
        const read = await value.call(target, key);
        if (armed && key === armed.key) {
          const { meanwhile } = armed;
          armed = null;
          await meanwhile();
        }
        return read;
      };
    },
  });
  return { store, arm: (key: string, meanwhile: () => Promise<unknown>) => (armed = { key, meanwhile }) };
}

/**
 * A member's session for org `slug` being made (its device login approved) while `meanwhile`
 * runs between the org's check and the session's write: the session made, or the refusal.
 */
async function sessionMadeWhile(
  slug: string,
  meanwhile: (services: Awaited<ReturnType<ReturnType<typeof servicesLoader>>>, owner: Principal) => Promise<unknown>,
) {
  const clock = () => Date.UTC(2026, 8, 1, 9, 0, 0);
  const { store, arm } = racingStore(clock);
  const config = parseConfig({ LATCHKEY_ISSUER: 'http://127.0.0.1:8787', LATCHKEY_IDENTITY: 'dev' });
  const services = await servicesLoader(config, { store, now: clock })();
  const owner = { sub: `sub-owner@${slug}.example`, email: `owner@${slug}.example` };
  await createOrg(services, { slug }, owner);
  const member = `m@${slug}.example`;
  await updateOrg(services, slug, (org) => ({ ...org, members: { ...org.members, [member]: 'member' } }));
  const principal: Principal = { kind: 'user', ...owner, sid: null, org: null, project: null, mfa: true };
  arm(storeKey('org', slug), () => meanwhile(services, principal));
  const init = {
    sub: `sub-${member}`,
    email: member,
    clientId: 'latchkey-cli',
    scope: 'openid',
    device: { address: null, userAgent: null },
    deviceName: null,
    org: slug,
    amr: ['pwd'],
    authTime: clock(),
    mfaAt: null,
  };
  const made = await createFamily(services, init, SOURCE).then(
    async ({ sid }) => (await readFamily(services, sid))?.revoked ?? 'alive',
    (error: unknown) => error,
  );
  return made;
}

const SOURCE = { actor: 'owner@race.example', requestId: 'req_race' };

test('a session for the org made while the owner turns the requirement on, or removes the member, is not left alive', async () => {
  let ended: number | undefined;
  const turning = await sessionMadeWhile('race-mfa', async (services, owner) => {
    ended = (await setOrgMfa(services, owner, 'race-mfa', async () => true, SOURCE)).sessions_ended;
  });
  assert.equal(ended, 0, 'the switch ran while the session was being made, and found it not yet');
  assert.ok(turning instanceof OAuthError, `a one-step session for an org that requires two-step sign-in: ${String(turning)}`);
  assert.equal(turning.code, 'mfa_required');
  const removing = await sessionMadeWhile('race-rm', (services, owner) =>
    removeMember(services, owner, 'race-rm', 'm@race-rm.example', SOURCE),
  );
  assert.ok(removing instanceof OAuthError, `a removed member's session for the org: ${String(removing)}`);
  assert.equal(removing.code, 'access_denied');
});

test('a session for the org pushed out of its list (500 newer ones) is still ended by the requirement, or by a removal, at its next refresh', async () => {
  const member = 'm@capped.example';
  const ownerEmail = 'owner@capped.example';
  await deviceLogin(app.base, ownerEmail);
  const owner = await consolePerson(app.base, ownerEmail);
  await enrollAuthenticator(owner, app.now());
  app.step(STEP);
  const ownerTokens = await deviceSignInFrom(app.base, owner.browser, ownerEmail);
  for (const slug of ['capped', 'capped-rm']) {
    assert.equal((await call('POST', '/v1/orgs', ownerTokens.access_token, { slug })).status, 201);
    await addMember(app.base, ownerTokens.access_token, slug, member, 'member');
  }
  const pushedOut = async (slug: string) => {
    const session = await oneStepSignIn(app.base, member, slug);
    // The org's list keeps its newest 500 sessions; the member made 500 more since.
    const newer = Array.from({ length: 500 }, (_, n) => ({
      sid: `ses_${String(n).padStart(20, '0')}`,
      email: member,
      expiresAt: app.now() + 86_400_000,
    }));
    await app.store.put(storeKey('orgSessionIndex', slug), JSON.stringify(newer), 86_400);
    return session;
  };
  const forCapped = await pushedOut('capped');
  const turned = await call('PUT', '/v1/orgs/capped/mfa', ownerTokens.access_token, { required: true });
  assert.equal(turned.json.sessions_ended, 0, 'the switch could not find it');
  const refreshed = await refresh(app.base, forCapped.refresh_token);
  assert.equal(refreshed.status, 400, `a one-step session for an org that requires two-step sign-in: ${refreshed.text}`);
  assert.equal(refreshed.json.error, 'invalid_grant');

  const forRemoved = await pushedOut('capped-rm');
  const removed = await call('DELETE', `/v1/orgs/capped-rm/members/${member}`, ownerTokens.access_token);
  assert.equal(removed.status, 200, removed.text);
  const again = await refresh(app.base, forRemoved.refresh_token);
  assert.equal(again.status, 400, `a removed member's session for the org: ${again.text}`);
});

test('a passkey whose counter is always 0 (as many synced passkeys are) signs in each time, and its answer still counts once', async () => {
  const email = 'zero@review.example';
  const person = await consolePerson(app.base, email);
  const authenticator = new SoftAuthenticator(app.base, undefined, { synced: true });
  const credential = await addPasskey(person, authenticator);
  let spent = '';
  for (let n = 0; n < 2; n++) {
    const browser = new FormBrowser(app.base);
    assert.equal((await firstStep(browser, email)).headers.get('location'), '/signin/two-step');
    const { csrf, challenge } = await passkeyRequest(browser);
    const answer = await authenticator.assert(credential, challenge ?? '', { counter: 0 });
    const signedIn = await answerWithPasskey(browser, csrf, answer);
    assert.equal(signedIn.status, 303, `sign-in ${n + 1} with counter 0: ${signedIn.status}`);
    spent = answer;
  }
  // The last answer, replayed in a new sign-in: its challenge was taken, so it counts for nothing.
  const browser = new FormBrowser(app.base);
  await firstStep(browser, email);
  const { csrf } = await passkeyRequest(browser);
  assert.equal((await answerWithPasskey(browser, csrf, spent)).status, 400);
});
