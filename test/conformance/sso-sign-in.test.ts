/**
 * Signing in through an org's SSO connection over HTTP, on every runtime and store: a
 * deployment whose own provider is an OpenID provider (LATCHKEY_IDENTITY=oidc), two orgs
 * with their own (test/fixtures/fake-oidc.ts, approving at once), domains verified through
 * the loopback DoH resolver. Home-realm discovery leads each org's domain to its provider
 * and anyone else to the deployment's; the callback signs the browser in; another org's
 * people are refused by an org's provider; enforcement refuses the deployment's provider
 * for the domain's people, naming the org; just-in-time membership off, then on. (Chromium
 * with real providers: test/browser/sso-sign-in.test.ts; the attacks in process:
 * test/unit/sso-sign-in-attacks.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { type DohResolver, startDohResolver } from '../fixtures/doh-resolver.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import {
  asserting,
  connectSso,
  type FakeIdp,
  orgProviderLink,
  postSignIn,
  signInTrip,
  upstreamDeviceLogin,
  verifyDomain,
} from '../fixtures/sso-sign-in.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const ACME = { id: 'acme-sso', secret: 'acme-conformance-secret-8fJ2' };
const GLOBEX = { id: 'globex-sso', secret: 'globex-conformance-secret-3kQ7' };

let server: RunningWorker;
let resolver: DohResolver;
const idp = {} as Record<'deployment' | 'acme' | 'globex', FakeIdp>;
const owners = { acme: '', globex: '' };

async function trip(typed: string, said = typed) {
  for (const provider of Object.values(idp)) asserting(provider, said);
  const browser = new FormBrowser(server.url);
  return { ...(await signInTrip(browser, typed)), browser };
}
const roleIn = async (org: 'acme' | 'globex', email: string) =>
  ((await ok(apiCall(server.url, 'GET', `/v1/orgs/${org}`, owners[org]))).members as { email: string; role: string }[]).find(
    (member) => member.email === email,
  )?.role;

before(async () => {
  resolver = await startDohResolver();
  idp.deployment = await startFakeOidc(await freePort(), 'latchkey');
  idp.acme = await startFakeOidc(await freePort(), ACME.id);
  idp.globex = await startFakeOidc(await freePort(), GLOBEX.id);
  server = await startWorker({
    LATCHKEY_IDENTITY: 'oidc',
    LATCHKEY_OIDC_ISSUER: idp.deployment.issuer,
    LATCHKEY_OIDC_CLIENT_ID: 'latchkey',
    LATCHKEY_DOH_URL: resolver.url,
  });
  owners.acme = (await upstreamDeviceLogin(server.url, idp.deployment, 'owner@acme.example')).access_token;
  owners.globex = (await upstreamDeviceLogin(server.url, idp.deployment, 'owner@globex.example')).access_token;
  for (const org of ['acme', 'globex'] as const) {
    await ok(apiCall(server.url, 'POST', '/v1/orgs', owners[org], { slug: org }));
  }
  await verifyDomain(server.url, resolver, owners.acme, 'acme', 'acme.test');
  await verifyDomain(server.url, resolver, owners.globex, 'globex', 'globex.test');
  await connectSso(server.url, owners.acme, 'acme', idp.acme, ACME);
  await connectSso(server.url, owners.globex, 'globex', idp.globex, GLOBEX);
});
after(async () => {
  await server?.stop();
  await Promise.all([resolver?.stop(), ...Object.values(idp).map((provider) => provider?.stop())]);
});

describe('signing in through an org’s SSO', () => {
  test("discovery: each org's domain to its provider (login_hint, PKCE), anyone else to the deployment's", async () => {
    const acme = orgProviderLink((await postSignIn(new FormBrowser(server.url), 'Ann@Acme.Test')).html);
    assert.equal(acme?.origin, idp.acme.issuer);
    assert.equal(acme?.searchParams.get('login_hint'), 'ann@acme.test');
    assert.equal(acme?.searchParams.get('redirect_uri'), `${server.url}/sso/callback`);
    assert.equal(acme?.searchParams.get('code_challenge_method'), 'S256');
    const globex = orgProviderLink((await postSignIn(new FormBrowser(server.url), 'gil@globex.test')).html);
    assert.equal(globex?.origin, idp.globex.issuer);
    for (const email of ['zed@elsewhere.test', '']) {
      const posted = await postSignIn(new FormBrowser(server.url), email);
      assert.equal(posted.status, 303);
      assert.equal(new URL(posted.headers.get('location') ?? '').origin, idp.deployment.issuer);
    }
  });

  test('the callback signs the browser in; the same answer again is refused', async () => {
    const done = await trip('ann@acme.test');
    assert.equal(done.via, 'org');
    assert.equal(done.answer.status, 303, done.answer.html);
    assert.equal(done.answer.headers.get('location'), '/console');
    assert.match((await done.browser.request('/console')).html, /ann@acme\.test/);
    const again = await done.browser.request(done.callback);
    assert.equal(again.status, 400);
    assert.match(again.html, /expired or was already used/);
  });

  test("an org's provider signs in none of another org's people", async () => {
    const { answer } = await trip('ann@acme.test', 'gil@globex.test');
    assert.equal(answer.status, 400, answer.html);
    assert.match(answer.html, /not one of the org/);
  });

  test("enforced: the deployment's provider is refused for the domain's people, naming the org", async () => {
    assert.equal((await trip('', 'bob@acme.test')).answer.status, 303, 'not enforced yet');
    const early = await apiCall(server.url, 'PUT', '/v1/orgs/globex/sso', owners.globex, {
      issuer: idp.globex.issuer,
      client_id: GLOBEX.id,
      enabled: false,
      enforced: true,
    });
    assert.equal(early.json.error_description, 'Cannot enforce SSO when SSO is not enabled');
    await ok(
      apiCall(server.url, 'PUT', '/v1/orgs/acme/sso', owners.acme, {
        issuer: idp.acme.issuer,
        client_id: ACME.id,
        enforced: true,
      }),
    );
    const refused = await trip('', 'bob@acme.test');
    assert.equal(refused.via, 'deployment');
    assert.equal(refused.answer.status, 400);
    assert.match(
      refused.answer.html,
      /acme requires you to sign in through its single sign-on: enter your email on the sign-in page/,
    );
    assert.doesNotMatch(refused.answer.headers.get('set-cookie') ?? '', /lk_session/);
    assert.equal((await trip('bob@acme.test')).answer.status, 303, 'through its SSO');
  });

  test('just-in-time membership: off, a new person is no member; on, they join with the role', async () => {
    assert.equal((await trip('new@globex.test')).answer.status, 303);
    assert.equal(await roleIn('globex', 'new@globex.test'), undefined);
    const on = await apiCall(server.url, 'PUT', '/v1/orgs/globex/sso', owners.globex, {
      issuer: idp.globex.issuer,
      client_id: GLOBEX.id,
      jit_role: 'member',
    });
    assert.equal(on.json.jit_role, 'member', on.text);
    assert.equal((await trip('new@globex.test')).answer.status, 303);
    assert.equal(await roleIn('globex', 'new@globex.test'), 'member');
    const audit = await ok(apiCall(server.url, 'GET', '/v1/orgs/globex/audit', owners.globex));
    assert.ok((audit.entries as { action: string }[]).some((entry) => entry.action === 'member.joined_by_sso'));
    const read = await apiCall(server.url, 'GET', '/v1/orgs/globex/sso', owners.globex);
    assert.equal(read.text.includes(GLOBEX.secret), false);
  });
});
