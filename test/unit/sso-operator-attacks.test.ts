/**
 * An org's identity provider against the deployment's operators (LATCHKEY_OPERATORS), in
 * process. An org that verified the domain of an operator's address could have its
 * provider sign that address in, and with it the operator's power over every org (the
 * operator page, anyone's sessions): any admin of the org can point its connection at a
 * provider they run. Operators are the deployment's, above orgs: an org's provider never
 * signs one in (whatever the spelling, a sub-domain included), and an org's enforcement
 * does not shut one out of the deployment's own provider.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { enforcedMessage } from '../../worker/accounts/sso-realm.ts';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { type DohResolver, startDohResolver } from '../fixtures/doh-resolver.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import { asserting, connectSso, type FakeIdp, signInTrip, upstreamDeviceLogin, verifyDomain } from '../fixtures/sso-sign-in.ts';
import { signedIn } from '../fixtures/two-step.ts';
import { freePort } from '../fixtures/worker-server.ts';

const ACME = { id: 'acme-sso', secret: 'acme-sso-secret-Hq7vX2pL9wRz' };

let app: InProcess;
let resolver: DohResolver;
let deployment: FakeIdp;
let acmeIdp: FakeIdp;
let owner = '';
/** What the operator page says to an operator only. */
const OPERATOR_PAGE = /You are an operator of this deployment/;

/** A sign-in in a fresh browser: `typed` into the form, `said` by whichever provider it led to. */
async function trip(typed: string, said: string) {
  asserting(deployment, said);
  asserting(acmeIdp, said);
  const browser = new FormBrowser(app.base);
  return { ...(await signInTrip(browser, typed)), browser };
}

const acmeMembers = async () =>
  ((await ok(apiCall(app.base, 'GET', '/v1/orgs/acme', owner))).members as { email: string }[]).map((member) => member.email);

before(async () => {
  resolver = await startDohResolver();
  deployment = await startFakeOidc(await freePort(), 'latchkey');
  acmeIdp = await startFakeOidc(await freePort(), ACME.id);
  app = await startInProcess(
    {
      LATCHKEY_IDENTITY: 'oidc',
      LATCHKEY_OIDC_ISSUER: deployment.issuer,
      LATCHKEY_OIDC_CLIENT_ID: 'latchkey',
      LATCHKEY_DOH_URL: resolver.url,
      LATCHKEY_OPERATORS: 'Root@Acme.test,ops@eu.acme.test',
    },
    Date.now(),
  );
  owner = (await upstreamDeviceLogin(app.base, deployment, 'owner@acme.test')).access_token;
  await ok(apiCall(app.base, 'POST', '/v1/orgs', owner, { slug: 'acme' }));
  await verifyDomain(app.base, resolver, owner, 'acme', 'acme.test');
  // JIT as admin: what the org's provider signs in would otherwise become one of acme's admins too.
  await connectSso(app.base, owner, 'acme', acmeIdp, ACME, { jit_role: 'admin' });
});
after(async () => {
  app?.close();
  await Promise.all([resolver?.stop(), deployment?.stop(), acmeIdp?.stop()]);
});

describe("an org's provider and the deployment's operators", () => {
  test("acme's provider signing in an operator's address, in any spelling or a sub-domain's: refused, no session, no membership", async () => {
    for (const said of ['root@acme.test', 'ROOT@Acme.Test.', 'ops@eu.acme.test', 'Ops@EU.acme.test']) {
      const { via, answer, browser } = await trip('root@acme.test', said);
      assert.equal(via, 'org');
      assert.ok(answer.status >= 400 && answer.status < 500, `${said}: ${answer.status} ${answer.html.slice(0, 300)}`);
      assert.match(answer.html, /signs in through this server’s own identity provider only/, said);
      assert.doesNotMatch(answer.headers.get('set-cookie') ?? '', /lk_session/, said);
      assert.equal(await signedIn(browser), false, said);
      assert.doesNotMatch((await browser.request('/console/operator')).html, OPERATOR_PAGE, said);
    }
    const members = await acmeMembers();
    assert.equal(members.includes('root@acme.test') || members.includes('ops@eu.acme.test'), false, members.join());
    // Anyone else of acme's domain still signs in there (and JIT makes them a member).
    const ann = await trip('ann@acme.test', 'ann@acme.test');
    assert.equal(ann.answer.status, 303, ann.answer.html.slice(0, 300));
    assert.ok((await acmeMembers()).includes('ann@acme.test'));
  });

  test("acme enforcing its SSO does not shut an operator out of the deployment's provider; its other people it does", async () => {
    await ok(
      apiCall(app.base, 'PUT', '/v1/orgs/acme/sso', owner, { issuer: acmeIdp.issuer, client_id: ACME.id, enforced: true }),
    );
    const operator = await trip('', 'root@acme.test');
    assert.equal(operator.via, 'deployment');
    assert.equal(operator.answer.status, 303, operator.answer.html.slice(0, 300));
    assert.match((await operator.browser.request('/console/operator')).html, OPERATOR_PAGE);
    const bob = await trip('', 'bob@acme.test');
    assert.ok(bob.answer.status >= 400 && bob.answer.status < 500, bob.answer.html.slice(0, 300));
    assert.match(bob.answer.html, new RegExp(enforcedMessage('acme')));
  });
});
