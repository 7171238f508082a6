/**
 * The console's SSO switches (enable, disable, enforce, unenforce), attacked, in process.
 * `PUT /v1/orgs/{org}/sso` asks a step-up of a person with a second factor for any change,
 * a switch included, and the console's own form asks a recent sign-in; the switches asked
 * nothing: a browser signed in hours ago, or before its person added a second factor, could
 * turn the org's enforcement off (its people then sign in through the deployment's provider)
 * or SSO itself on or off. Each now wants a recent sign-in with the second factor, as saving does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RECENT_SIGN_IN_SECONDS } from '../../worker/accounts/web-sessions.ts';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type DohResolver, startDohResolver } from '../fixtures/doh-resolver.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { connectSso, type FakeIdp, verifyDomain } from '../fixtures/sso-sign-in.ts';
import { enrollAuthenticator } from '../fixtures/two-step.ts';
import { freePort } from '../fixtures/worker-server.ts';

const ACME = { id: 'acme-sso', secret: 'acme-sso-secret-Hq7vX2pL9wRz' };
const OWNER = 'owner@owners.test';

let app: InProcess;
let resolver: DohResolver;
let acmeIdp: FakeIdp;
let token = '';

const connection = async () => ok(apiCall(app.base, 'GET', '/v1/orgs/acme/sso', token));
const switchTo = (person: Awaited<ReturnType<typeof consolePerson>>, to: string) =>
  person.post('/console/orgs/acme/sso/switch', { to });

before(async () => {
  resolver = await startDohResolver();
  acmeIdp = await startFakeOidc(await freePort(), ACME.id);
  // The real clock to begin with: the fake provider dates its ID tokens by it.
  app = await startInProcess({ LATCHKEY_DOH_URL: resolver.url }, Date.now());
  token = (await deviceLogin(app.base, OWNER)).access_token;
  await ok(apiCall(app.base, 'POST', '/v1/orgs', token, { slug: 'acme' }));
  await verifyDomain(app.base, resolver, token, 'acme', 'acme.test');
  await connectSso(app.base, token, 'acme', acmeIdp, ACME, { enforced: true });
});
after(async () => {
  app?.close();
  await Promise.all([resolver?.stop(), acmeIdp?.stop()]);
});

describe("the console's SSO switches", () => {
  test('a browser signed in longer ago than the recent window is sent to sign in again; nothing changes', async () => {
    const stale = await consolePerson(app.base, OWNER);
    app.step(RECENT_SIGN_IN_SECONDS * 1000 + 60_000);
    for (const to of ['unenforce', 'disable']) {
      const answer = await switchTo(stale, to);
      assert.match(answer.html, /needs a recent sign-in/, `${to}: ${answer.status} ${answer.html.slice(0, 300)}`);
    }
    const still = await connection();
    assert.equal(still.enabled, true);
    assert.equal(still.enforced, true);
  });

  test('a recent sign-in switches as before', async () => {
    const fresh = await consolePerson(app.base, OWNER);
    assert.equal((await switchTo(fresh, 'unenforce')).status, 303);
    assert.equal((await connection()).enforced, false);
    assert.equal((await switchTo(fresh, 'enforce')).status, 303);
    assert.equal((await connection()).enforced, true);
  });

  test('a browser signed in before its person added a second factor is sent to sign in again, though recent', async () => {
    const earlier = await consolePerson(app.base, OWNER);
    const own = await consolePerson(app.base, OWNER);
    await enrollAuthenticator(own, app.now());
    const answer = await switchTo(earlier, 'unenforce');
    assert.match(answer.html, /needs a recent sign-in/, answer.html.slice(0, 300));
    assert.equal((await connection()).enforced, true);
  });
});
