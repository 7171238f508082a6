/**
 * Signing in through an org's SSO connection, attacked, in process: a deployment whose own
 * provider is an OpenID provider (LATCHKEY_IDENTITY=oidc), two orgs with their own
 * providers (test/fixtures/fake-oidc.ts, which sign whatever the test says), domains
 * verified through the loopback DoH resolver. Home-realm discovery by email domain (its
 * spellings too); org A's provider vouching for an address of org B's domain, of a
 * sub-domain B verified, of no org's domain; ID tokens for another audience or from another
 * issuer; the answer opened in another browser, twice, after the connection was turned off
 * or its secret replaced, after the domain was removed; enforcement against every spelling of
 * the domain and its sub-domains, and for a person removed from the org; just-in-time
 * membership on and off, never changing a member's role, never owner; the operator's
 * LATCHKEY_ALLOWED_EMAIL_DOMAINS over org sign-ins; step-up on SSO and domain writes; the
 * client secrets in no page, answer or log line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { enforcedMessage } from '../../worker/accounts/sso-realm.ts';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { type ConsolePerson, consolePerson } from '../fixtures/console-http.ts';
import { type DohResolver, startDohResolver } from '../fixtures/doh-resolver.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin, deviceSignInFrom, FormBrowser } from '../fixtures/oauth-client.ts';
import {
  asserting,
  connectSso,
  type FakeIdp,
  orgProviderLink,
  postSignIn,
  providerAnswer,
  signInTrip,
  upstreamDeviceLogin,
  verifyDomain,
} from '../fixtures/sso-sign-in.ts';
import { enrollAuthenticator, signedIn, TWO_STEP } from '../fixtures/two-step.ts';
import { freePort } from '../fixtures/worker-server.ts';

const ACME = { id: 'acme-sso', secret: 'acme-sso-secret-Hq7vX2pL9wRz' };
const GLOBEX = { id: 'globex-sso', secret: 'globex-sso-secret-Tm4kB8nC3yQe' };
const DEPLOYMENT_CLIENT = 'latchkey';

let app: InProcess;
let resolver: DohResolver;
const idp = {} as Record<'deployment' | 'acme' | 'globex', FakeIdp>;
const owners = { acme: '', globex: '' };
const logged: string[] = [];
const pages: string[] = [];
const consoleMethods = ['log', 'error', 'warn', 'info'] as const;
const originals = consoleMethods.map((name) => console[name]);

const members = async (org = 'acme') =>
  Object.fromEntries(
    ((await ok(apiCall(app.base, 'GET', `/v1/orgs/${org}`, owners.acme))).members as { email: string; role: string }[]).map(
      (member) => [member.email, member.role],
    ),
  );
const putSso = (body: Record<string, unknown>, org: 'acme' | 'globex' = 'acme') =>
  apiCall(app.base, 'PUT', `/v1/orgs/${org}/sso`, owners[org], {
    issuer: idp[org].issuer,
    client_id: org === 'acme' ? ACME.id : GLOBEX.id,
    ...body,
  });

/** A sign-in in a fresh browser: `typed` into the form, `said` by whichever provider it led to. */
async function trip(typed: string, said = typed, browser = new FormBrowser(app.base)) {
  for (const provider of Object.values(idp)) asserting(provider, said);
  const done = await signInTrip(browser, typed);
  pages.push(done.answer.html);
  return { ...done, browser };
}

/** The org provider's answer, kept to open later (the sign-in is begun, not finished). */
async function begun(typed: string, said = typed) {
  const browser = new FormBrowser(app.base);
  for (const provider of Object.values(idp)) asserting(provider, said);
  const link = orgProviderLink((await postSignIn(browser, typed)).html);
  assert.ok(link, `${typed} was not led to an org's provider`);
  return { browser, callback: await providerAnswer(link) };
}

const refusedAtCallback = (answer: { status: number; html: string; headers: Headers }, message: RegExp) => {
  assert.ok(answer.status >= 400 && answer.status < 500, `status ${answer.status}: ${answer.html.slice(0, 300)}`);
  assert.match(answer.html, message);
  assert.doesNotMatch(answer.headers.get('set-cookie') ?? '', /lk_session/);
};

