/**
 * Home-realm discovery and enforcement against a deep sub-domain, in process. A verified
 * domain covers its sub-domains, so that a sub-domain is no way around an org's enforcement;
 * but the realm lookup stopped after the eight most specific names, so an address nine
 * labels or more below the verified domain (`bob@a.b.c.d.e.f.g.h.acme.test`) was in no
 * realm: the deployment's provider signed it in past acme's enforcement, discovery sent it
 * there, and acme's own provider was refused it. The lookup keeps its bound, from the
 * least specific names up, so every domain an org can be holding is looked at.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { enforcedMessage } from '../../worker/accounts/sso-realm.ts';
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

const ACME = ACME_SSO;
/** Ten labels under acme.test, and another spelling of it. */
const DEEP = 'bob@a.b.c.d.e.f.g.h.i.j.acme.test';
const DEEP_SPELLED = 'BOB@A.B.C.D.E.F.G.H.I.J.Acme.Test.';

let app: InProcess;
let resolver: DohResolver;
let deployment: FakeIdp;
let acmeIdp: FakeIdp;

async function trip(typed: string, said: string) {
  asserting(deployment, said);
  asserting(acmeIdp, said);
  return signInTrip(new FormBrowser(app.base), typed);
}

let world: AcmeSso | undefined;
before(async () => {
  world = await startAcmeSso({ ownerEmail: 'owner@owners.test', connect: { enforced: true } });
  ({ app, resolver, deployment, acmeIdp } = world);
});
after(() => stopAcmeSso(world));

describe('an address many labels below a verified domain', () => {
  test("the deployment's provider is refused it while acme enforces its SSO", async () => {
    for (const said of [DEEP, DEEP_SPELLED]) {
      const { via, answer } = await trip('', said);
      assert.equal(via, 'deployment');
      assert.ok(answer.status >= 400 && answer.status < 500, `${said}: ${answer.status} ${answer.html.slice(0, 300)}`);
      assert.match(answer.html, new RegExp(enforcedMessage('acme')), said);
    }
  });

  test("typed, it goes to acme's provider, which signs it in", async () => {
    const { via, answer } = await trip(DEEP, DEEP);
    assert.equal(via, 'org');
    assert.equal(answer.status, 303, answer.html.slice(0, 300));
  });
});
