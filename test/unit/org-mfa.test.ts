/**
 * An org's "require two-step sign-in" policy in process (worker/accounts/mfa-policy.ts,
 * worker/policy/roles.ts), on a stepping clock: who may turn it on (the owner as a whole
 * person whose own sign-in proved a second factor; not an admin, a key, a sign-in bound to
 * the org or a narrowed token), what `authorize` then refuses (a member's sign-in without
 * a second factor, with a message saying how to get through; never a key, and an outsider
 * still learns nothing), which sessions it ends (the org's own without a second factor:
 * not those with one, not the same people's for another org or for no org), and whom it
 * binds to keep a factor; and the console's switch, shown to the owner only once their own
 * sign-in proved a second factor, wanting a recent sign-in.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OAuthError } from '../../shared/errors.ts';
import type { AccessTokenClaims } from '../../shared/schemas.ts';
import { readAuditPage } from '../../worker/accounts/audit.ts';
import { mfaRequiredFor, readOrgMfa, setOrgMfa } from '../../worker/accounts/mfa-policy.ts';
import { createOrg, noteMembership, readOrg, updateOrg } from '../../worker/accounts/orgs.ts';
import { createFamily, readFamily } from '../../worker/accounts/sessions.ts';
import { parseConfig } from '../../worker/config.ts';
import { authorize, type Principal, principalOf } from '../../worker/policy/roles.ts';
import { servicesLoader } from '../../worker/services.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import { storeKey } from '../../worker/store/store.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { startInProcess } from '../fixtures/in-process.ts';
import { enrollAuthenticator } from '../fixtures/two-step.ts';

const SOURCE = { actor: 'owner@mfa.example', requestId: 'req_test' };

async function setUp() {
  let clock = Date.UTC(2026, 5, 1, 9, 0, 0);
  const store = memoryStore({ now: () => clock });
  const config = parseConfig({ LATCHKEY_ISSUER: 'http://127.0.0.1:8787', LATCHKEY_IDENTITY: 'dev' });
  const services = await servicesLoader(config, { store, now: () => clock })();
  return {
    services,
    store,
    step: (ms: number) => {
      clock += ms;
    },
  };
}
type Services = Awaited<ReturnType<typeof setUp>>['services'];

const person = (email: string, over: Partial<Extract<Principal, { kind: 'user' }>> = {}): Principal => ({
  kind: 'user',
  sub: `sub-${email}`,
  email,
  sid: null,
  org: null,
  project: null,
  mfa: false,
  ...over,
});
const key = (org: string, role: 'owner' | 'admin' | 'member'): Principal => ({
  kind: 'api_key',
  id: `key_${role}`,
  org,
  project: null,
  role,
});

/** An org owned by owner@mfa.example with an admin and a member (by their records, as an accepted invitation leaves them). */
async function orgWithPeople(services: Services, slug: string) {
  await createOrg(services, { slug }, { sub: 'sub-owner@mfa.example', email: 'owner@mfa.example' });
  await updateOrg(services, slug, (org) => ({
    ...org,
    members: { ...org.members, 'admin@mfa.example': 'admin', 'member@mfa.example': 'member' },
  }));
  for (const email of ['admin@mfa.example', 'member@mfa.example']) await noteMembership(services, email, slug, true);
}

const refusal = (code: string, pattern?: RegExp) => (error: unknown) => {
  assert.ok(error instanceof OAuthError, String(error));
  assert.equal(error.code, code, error.message);
  if (pattern) assert.match(error.message, pattern);
  return true;
};

/** A session of `email`, for `org` or for no org, that proved a second factor or not. */
async function session(services: Services, email: string, org: string | null, mfa: boolean | 'old') {
  const proof =
    mfa === 'old'
      ? { amr: [], authTime: null, mfaAt: null }
      : mfa
        ? { amr: ['pwd', 'mfa', 'otp'], authTime: services.now(), mfaAt: services.now() }
        : { amr: ['pwd'], authTime: services.now(), mfaAt: null };
  const { sid } = await createFamily(
    services,
    {
      sub: `sub-${email}`,
      email,
      clientId: 'latchkey-cli',
      scope: 'openid',
      device: { address: null, userAgent: null },
      deviceName: null,
      org,
      ...proof,
    },
    SOURCE,
  );
  return sid;
}
const alive = async (services: Services, sid: string) => (await readFamily(services, sid))?.revoked === null;