before(async () => {
  for (const [index, name] of consoleMethods.entries()) {
    const original = originals[index] as (...args: unknown[]) => void;
    console[name] = (...args: unknown[]) => {
      logged.push(args.map(String).join(' '));
      original(...args);
    };
  }
  resolver = await startDohResolver();
  idp.deployment = await startFakeOidc(await freePort(), DEPLOYMENT_CLIENT);
  idp.acme = await startFakeOidc(await freePort(), ACME.id);
  idp.globex = await startFakeOidc(await freePort(), GLOBEX.id);
  // The real clock: the fake providers date their ID tokens by it.
  app = await startInProcess(
    {
      LATCHKEY_IDENTITY: 'oidc',
      LATCHKEY_OIDC_ISSUER: idp.deployment.issuer,
      LATCHKEY_OIDC_CLIENT_ID: DEPLOYMENT_CLIENT,
      LATCHKEY_DOH_URL: resolver.url,
    },
    Date.now(),
  );
  owners.acme = (await upstreamDeviceLogin(app.base, idp.deployment, 'owner@acme.example')).access_token;
  owners.globex = (await upstreamDeviceLogin(app.base, idp.deployment, 'owner@globex.example')).access_token;
  for (const org of ['acme', 'globex'] as const) {
    await ok(apiCall(app.base, 'POST', '/v1/orgs', owners[org], { slug: org }));
  }
  await verifyDomain(app.base, resolver, owners.acme, 'acme', 'acme.test');
  // An IDN domain, as DNS spells it (bücher.test).
  await verifyDomain(app.base, resolver, owners.acme, 'acme', 'xn--bcher-kva.test');
  await verifyDomain(app.base, resolver, owners.globex, 'globex', 'globex.test');
  // A sub-domain of acme's that globex proved for itself: the most specific domain decides.
  await verifyDomain(app.base, resolver, owners.globex, 'globex', 'globex.acme.test');
});
after(async () => {
  for (const [index, name] of consoleMethods.entries()) console[name] = originals[index] as never;
  app?.close();
  await Promise.all([resolver?.stop(), ...Object.values(idp).map((provider) => provider?.stop())]);
});

describe('home-realm discovery', () => {
  test('a verified domain whose org has no enabled connection signs in at the deployment’s provider', async () => {
    const done = await trip('ann@acme.test');
    assert.equal(done.via, 'deployment');
    assert.equal(done.answer.status, 303, done.answer.html);
  });

  test("each org's domain goes to its own provider (state, nonce, PKCE, login_hint), anyone else to the deployment's", async () => {
    await connectSso(app.base, owners.acme, 'acme', idp.acme, ACME);
    await connectSso(app.base, owners.globex, 'globex', idp.globex, GLOBEX);
    const led = async (email: string) => {
      const posted = await postSignIn(new FormBrowser(app.base), email);
      const link = orgProviderLink(posted.html);
      return link ?? new URL(posted.headers.get('location') ?? '');
    };
    const acme = await led('ann@acme.test');
    assert.equal(acme.origin, idp.acme.issuer);
    assert.equal(acme.searchParams.get('client_id'), ACME.id);
    assert.equal(acme.searchParams.get('redirect_uri'), `${app.base}/sso/callback`);
    assert.equal(acme.searchParams.get('code_challenge_method'), 'S256');
    assert.match(acme.searchParams.get('state') ?? '', /^[\w-]{32}$/);
    assert.ok(acme.searchParams.get('nonce'));
    assert.equal(acme.searchParams.get('login_hint'), 'ann@acme.test');
    // Any spelling of the domain, and its sub-domains.
    for (const email of [' Ann@ACME.Test ', 'ann@acme.test.', 'ann@eu.acme.test', 'ann@bücher.test', 'ann@BÜCHER.TEST']) {
      assert.equal((await led(email)).origin, idp.acme.issuer, email);
    }
    assert.equal((await led('gil@globex.test')).origin, idp.globex.issuer);
    assert.equal((await led('gil@globex.acme.test')).origin, idp.globex.issuer, 'the most specific verified domain decides');
    for (const email of ['zed@elsewhere.test', 'zed@notacme.test', '']) {
      assert.equal((await led(email)).origin, idp.deployment.issuer, email || 'no email');
    }
  });

  test("a sign-in through the org's provider is the browser's sign-in as the provider's email", async () => {
    const done = await trip('ann@acme.test');
    assert.equal(done.via, 'org');
    assert.equal(done.answer.status, 303, done.answer.html);
    assert.equal(done.answer.headers.get('location'), '/console');
    assert.ok(await signedIn(done.browser));
    assert.match((await done.browser.request('/console')).html, /ann@acme\.test/);
  });
});

