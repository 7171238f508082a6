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
import { type DohResolver } from '../fixtures/doh-resolver.ts';
import { type InProcess } from '../fixtures/in-process.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import {
  ACME_SSO,
  type AcmeSso,
  asserting,
  type FakeIdp,
  signInTrip,
  startAcmeSso,
  stopAcmeSso,
} from '../fixtures/sso-sign-in.ts';
import { signedIn } from '../fixtures/two-step.ts';

const ACME = ACME_SSO;

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

let world: AcmeSso | undefined;
before(async () => {
  // JIT as admin: what the org's provider signs in would otherwise become one of acme's admins too.
  world = await startAcmeSso({
    vars: { LATCHKEY_OPERATORS: 'Root@Acme.test,ops@eu.acme.test' },
    connect: { jit_role: 'admin' },
  });
  ({ app, resolver, deployment, acmeIdp, owner } = world);
});
after(() => stopAcmeSso(world));

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
