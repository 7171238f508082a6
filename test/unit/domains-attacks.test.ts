/**
 * A second reader's attacks on org email domains (worker/accounts/domains.ts,
 * worker/dns/doh.ts), in process over a memory store and a loopback DoH resolver:
 * a resolver answer that carries a TXT record for some other name; the stale-claim
 * takeover racing the claim's own org; a removal, or a removed claim's verification,
 * finishing after the domain was claimed and verified again; a stale claim its org tries
 * to revive by claiming again without proof; pending claims that must block nobody; a
 * domain's spellings (case, trailing dot, IDNA) that must be one domain; a parent
 * domain that says nothing of its subdomains; a value left in DNS by a removed claim;
 * a lookup name that would smuggle query parameters into the resolver's URL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verifiedOwnerOf } from '../../worker/accounts/domains.ts';
import { parseConfig } from '../../worker/config.ts';
import { lookupTxt } from '../../worker/dns/doh.ts';
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

const { call, claim, verify, remove } = domainsApi(() => app.base, owners);
const stateIn = async (org: Org, domain: string) =>
  ((await call(org, 'GET')).json.domains as { domain: string; state: string }[]).find((entry) => entry.domain === domain)?.state;
async function ownerOf(domain: string) {
  const config = parseConfig({ LATCHKEY_ISSUER: app.base, LATCHKEY_IDENTITY: 'dev' });
  return verifiedOwnerOf(await servicesLoader(config, { store: app.store, now: app.now })(), domain);
}

before(async () => {
  resolver = await startDohResolver();
  app = await startInProcess({ LATCHKEY_DOH_URL: resolver.url });
  for (const org of ['acme', 'globex'] as const) {
    owners[org] = (await deviceLogin(app.base, `owner@${org}.example`)).access_token;
    assert.equal((await apiCall(app.base, 'POST', '/v1/orgs', owners[org], { slug: org })).status, 201);
  }
});
after(async () => {
  app?.close();
  await resolver?.stop();
});

describe("the resolver's answer", () => {
  const answer = (records: { name: string; type: number; data: string }[]) => ({
    raw: JSON.stringify({ Status: 0, Answer: records.map((record) => ({ ...record, TTL: 60 })) }),
  });

  test('a TXT record for another name in the Answer section proves nothing about the name asked', async () => {
    const globex = await claim('globex', 'victim.example');
    // The name asked has no record; a record at an unrelated name (a name the attacker
    // controls) rides along in the answer, as a broken or poisoned resolver could send.
    resolver.set(
      challenge('victim.example'),
      answer([{ name: '_latchkey-challenge.attacker.example.', type: 16, data: `"${valueOf(globex)}"` }]),
    );
    const refused = await verify('globex', 'victim.example');
    assert.equal(refused.status, 400, refused.text);
    assert.equal(await ownerOf('victim.example'), null);
    // Nor a CNAME that does not start at the name asked, leading to the attacker's TXT.
    resolver.set(
      challenge('victim.example'),
      answer([
        { name: 'unrelated.example.', type: 5, data: 'attacker.example.' },
        { name: 'attacker.example.', type: 16, data: `"${valueOf(globex)}"` },
      ]),
    );
    assert.equal((await verify('globex', 'victim.example')).status, 400);
    assert.deepEqual(await lookupTxt(fetch, resolver.url, challenge('victim.example')), []);
  });

  test("the name asked, in any case and with or without its root dot, and its CNAME chain's end, do count", async () => {
    resolver.set(
      '_c.chain.example',
      answer([
        { name: '_C.Chain.Example.', type: 5, data: 'Hop.Example.' },
        { name: 'hop.example', type: 5, data: 'end.example.' },
        { name: 'END.example.', type: 16, data: '"at the end"' },
        { name: '_c.chain.example', type: 16, data: '"at the name"' },
      ]),
    );
    assert.deepEqual(await lookupTxt(fetch, resolver.url, '_c.chain.example'), ['at the end', 'at the name']);
  });
});

describe('the claim record', () => {
  test('a stale claim taken over by one org while its own org verifies again: one of them wins, never both', async () => {
    const domain = 'stale-race.example';
    // What a removal cut off between its two writes leaves: acme's list without the
    // domain, the claim still acme's.
    await app.store.put(claimKey(domain), JSON.stringify({ org: 'acme', verifiedAt: app.now() }), 3600);
    const globex = await claim('globex', domain);
    // Globex's verification is held just before it writes the claim (it has found the
    // claim stale); meanwhile acme claims the domain again and verifies it.
    const swap = app.store.swap.bind(app.store);
    let reached = () => {};
    const atSwap = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.store.swap = async (key, expected, next, ttl) => {
      if (key === claimKey(domain) && next?.includes('"globex"')) {
        reached();
        await released;
      }
      return swap(key, expected, next, ttl);
    };
    try {
      resolver.set(challenge(domain), { txt: [[valueOf(globex)]] });
      const globexVerifying = verify('globex', domain);
      await atSwap;
      const acme = await claim('acme', domain);
      resolver.set(challenge(domain), { txt: [[valueOf(globex)], [valueOf(acme)]] });
      const acmeVerified = await verify('acme', domain);
      release();
      const globexVerified = await globexVerifying;
      assert.deepEqual(
        [acmeVerified.status, globexVerified.status].sort(),
        [200, 409],
        `${acmeVerified.text}\n${globexVerified.text}`,
      );
      const winner = acmeVerified.status === 200 ? 'acme' : 'globex';
      const loser = winner === 'acme' ? 'globex' : 'acme';
      assert.equal(await ownerOf(domain), winner);
      assert.equal(await stateIn(winner, domain), 'verified');
      assert.equal(await stateIn(loser, domain), 'pending', "the loser's list does not say verified");
    } finally {
      app.store.swap = swap;
    }
  });

  test("a verification of a removed claim, finishing after the domain's next claim was verified, leaves that claim held", async () => {
    const domain = 'reclaimed.example';
    const first = await claim('acme', domain);
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    resolver.set(challenge(domain), { after: released, then: { txt: [[valueOf(first)]] } });
    const late = verify('acme', domain);
    await resolver.askedFor(challenge(domain));
    assert.equal((await remove('acme', domain)).status, 200);
    const second = await claim('acme', domain);
    resolver.set(challenge(domain), { txt: [[valueOf(second)]] });
    assert.equal((await verify('acme', domain)).status, 200);
    release();
    assert.equal((await late).status, 404, 'the removed claim is not verified');
    assert.equal(await stateIn('acme', domain), 'verified');
    assert.equal(await ownerOf(domain), 'acme', 'the claim the second verification took is still there');
    // So another org proving it too is still refused.
    const globex = await claim('globex', domain);
    resolver.set(challenge(domain), { txt: [[valueOf(second)], [valueOf(globex)]] });
    assert.equal((await verify('globex', domain)).status, 409);
  });

  test("a removal finishing after the domain was claimed and verified again gives back only the removed claim's hold", async () => {
    const domain = 'removed-race.example';
    const first = await claim('acme', domain);
    resolver.set(challenge(domain), { txt: [[valueOf(first)]] });
    assert.equal((await verify('acme', domain)).status, 200);
    // The removal is held just before it reads the claim (its list entry is already gone);
    // meanwhile the org claims the domain again and verifies it.
    const get = app.store.get.bind(app.store);
    let armed = true;
    let reached = () => {};
    const atRead = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.store.get = async (key) => {
      if (armed && key === claimKey(domain)) {
        armed = false;
        reached();
        await released;
      }
      return get(key);
    };
    try {
      const removing = remove('acme', domain);
      await atRead;
      const second = await claim('acme', domain);
      resolver.set(challenge(domain), { txt: [[valueOf(second)]] });
      assert.equal((await verify('acme', domain)).status, 200);
      release();
      assert.equal((await removing).status, 200);
      assert.equal(await stateIn('acme', domain), 'verified');
      assert.equal(await ownerOf(domain), 'acme', 'the new claim keeps its hold on the domain');
    } finally {
      app.store.get = get;
    }
  });

  test('a stale claim is not brought back to life by its org claiming the domain again (pending) without proving it', async () => {
    const domain = 'revived.example';
    const first = await claim('acme', domain);
    resolver.set(challenge(domain), { txt: [[valueOf(first)]] });
    assert.equal((await verify('acme', domain)).status, 200);
    // A removal cut off between its two writes: the entry is gone, the claim stays.
    const swap = app.store.swap.bind(app.store);
    app.store.swap = async (key, expected, next, ttl) => {
      if (key === claimKey(domain) && next === null) throw new Error('cut off');
      return swap(key, expected, next, ttl);
    };
    try {
      assert.equal((await remove('acme', domain)).status, 500);
    } finally {
      app.store.swap = swap;
    }
    assert.equal(await stateIn('acme', domain), undefined);
    // The domain changes hands; acme claims it again but can no longer prove it.
    assert.equal((await claim('acme', domain)).status, 201);
    const globex = await claim('globex', domain);
    resolver.set(challenge(domain), { txt: [[valueOf(globex)]] });
    const verified = await verify('globex', domain);
    assert.equal(verified.status, 200, verified.text);
    assert.equal(await ownerOf(domain), 'globex');
  });

  test('pending claims block nobody: a squatter claiming a domain it cannot prove does not stop its owner', async () => {
    await claim('acme', 'squatted.example');
    const globex = await claim('globex', 'squatted.example');
    resolver.set(challenge('squatted.example'), { txt: [[valueOf(globex)]] });
    assert.equal((await verify('globex', 'squatted.example')).status, 200);
    assert.equal(await ownerOf('squatted.example'), 'globex');
    assert.equal((await verify('acme', 'squatted.example')).status, 409);
  });

  test('one domain however it is spelled: case, a root dot and IDNA name the same claim, verified once', async () => {
    const acme = await claim('acme', 'bücher.example');
    resolver.set(challenge('xn--bcher-kva.example'), { txt: [[valueOf(acme)]] });
    assert.equal((await verify('acme', 'XN--BCHER-KVA.EXAMPLE.')).status, 200);
    for (const spelling of ['BÜCHER.example', 'xn--bcher-kva.example.', 'Bücher.Example']) {
      const again = await claim('globex', spelling);
      assert.equal(again.json.domain, 'xn--bcher-kva.example', spelling);
      const taken = await verify('globex', encodeURIComponent(spelling));
      assert.equal(taken.status, 409, `${spelling}: ${taken.text}`);
    }
    const listed = (await call('globex', 'GET')).json.domains as { domain: string }[];
    assert.equal(listed.filter((entry) => entry.domain.includes('bcher')).length, 1, 'three spellings, one claim');
    assert.equal(await ownerOf('xn--bcher-kva.example'), 'acme');
  });

  test('a verified domain says nothing about its subdomains; a subdomain needs its own record', async () => {
    const acme = await claim('acme', 'parent.example');
    resolver.set(challenge('parent.example'), { txt: [[valueOf(acme)]] });
    assert.equal((await verify('acme', 'parent.example')).status, 200);
    assert.equal(await ownerOf('sub.parent.example'), null);
    // Acme's value at the parent does not prove the subdomain, for acme or anyone.
    const sub = await claim('acme', 'sub.parent.example');
    assert.equal((await verify('acme', 'sub.parent.example')).status, 400);
    assert.notEqual(valueOf(sub), valueOf(acme));
  });

  test('a value left in DNS by a removed claim does not prove the next claim, by the same org or another', async () => {
    const first = await claim('acme', 'leftover.example');
    resolver.set(challenge('leftover.example'), { txt: [[valueOf(first)]] });
    assert.equal((await verify('acme', 'leftover.example')).status, 200);
    assert.equal((await remove('acme', 'leftover.example')).status, 200);
    const again = await claim('acme', 'leftover.example');
    assert.notEqual(valueOf(again), valueOf(first), 'a new claim, a new value');
    assert.equal((await verify('acme', 'leftover.example')).status, 400);
    const globex = await claim('globex', 'leftover.example');
    assert.equal((await verify('globex', 'leftover.example')).status, 400);
    assert.equal(await ownerOf('leftover.example'), null);
    assert.notEqual(valueOf(globex), valueOf(first));
  });

  test("a domain that would carry query parameters into the resolver's URL is refused before DNS is asked", async () => {
    const asked = resolver.asked().length;
    for (const name of ['victim.example&name=attacker.example', 'victim.example#x', 'victim.example?type=A']) {
      const answer = await verify('acme', encodeURIComponent(name));
      assert.equal(answer.status, 400, `${name}: ${answer.text}`);
      assert.equal((await claim('acme', name)).status, 400, name);
    }
    assert.equal(resolver.asked().length, asked);
  });
});