describe('confirming it is you, and what is not looked up', () => {
  test("a recent sign-in asked again goes to the org's provider with prompt=login and wants its auth_time", async () => {
    const reauth = async (claims: Record<string, unknown>) => {
      const browser = new FormBrowser(app.base);
      const page = await browser.request('/console');
      const posted = await browser.request('/signin', {
        csrf: FormBrowser.field(page.html, 'csrf'),
        return_to: '/console',
        email: 'ann@acme.test',
        reauthenticate: '1',
      });
      const link = orgProviderLink(posted.html);
      assert.equal(link?.searchParams.get('prompt'), 'login');
      assert.equal(link?.searchParams.get('max_age'), '0');
      idp.acme.setClaims({ idToken: { email: 'ann@acme.test', email_verified: true, ...claims } });
      return browser.request(await providerAnswer(link as URL));
    };
    refusedAtCallback(await reauth({}), /did not ask you to sign in again/);
    assert.equal((await reauth({ auth_time: Math.floor(Date.now() / 1000) })).status, 303);
  });

  test('an email over 254 characters or without an @ is refused before any lookup', async () => {
    for (const email of [`${'a'.repeat(250)}@acme.test`, 'acme.test']) {
      const posted = await postSignIn(new FormBrowser(app.base), email);
      assert.equal(posted.status, 400, email.slice(0, 20));
      assert.match(posted.html, /enter a valid email address/);
    }
  });
});

describe("an org's provider speaks only for its own domains", () => {
  test("acme's provider asserting globex's people, a sub-domain globex verified, or no org's domain: refused", async () => {
    for (const said of ['gil@globex.test', 'gil@globex.acme.test', 'eve@unverified.test', 'eve@acme.test.evil.test']) {
      const { answer } = await trip('ann@acme.test', said);
      refusedAtCallback(answer, /not one of the org&#39;s verified domains|not one of the org's verified domains/);
    }
  });

  test('an ID token for another audience or from another issuer: refused', async () => {
    for (const [flaw, message] of [
      ['wrong-audience', /&quot;aud&quot; claim is wrong/],
      ['other-issuer', /&quot;iss&quot; claim is wrong/],
    ] as const) {
      idp.acme.setFlaw(flaw);
      const { answer } = await trip('ann@acme.test');
      idp.acme.setFlaw('none');
      refusedAtCallback(answer, message);
    }
  });

  test('the answer opened in another browser is refused; the one that began it cannot then use it', async () => {
    const { browser, callback } = await begun('ann@acme.test');
    const other = await new FormBrowser(app.base).request(callback);
    refusedAtCallback(other, /started in another browser/);
    refusedAtCallback(await browser.request(callback), /expired or was already used/);
  });

  test('a callback replayed is refused', async () => {
    const { browser, callback } = await begun('ann@acme.test');
    assert.equal((await browser.request(callback)).status, 303);
    refusedAtCallback(await browser.request(callback), /expired or was already used/);
  });

  test('an answer after the connection was turned off, or its secret replaced, or the domain removed: refused', async () => {
    const off = await begun('ann@acme.test');
    await ok(putSso({ enabled: false }));
    refusedAtCallback(await off.browser.request(off.callback), /changed or was turned off/);
    await ok(putSso({ enabled: true }));

    const replaced = await begun('ann@acme.test');
    await ok(putSso({ client_secret: ACME.secret }));
    refusedAtCallback(await replaced.browser.request(replaced.callback), /changed or was turned off/);

    await verifyDomain(app.base, resolver, owners.acme, 'acme', 'acme-two.test');
    const removed = await begun('ann@acme-two.test');
    await ok(apiCall(app.base, 'DELETE', '/v1/orgs/acme/domains/acme-two.test', owners.acme));
    refusedAtCallback(await removed.browser.request(removed.callback), /not one of the org/);
  });

  test("the org provider's mfa is not taken for a second factor", async () => {
    const browser = new FormBrowser(app.base);
    asserting(idp.acme, 'mfa@acme.test', { amr: ['pwd', 'mfa'] });
    const done = await signInTrip(browser, 'mfa@acme.test');
    assert.equal(done.answer.status, 303, done.answer.html);
    const tokens = await deviceSignInFrom(app.base, browser, 'mfa@acme.test');
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1] ?? '', 'base64url').toString());
    assert.equal(claims.amr?.includes('mfa') ?? false, false, JSON.stringify(claims));
  });
});