describe('authorize in an org that requires two-step sign-in', () => {
  const org = { slug: 'acme', members: { 'ada@acme.example': 'member' as const }, requireMfa: true };

  test("a member's sign-in without a second factor is refused, saying how to get through; with one it passes", () => {
    assert.throws(
      () => authorize(org, person('ada@acme.example'), 'org:read'),
      refusal('mfa_required', /org "acme" requires two-step sign-in: add an authenticator at \/console\/two-step.*sign in again/),
    );
    assert.equal(authorize(org, person('ada@acme.example', { mfa: true }), 'org:read'), 'member');
    const status = (() => {
      try {
        authorize(org, person('ada@acme.example'), 'org:read');
      } catch (error) {
        return (error as OAuthError).status;
      }
    })();
    assert.equal(status, 403);
  });

  test('a token narrowed to a project or bound to the org is refused the same; a key is not a person and passes', () => {
    assert.throws(
      () => authorize(org, person('ada@acme.example', { org: 'acme', project: 'web' }), 'org:read'),
      refusal('mfa_required'),
    );
    assert.throws(() => authorize(org, person('ada@acme.example', { org: 'acme' }), 'org:read'), refusal('mfa_required'));
    assert.equal(authorize(org, key('acme', 'member'), 'org:read'), 'member');
  });

  test('an outsider still learns nothing (not found, not the policy)', () => {
    assert.throws(() => authorize(org, person('eve@evil.example'), 'org:read'), refusal('not_found'));
    assert.throws(() => authorize(org, key('globex', 'owner'), 'org:read'), refusal('not_found'));
  });

  test('an org that does not require it, or a record from before the policy, lets a one-step sign-in in', () => {
    assert.equal(authorize({ ...org, requireMfa: false }, person('ada@acme.example'), 'org:read'), 'member');
    assert.equal(authorize({ slug: 'acme', members: org.members }, person('ada@acme.example'), 'org:read'), 'member');
  });

  test("principalOf reads the token's amr: mfa only when it says so", () => {
    const claims = (amr?: string[]): AccessTokenClaims => ({
      iss: 'x',
      sub: 's',
      aud: 'x',
      exp: 2,
      iat: 1,
      jti: 'j',
      scope: '',
      org: null,
      project: null,
      kind: 'user',
      sid: 'ses_x',
      client_id: 'latchkey-cli',
      ...(amr ? { amr } : {}),
    });
    const mfaOf = (principal: Principal) => principal.kind === 'user' && principal.mfa;
    assert.equal(mfaOf(principalOf(claims(['pwd', 'mfa', 'otp']))), true);
    assert.equal(mfaOf(principalOf(claims(['pwd', 'otp']))), false, 'a code without the mfa mark is not taken as one');
    assert.equal(mfaOf(principalOf(claims(['pwd']))), false);
    assert.equal(mfaOf(principalOf(claims())), false, 'a token from before amr');
  });
});

describe('the policy itself', () => {
  test('only the owner, as a whole person with a second factor, turns it on; the trail records it', async () => {
    const { services } = await setUp();
    await orgWithPeople(services, 'acme');
    const on = async () => true;
    const refusedBy = async (who: Principal, code: string) =>
      assert.rejects(setOrgMfa(services, who, 'acme', on, SOURCE), refusal(code));
    await refusedBy(person('admin@mfa.example', { mfa: true }), 'forbidden');
    await refusedBy(person('member@mfa.example', { mfa: true }), 'forbidden');
    await refusedBy(key('acme', 'owner'), 'forbidden');
    await refusedBy(person('owner@mfa.example', { mfa: true, org: 'acme' }), 'forbidden');
    await refusedBy(person('owner@mfa.example', { mfa: true, project: 'web' }), 'forbidden');
    await refusedBy(person('eve@evil.example', { mfa: true }), 'not_found');
    // The owner's own one-step sign-in: told to add a factor first rather than locked out.
    await assert.rejects(
      setOrgMfa(services, person('owner@mfa.example'), 'acme', on, SOURCE),
      refusal(
        'mfa_required',
        /^to require two-step sign-in in org "acme", sign in with it yourself first: add an authenticator at \/console\/two-step/,
      ),
    );
    assert.equal((await readOrg(services, 'acme')).requireMfa, false, 'nothing changed by the refusals');

    const turned = await setOrgMfa(services, person('owner@mfa.example', { mfa: true }), 'acme', on, SOURCE);
    assert.deepEqual(turned, { org: 'acme', required: true, sessions_ended: 0 });
    assert.equal((await readOrg(services, 'acme')).requireMfa, true);
    const actions = (await readAuditPage(services, 'acme', 0, 200)).entries.map((entry) => [entry.action, entry.actor]);
    assert.deepEqual(actions.at(-1), ['org.mfa_required', 'owner@mfa.example']);

    // Members read it: with a second factor; a key too.
    assert.deepEqual(await readOrgMfa(services, person('member@mfa.example', { mfa: true }), 'acme'), {
      org: 'acme',
      required: true,
    });
    assert.deepEqual(await readOrgMfa(services, key('acme', 'member'), 'acme'), { org: 'acme', required: true });
    await assert.rejects(readOrgMfa(services, person('member@mfa.example'), 'acme'), refusal('mfa_required'));

    // The same again changes nothing and writes nothing; off is written and audited.
    const seq = (await readAuditPage(services, 'acme', 0, 200)).entries.length;
    await setOrgMfa(services, person('owner@mfa.example', { mfa: true }), 'acme', on, SOURCE);
    assert.equal((await readAuditPage(services, 'acme', 0, 200)).entries.length, seq);
    const off = await setOrgMfa(services, person('owner@mfa.example', { mfa: true }), 'acme', async () => false, SOURCE);
    assert.equal(off.required, false);
    assert.equal((await readAuditPage(services, 'acme', 0, 200)).entries.at(-1)?.action, 'org.mfa_not_required');
  });

  test("the body is read only once the caller is let in (an outsider's bad body is the org's 404)", async () => {
    const { services } = await setUp();
    await orgWithPeople(services, 'acme');
    let read = false;
    const body = async () => {
      read = true;
      return true;
    };
    await assert.rejects(
      setOrgMfa(services, person('eve@evil.example', { mfa: true }), 'acme', body, SOURCE),
      refusal('not_found'),
    );
    await assert.rejects(setOrgMfa(services, key('acme', 'owner'), 'acme', body, SOURCE), refusal('forbidden'));
    assert.equal(read, false);
  });

  test("turning it on ends the org's sessions without a second factor, and no others", async () => {
    const { services } = await setUp();
    await orgWithPeople(services, 'acme');
    await orgWithPeople(services, 'globex');
    const oneStep = await session(services, 'member@mfa.example', 'acme', false);
    const older = await session(services, 'admin@mfa.example', 'acme', 'old');
    const proven = await session(services, 'member@mfa.example', 'acme', true);
    const elsewhere = await session(services, 'member@mfa.example', 'globex', false);
    const whole = await session(services, 'member@mfa.example', null, false);
    const ownersWhole = await session(services, 'owner@mfa.example', null, false);

    const turned = await setOrgMfa(services, person('owner@mfa.example', { mfa: true }), 'acme', async () => true, SOURCE);
    assert.equal(turned.sessions_ended, 2);
    assert.equal(await alive(services, oneStep), false);
    assert.equal(await alive(services, older), false, 'a session from before sign-ins recorded a proof proved none');
    assert.equal(await alive(services, proven), true);
    assert.equal(await alive(services, elsewhere), true, "another org's session is not acme's to end");
    assert.equal(await alive(services, whole), true, 'a whole-person session is not the org’s to end');
    assert.equal(await alive(services, ownersWhole), true);

    const entries = (await readAuditPage(services, 'acme', 0, 200)).entries;
    const revoked = entries.filter((entry) => entry.action === 'session.revoked').map((entry) => entry.subject);
    assert.deepEqual(new Set(revoked), new Set([oneStep, older]));
    assert.match(entries.at(-1)?.detail ?? '', /^2 sessions without two-step sign-in ended$/);
    const globex = (await readAuditPage(services, 'globex', 0, 200)).entries;
    assert.ok(!globex.some((entry) => entry.action === 'session.revoked'), "nothing of acme's in globex's trail");
  });
});

