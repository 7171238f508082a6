/**
 * The domain claim record (worker/accounts/domains.ts) where HTTP alone cannot reach: the
 * app in process over a memory store (test/fixtures/in-process.ts) and a loopback DoH
 * resolver. A claim left by a removal cut off halfway is taken over by the next org that
 * proves the domain; a claim whose org still lists the domain is not; a domain removed
 * while its verification waited on DNS is not verified, and the claim just taken goes
 * back; `verifiedOwnerOf` answers only when the claim and the org's list agree. An org's
 * lookups are counted per hour (a stepping clock crosses the window).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LOOKUPS_PER_WINDOW, verifiedOwnerOf } from '../../worker/accounts/domains.ts';
import { parseConfig } from '../../worker/config.ts';
import { servicesLoader } from '../../worker/services.ts';
import { storeKey } from '../../worker/store/store.ts';
import { type ApiAnswer, apiCall } from '../fixtures/api-call.ts';
import { type DohResolver, startDohResolver } from '../fixtures/doh-resolver.ts';
import { challenge, claimKey, domainsApi, type Org, valueOf } from '../fixtures/domains.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';

let resolver: DohResolver;
let app: InProcess;
const owners: Record<Org, string> = { acme: '', globex: '' };

const { call, claim, verify } = domainsApi(() => app.base, owners);
async function ownerOf(domain: string) {
  const config = parseConfig({ LATCHKEY_ISSUER: app.base, LATCHKEY_IDENTITY: 'dev' });
  return verifiedOwnerOf(await servicesLoader(config, { store: app.store, now: app.now })(), domain);
}

/** Fresh access tokens for both owners (after the clock stepped past their 15 minutes). */
async function signIn() {
  for (const org of ['acme', 'globex'] as const) {
    owners[org] = (await deviceLogin(app.base, `owner@${org}.example`)).access_token;
  }
}

before(async () => {
  resolver = await startDohResolver();
  app = await startInProcess({ LATCHKEY_DOH_URL: resolver.url });
  await signIn();
  for (const org of ['acme', 'globex'] as const) {
    assert.equal((await apiCall(app.base, 'POST', '/v1/orgs', owners[org], { slug: org })).status, 201);
  }
});
after(async () => {
  app?.close();
  await resolver?.stop();
});

describe('the claim record', () => {
  test('a claim whose org no longer lists the domain is stale: the next org to prove it takes it over', async () => {
    // What a removal cut off between its two writes leaves: acme's list without the
    // domain, the claim still acme's.
    await app.store.put(claimKey('stale.example'), JSON.stringify({ org: 'acme', verifiedAt: app.now() }), 3600);
    const globex = await claim('globex', 'stale.example');
    resolver.set(challenge('stale.example'), { txt: [[valueOf(globex)]] });
    const verified = await verify('globex', 'stale.example');
    assert.equal(verified.status, 200, verified.text);
    assert.equal(JSON.parse((await app.store.get(claimKey('stale.example'))) ?? '{}').org, 'globex');
    assert.equal(await ownerOf('stale.example'), 'globex');
  });

  test("a claim whose org still lists the domain (pending: its verify was cut off) is not taken; that org's own verify finishes", async () => {
    const acme = await claim('acme', 'halfway.example');
    await app.store.put(claimKey('halfway.example'), JSON.stringify({ org: 'acme', verifiedAt: app.now() }), 3600);
    assert.equal(await ownerOf('halfway.example'), null, 'the claim alone verifies nothing');
    const globex = await claim('globex', 'halfway.example');
    resolver.set(challenge('halfway.example'), { txt: [[valueOf(acme)], [valueOf(globex)]] });
    assert.equal((await verify('globex', 'halfway.example')).status, 409);
    assert.equal((await verify('acme', 'halfway.example')).status, 200);
    assert.equal(await ownerOf('halfway.example'), 'acme');
  });

  test('removed while its lookup waited on DNS: not verified, and the claim goes back', async () => {
    const acme = await claim('acme', 'gone.example');
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    resolver.set(challenge('gone.example'), { after: released, then: { txt: [[valueOf(acme)]] } });
    const verifying = verify('acme', 'gone.example');
    await resolver.askedFor(challenge('gone.example'));
    assert.equal((await call('acme', 'DELETE', '/gone.example')).status, 200);
    release();
    const answer = await verifying;
    assert.equal(answer.status, 404, answer.text);
    assert.equal(await app.store.get(claimKey('gone.example')), null);
    assert.equal(await ownerOf('gone.example'), null);
  });

  test("one org's two verifications at once: both answer verified, the trail says it once", async () => {
    const acme = await claim('acme', 'twice.example');
    const both = resolver.askedFor(challenge('twice.example'), 2);
    resolver.set(challenge('twice.example'), { after: both, then: { txt: [[valueOf(acme)]] } });
    const answers = await Promise.all([verify('acme', 'twice.example'), verify('acme', 'twice.example')]);
    assert.deepEqual(
      answers.map((answer) => [answer.status, answer.json.state]),
      [
        [200, 'verified'],
        [200, 'verified'],
      ],
    );
    const trail = await apiCall(app.base, 'GET', '/v1/orgs/acme/audit?limit=200', owners.acme);
    const entries = (trail.json.entries as { action: string; subject: string }[]).filter(
      (entry) => entry.subject === 'twice.example' && entry.action === 'domain.verified',
    );
    assert.equal(entries.length, 1);
  });

  test('removal gives back only its own claim', async () => {
    const acme = await claim('acme', 'kept.example');
    resolver.set(challenge('kept.example'), { txt: [[valueOf(acme)]] });
    assert.equal((await verify('acme', 'kept.example')).status, 200);
    await claim('globex', 'kept.example');
    assert.equal((await call('globex', 'DELETE', '/kept.example')).status, 200);
    assert.equal(await ownerOf('kept.example'), 'acme');
  });
});

describe('lookups per org', () => {
  test(`an org asks DNS at most ${LOOKUPS_PER_WINDOW} times an hour; then 429 with Retry-After, until the next hour`, async () => {
    // A fresh hour, and a domain whose record is never published.
    app.step(3_600_000 - (app.now() % 3_600_000));
    await signIn();
    await claim('acme', 'busy.example');
    await claim('globex', 'busy.example');
    for (let n = 0; n < LOOKUPS_PER_WINDOW; n++) assert.equal((await verify('acme', 'busy.example')).status, 400, `lookup ${n}`);
    const asked = resolver.asked().length;
    app.step(60_000);
    const limited = await verify('acme', 'busy.example');
    assert.equal(limited.status, 429, limited.text);
    assert.equal(limited.json.error, 'rate_limited');
    assert.equal(resolver.asked().length, asked, 'the refused one asked nothing');
    const retryAfter = await fetch(`${app.base}/v1/orgs/acme/domains/busy.example/verify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owners.acme}` },
    });
    assert.equal(retryAfter.headers.get('retry-after'), String(3600 - 60));
    // Another org's count is its own.
    assert.equal((await verify('globex', 'busy.example')).status, 400);
    app.step(3_600_000 - 60_000);
    await signIn();
    assert.equal((await verify('acme', 'busy.example')).status, 400, 'the next hour');
  });
});