describe('enforcement', () => {
  test('while only enabled, the deployment’s provider still signs in the domain’s people', async () => {
    const done = await trip('', 'bob@acme.test');
    assert.equal(done.via, 'deployment');
    assert.equal(done.answer.status, 303, done.answer.html);
  });

  test("enforced: the deployment's provider is refused for every spelling of the domain and its sub-domains, naming the org", async () => {
    const enforced = await putSso({ enforced: true });
    assert.equal(enforced.status, 200, enforced.text);
    for (const said of ['bob@acme.test', 'BOB@Acme.Test', 'bob@acme.test.', 'bob@eu.acme.test', 'bob@bücher.test']) {
      const { answer, via } = await trip('', said);
      assert.equal(via, 'deployment');
      refusedAtCallback(answer, new RegExp(enforcedMessage('acme')));
    }
    assert.equal(
      enforcedMessage('acme'),
      'acme requires you to sign in through its single sign-on: enter your email on the sign-in page',
    );
    // Typed, the same email is led to acme's provider instead, and signs in there.
    const typed = await trip('bob@acme.test');
    assert.equal(typed.via, 'org');
    assert.equal(typed.answer.status, 303);
    // Another org's domain, a sub-domain another org verified, and anyone else are not acme's to refuse.
    for (const said of ['gil@globex.test', 'gil@globex.acme.test', 'zed@elsewhere.test']) {
      assert.equal((await trip('', said)).answer.status, 303, said);
    }
  });

  test('a person removed from the org is still refused the other ways in; through SSO they are not a member again', async () => {
    await ok(putSso({ jit_role: 'member' }));
    assert.equal((await trip('rem@acme.test')).answer.status, 303);
    assert.equal((await members())['rem@acme.test'], 'member');
    await ok(apiCall(app.base, 'DELETE', '/v1/orgs/acme/members/rem@acme.test', owners.acme));
    await ok(putSso({ jit_role: null }));
    refusedAtCallback((await trip('', 'rem@acme.test')).answer, new RegExp(enforcedMessage('acme')));
    assert.equal((await trip('rem@acme.test')).answer.status, 303);
    assert.equal((await members())['rem@acme.test'], undefined);
  });

  test('enforcing before the connection is enabled is refused with the exact rule', async () => {
    await ok(putSso({ enabled: false }));
    const early = await putSso({ enforced: true });
    assert.equal(early.status, 409);
    assert.equal(early.json.error_description, 'Cannot enforce SSO when SSO is not enabled');
    assert.equal((await trip('', 'bob@acme.test')).answer.status, 303, 'disabled: nothing enforced');
    await ok(putSso({ enabled: true, enforced: true }));
  });
});

