/**
 * A verified domain that changes hands, in process. Acme verified `lapsed.test` and signs its
 * people in with its own provider, enforced; then the domain lapses and someone else registers
 * it: acme's TXT value is gone from its DNS. Verification happened once and is never checked
 * again, and a domain is one org's at a time, so the new owner could never prove it while
 * acme kept it, and acme's provider (any of its admins' say) kept signing in, and its
 * enforcement kept shutting out, the new owner's people for ever. Now an org whose own value
 * the TXT record holds, and the holder's no longer, takes the domain over: acme's entry is
 * pending again, `domain.lost` in its trail, and its provider speaks for the domain no more.
 * While acme's value is still published the domain stays acme's (409), as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verifiedOwnerOf } from '../../worker/accounts/domains.ts';
import { parseConfig } from '../../worker/config.ts';
import { servicesLoader } from '../../worker/services.ts';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { type DohResolver, startDohResolver } from '../fixtures/doh-resolver.ts';
import { challenge, domainsApi, type Org, valueOf } from '../fixtures/domains.ts';
import { startFakeOidc } from '../fixtures/fake-oidc.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin, FormBrowser } from '../fixtures/oauth-client.ts';
import { asserting, connectSso, type FakeIdp, orgProviderLink, postSignIn, providerAnswer } from '../fixtures/sso-sign-in.ts';
import { freePort } from '../fixtures/worker-server.ts';

const ACME = { id: 'acme-sso', secret: 'acme-sso-secret-Hq7vX2pL9wRz' };
const DOMAIN = 'lapsed.test';

let app: InProcess;
let resolver: DohResolver;
let acmeIdp: FakeIdp;
const owners: Record<Org, string> = { acme: '', globex: '' };
const { call, claim, verify } = domainsApi(() => app.base, owners);

const stateIn = async (org: Org) =>
  ((await call(org, 'GET')).json.domains as { domain: string; state: string }[]).find((entry) => entry.domain === DOMAIN)?.state;
const ownerOf = async () => {
  const services = await servicesLoader(parseConfig({ LATCHKEY_ISSUER: app.base, LATCHKEY_IDENTITY: 'dev' }), {
    store: app.store,
    now: app.now,
  })();
  return verifiedOwnerOf(services, DOMAIN);
};
/** ann@lapsed.test typed into the (dev) sign-in form: led to acme's provider and its callback's answer, or signed in by the form. */
const annSignsIn = async () => {
  asserting(acmeIdp, `ann@${DOMAIN}`);
  const browser = new FormBrowser(app.base);
  const posted = await postSignIn(browser, `ann@${DOMAIN}`);
  const link = orgProviderLink(posted.html);
  if (!link) return { via: 'dev', status: posted.status, html: posted.html };
  const answer = await browser.request(await providerAnswer(link));
  return { via: 'org', status: answer.status, html: answer.html };
};

before(async () => {
  resolver = await startDohResolver();
  acmeIdp = await startFakeOidc(await freePort(), ACME.id);
  app = await startInProcess({ LATCHKEY_DOH_URL: resolver.url }, Date.now());
  for (const org of ['acme', 'globex'] as const) {
    owners[org] = (await deviceLogin(app.base, `owner@${org}-owners.test`)).access_token;
    await ok(apiCall(app.base, 'POST', '/v1/orgs', owners[org], { slug: org }));
  }
});
after(async () => {
  app?.close();
  await Promise.all([resolver?.stop(), acmeIdp?.stop()]);
});

describe('a verified domain that changes hands', () => {
  let acmeValue = '';
  let globexValue = '';

  test("acme verifies it and its enforced provider signs the domain's people in", async () => {
    acmeValue = valueOf(await claim('acme', DOMAIN));
    resolver.set(challenge(DOMAIN), { txt: [[acmeValue]] });
    assert.equal((await verify('acme', DOMAIN)).status, 200);
    await connectSso(app.base, owners.acme, 'acme', acmeIdp, ACME, { enforced: true });
    const ann = await annSignsIn();
    assert.equal(ann.via, 'org');
    assert.equal(ann.status, 303, ann.html.slice(0, 300));
  });

  test("while acme's value is still published, globex's value beside it proves nothing: 409", async () => {
    globexValue = valueOf(await claim('globex', DOMAIN));
    resolver.set(challenge(DOMAIN), { txt: [[acmeValue], [globexValue]] });
    const held = await verify('globex', DOMAIN);
    assert.equal(held.status, 409, held.text);
    assert.equal(await ownerOf(), 'acme');
  });

  test("once the record holds globex's value and no longer acme's, globex takes it over; acme's provider no longer speaks for it", async () => {
    resolver.set(challenge(DOMAIN), { txt: [[globexValue]] });
    const taken = await verify('globex', DOMAIN);
    assert.equal(taken.status, 200, taken.text);
    assert.equal(taken.json.state, 'verified');
    assert.equal(await ownerOf(), 'globex');
    assert.equal(await stateIn('acme'), 'pending');
    const trail = (await ok(apiCall(app.base, 'GET', '/v1/orgs/acme/audit', owners.acme))).entries as {
      action: string;
      actor: string;
      subject: string;
    }[];
    const lost = trail.find((entry) => entry.action === 'domain.lost');
    assert.equal(lost?.subject, DOMAIN);
    assert.equal(lost?.actor, 'latchkey');
    // Acme's provider no longer leads the domain's people, nor is it asked to: globex (no SSO) has them, and nothing enforces.
    const ann = await annSignsIn();
    assert.equal(ann.via, 'dev');
    assert.equal(ann.status, 303, ann.html.slice(0, 300));
  });

  test('acme verifying again while globex’s value is there is refused; with its own value back alone, it takes the domain back', async () => {
    resolver.set(challenge(DOMAIN), { txt: [[acmeValue], [globexValue]] });
    assert.equal((await verify('acme', DOMAIN)).status, 409);
    resolver.set(challenge(DOMAIN), { txt: [[acmeValue]] });
    assert.equal((await verify('acme', DOMAIN)).status, 200);
    assert.equal(await ownerOf(), 'acme');
    assert.equal(await stateIn('globex'), 'pending');
  });
});