describe('whom the policy binds to keep a factor', () => {
  test("a member of an org that requires it, by the org's own record", async () => {
    const { services, store } = await setUp();
    await orgWithPeople(services, 'acme');
    const member = { sub: 'sub-member@mfa.example', email: 'Member@MFA.example' };
    assert.equal(await mfaRequiredFor(services, member), false);
    await setOrgMfa(services, person('owner@mfa.example', { mfa: true }), 'acme', async () => true, SOURCE);
    assert.equal(await mfaRequiredFor(services, member), true);
    assert.equal(await mfaRequiredFor(services, { sub: 'x', email: null }), false);
    // Named in the index only (an invitation not accepted, a removal half done): not bound.
    await noteMembership(services, 'stranger@mfa.example', 'acme', true);
    assert.equal(await mfaRequiredFor(services, { sub: 'y', email: 'stranger@mfa.example' }), false);
    // An org record from before the policy reads as not requiring it.
    const raw = JSON.parse((await store.get(storeKey('org', 'acme'))) ?? '{}');
    delete raw.requireMfa;
    await store.put(storeKey('org', 'acme'), JSON.stringify(raw), 3600);
    assert.equal(await mfaRequiredFor(services, member), false);
    assert.equal((await readOrg(services, 'acme')).requireMfa, false);
  });
});

describe('the switch on the console (in process, on a stepping clock)', () => {
  test('the owner sees it only once their own sign-in proved a second factor; a stale sign-in is sent to sign in again, nothing changed', async () => {
    const app = await startInProcess({}, Date.UTC(2026, 5, 1, 9));
    try {
      const owner = await consolePerson(app.base, 'owner@console-mfa.example');
      assert.equal((await owner.post('/console/orgs', { slug: 'acme' })).status, 303);
      const before = await owner.get('/console/orgs/acme');
      assert.match(before.html, /Not required/);
      assert.match(before.html, /first sign in with two-step sign-in yourself: <a href="\/console\/two-step">/);
      assert.doesNotMatch(before.html, /Require two-step sign-in<\/button>/);

      await enrollAuthenticator(owner, app.now());
      const ready = await owner.get('/console/orgs/acme');
      assert.match(ready.html, /Require two-step sign-in<\/button>/);

      app.step(10 * 60_000 + 1);
      const stale = await owner.post('/console/orgs/acme/mfa', { required: 'true' });
      assert.equal(stale.status, 200);
      assert.match(stale.html, /needs a recent sign-in/);
      assert.doesNotMatch((await owner.get('/console/orgs/acme')).html, /<p>Required/);
    } finally {
      app.close();
    }
  });
});
