/**
 * The sign-in form's `return_to`, attacked, in process: a value with a line break or another
 * control character is not a path of ours (a header could not carry it: the redirect that
 * ends the sign-in threw, a 500 on the dev form, the deployment provider's callback and an
 * org's SSO callback alike). It falls back to /device as any other foreign value does, on
 * each of the three ways in; a plain path of ours still comes back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type DohResolver } from '../fixtures/doh-resolver.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import {
  ACME_SSO,
  type AcmeSso,
  asserting,
  type FakeIdp,
  orgProviderLink,
  providerAnswer,
  startAcmeSso,
  stopAcmeSso,
} from '../fixtures/sso-sign-in.ts';

const ACME = ACME_SSO;
/** Values that are no header's: CR LF (a header of the attacker's after it), NUL, DEL, a C1 control. */
const HOSTILE = ['/console/\r\nSet-Cookie: lk_session=x', '/device?\n', '/console/\u0000', '/console\u007f', '/device/\u0085'];

let dev: InProcess;
let app: InProcess;
let resolver: DohResolver;
let deployment: FakeIdp;
let acmeIdp: FakeIdp;

/** Posts the sign-in form with `returnTo` and `email`; the answer (a redirect on, or the org's page). */
async function post(base: string, returnTo: string, email: string, browser = new FormBrowser(base)) {
  const page = await browser.request('/console');
  return {
    browser,
    posted: await browser.request('/signin', { csrf: FormBrowser.field(page.html, 'csrf'), return_to: returnTo, email }),
  };
}

const wentTo = (answer: { status: number; html: string; headers: Headers }, where: string, what: string) => {
  assert.equal(answer.status, 303, `${JSON.stringify(what)}: ${answer.status} ${answer.html.slice(0, 300)}`);
  assert.equal(answer.headers.get('location'), where, JSON.stringify(what));
};

let world: AcmeSso | undefined;
before(async () => {
  dev = await startInProcess();
  world = await startAcmeSso();
  ({ app, resolver, deployment, acmeIdp } = world);
});
after(async () => {
  dev?.close();
  await stopAcmeSso(world);
});

describe('return_to with a control character', () => {
  test('the dev form signs in and goes to /device, not a 500', async () => {
    for (const value of HOSTILE) wentTo((await post(dev.base, value, 'ann@dev.test')).posted, '/device', value);
    wentTo((await post(dev.base, '/console/orgs', 'ann@dev.test')).posted, '/console/orgs', 'a path of ours');
  });

  test("the deployment provider's callback goes to /device, not a 500", async () => {
    asserting(deployment, 'zed@elsewhere.test');
    for (const value of [...HOSTILE, '/console/orgs']) {
      const { browser, posted } = await post(app.base, value, '');
      assert.equal(posted.status, 303, JSON.stringify(value));
      const back = await browser.request(await providerAnswer(posted.headers.get('location') ?? ''));
      wentTo(back, value === '/console/orgs' ? value : '/device', value);
    }
  });

  test("an org's SSO callback goes to /device, not a 500", async () => {
    asserting(acmeIdp, 'ann@acme.test');
    for (const value of [...HOSTILE, '/console/orgs']) {
      const { browser, posted } = await post(app.base, value, 'ann@acme.test');
      const link = orgProviderLink(posted.html);
      assert.ok(link, `${JSON.stringify(value)}: ${posted.status} ${posted.html.slice(0, 300)}`);
      const back = await browser.request(await providerAnswer(link));
      wentTo(back, value === '/console/orgs' ? value : '/device', value);
    }
  });
});