describe('just-in-time membership', () => {
  test('off by default: a new person signs in and is no member', async () => {
    assert.equal((await ok(apiCall(app.base, 'GET', '/v1/orgs/globex/sso', owners.globex))).jit_role, null);
    assert.equal((await trip('new@globex.test')).answer.status, 303);
    const globex = await ok(apiCall(app.base, 'GET', '/v1/orgs/globex', owners.globex));
    assert.equal(JSON.stringify(globex.members).includes('new@globex.test'), false);
  });

  test("on: a new person joins with the role, audited; a member's role never changes; owner is never a JIT role", async () => {
    assert.equal((await putSso({ jit_role: 'owner' }, 'globex')).status, 400);
    const on = await putSso({ jit_role: 'member' }, 'globex');
    assert.equal(on.json.jit_role, 'member', on.text);
    assert.equal((await trip('jit@globex.test')).answer.status, 303);
    const roles = async () =>
      Object.fromEntries(
        ((await ok(apiCall(app.base, 'GET', '/v1/orgs/globex', owners.globex))).members as { email: string; role: string }[]).map(
          (member) => [member.email, member.role],
        ),
      );
    assert.equal((await roles())['jit@globex.test'], 'member');
    const audit = await ok(apiCall(app.base, 'GET', '/v1/orgs/globex/audit', owners.globex));
    const joined = (audit.entries as { action: string; subject: string; detail: string }[]).find(
      (entry) => entry.action === 'member.joined_by_sso',
    );
    assert.equal(joined?.subject, 'jit@globex.test');
    assert.match(joined?.detail ?? '', /as member/);
    // An admin's JIT does not touch a member: jit@ stays member, and signing in again adds nothing.
    await ok(putSso({ jit_role: 'admin' }, 'globex'));
    assert.equal((await trip('jit@globex.test')).answer.status, 303);
    assert.equal((await roles())['jit@globex.test'], 'member');
    assert.equal((await trip('boss@globex.test')).answer.status, 303);
    assert.equal((await roles())['boss@globex.test'], 'admin');
    // acme's provider never makes anyone a member of globex, nor globex's of acme.
    refusedAtCallback((await trip('ann@acme.test', 'sneak@globex.test')).answer, /not one of the org/);
    assert.equal((await roles())['sneak@globex.test'], undefined);
  });
});

describe('the client secrets', () => {
  test('appear in no page, API answer or log line', async () => {
    const reads = await Promise.all([
      apiCall(app.base, 'GET', '/v1/orgs/acme/sso', owners.acme),
      apiCall(app.base, 'GET', '/v1/orgs/globex/sso', owners.globex),
      apiCall(app.base, 'GET', '/v1/orgs/acme/audit', owners.acme),
    ]);
    const seen = [...pages, ...reads.map((read) => read.text), ...logged].join('\n');
    for (const secret of [ACME.secret, GLOBEX.secret]) assert.equal(seen.includes(secret), false);
    assert.ok(pages.length > 10, 'the pages were kept');
  });
});

describe('LATCHKEY_ALLOWED_EMAIL_DOMAINS and step-up, on a dev deployment', () => {
  let dev: InProcess;
  let devResolver: DohResolver;
  let devIdp: FakeIdp;
  before(async () => {
    devResolver = await startDohResolver();
    devIdp = await startFakeOidc(await freePort(), ACME.id);
    dev = await startInProcess(
      { LATCHKEY_DOH_URL: devResolver.url, LATCHKEY_ALLOWED_EMAIL_DOMAINS: 'owners.test,acme.test' },
      Date.now(),
    );
  });
  after(async () => {
    dev?.close();
    await Promise.all([devResolver?.stop(), devIdp?.stop()]);
  });

  test("the operator's allow-list holds for org sign-ins too: a verified domain not on it is refused", async () => {
    const owner = (await deviceLogin(dev.base, 'owner@owners.test')).access_token;
    await ok(apiCall(dev.base, 'POST', '/v1/orgs', owner, { slug: 'acme' }));
    await verifyDomain(dev.base, devResolver, owner, 'acme', 'acme.test');
    await verifyDomain(dev.base, devResolver, owner, 'acme', 'outside.test');
    await connectSso(dev.base, owner, 'acme', devIdp, ACME);
    asserting(devIdp, 'ann@acme.test');
    const allowed = await signInTrip(new FormBrowser(dev.base), 'ann@acme.test');
    assert.equal([allowed.via, allowed.answer.status].join(' '), 'org 303', allowed.answer.html);
    asserting(devIdp, 'out@outside.test');
    const outside = await signInTrip(new FormBrowser(dev.base), 'out@outside.test');
    assert.equal(outside.via, 'org');
    refusedAtCallback(outside.answer, /accounts at outside\.test may not sign in to this server/);
  });

  test("the console's SSO page shows and sets just-in-time membership (off by default)", async () => {
    const person = await consolePerson(dev.base, 'owner@owners.test');
    const page = await person.get('/console/orgs/acme/sso');
    assert.match(page.html, /<td id="sso-jit-role">off<\/td>/);
    assert.match(page.html, /<option value="" selected>off<\/option>/);
    const form = { issuer: devIdp.issuer, client_id: ACME.id };
    const saved = await person.post('/console/orgs/acme/sso', { ...form, jit_role: 'admin' });
    assert.equal(saved.status, 303, saved.html.slice(0, 400));
    assert.match((await person.get('/console/orgs/acme/sso')).html, /<td id="sso-jit-role">new people join as admin<\/td>/);
    const owner = await person.post('/console/orgs/acme/sso', { ...form, jit_role: 'owner' });
    assert.equal(owner.status, 400);
    assert.equal((await person.post('/console/orgs/acme/sso', { ...form, jit_role: '' })).status, 303);
    assert.match((await person.get('/console/orgs/acme/sso')).html, /<td id="sso-jit-role">off<\/td>/);
  });

  test('a person with a second factor who signs in through the org is still asked for it', async () => {
    asserting(devIdp, 'two@acme.test');
    const browser = new FormBrowser(dev.base);
    assert.equal((await signInTrip(browser, 'two@acme.test')).answer.status, 303);
    const page = await browser.request(TWO_STEP);
    const csrf = FormBrowser.field(page.html, 'csrf');
    const person = {
      get: (path: string) => browser.request(path),
      post: (path: string, fields: Record<string, string> = {}) => browser.request(path, { csrf, ...fields }),
    } as unknown as ConsolePerson;
    await enrollAuthenticator(person, dev.now());
    const again = await signInTrip(new FormBrowser(dev.base), 'two@acme.test');
    assert.equal(again.via, 'org');
    assert.equal(again.answer.status, 303);
    assert.equal(again.answer.headers.get('location'), '/signin/two-step', 'the second step, not a sign-in');
    assert.doesNotMatch(again.answer.headers.get('set-cookie') ?? '', /lk_session/);
  });

  test('SSO writes and domain claims and removals want a recent second factor of a person who has one', async () => {
    const token = (await deviceLogin(dev.base, 'owner@owners.test')).access_token;
    const person = await consolePerson(dev.base, 'owner@owners.test');
    await enrollAuthenticator(person, dev.now());
    const refusals = [
      await apiCall(dev.base, 'PUT', '/v1/orgs/acme/sso', token, { issuer: devIdp.issuer, client_id: ACME.id, enforced: true }),
      await apiCall(dev.base, 'DELETE', '/v1/orgs/acme/sso', token),
      await apiCall(dev.base, 'POST', '/v1/orgs/acme/domains', token, { domain: 'more.test' }),
      await apiCall(dev.base, 'POST', '/v1/orgs/acme/domains/outside.test/verify', token),
      await apiCall(dev.base, 'DELETE', '/v1/orgs/acme/domains/outside.test', token),
    ];
    for (const refused of refusals) {
      assert.equal(refused.status, 401, refused.text);
      assert.equal(refused.json.error, 'insufficient_user_authentication');
      assert.match(String(refused.json.error_description), /single sign-on|verified domains/);
    }
    const still = await ok(apiCall(dev.base, 'GET', '/v1/orgs/acme/sso', token));
    assert.equal(still.enforced, false);
  });
});
