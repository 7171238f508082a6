/**
 * An org's email domains over HTTP, against a DNS-over-HTTPS resolver on loopback whose
 * answers the test writes (test/fixtures/doh-resolver.ts): a claim hands out a TXT record;
 * verification succeeds only with that exact value published (split into several
 * character-strings or not), and is refused when the record is absent, holds another
 * org's value, or the domain is verified by another org (409), also when two orgs verify
 * at once; removal frees the domain for another org; each step is in the audit trail.
 * Input is normalised (case, IDNA, trailing dot) and hostile input refused; a huge, slow,
 * broken or failing resolver is a 502 or 503 that says so, never a 500.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiAnswer, apiCall } from '../fixtures/api-call.ts';
import { type DohResolver, startDohResolver } from '../fixtures/doh-resolver.ts';
import { addMember, deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let resolver: DohResolver;
let server: RunningWorker;
const tokens: Record<'acme' | 'globex' | 'admin' | 'member', string> = { acme: '', globex: '', admin: '', member: '' };
let acmeKey: string;

const call = (method: string, path: string, bearer: string | null, body?: Record<string, unknown>) =>
  apiCall(server.url, method, path, bearer, body);
const claim = (org: 'acme' | 'globex', domain: string, bearer = tokens[org]) =>
  call('POST', `/v1/orgs/${org}/domains`, bearer, { domain });
const verify = (org: 'acme' | 'globex', domain: string, bearer = tokens[org]) =>
  call('POST', `/v1/orgs/${org}/domains/${encodeURIComponent(domain)}/verify`, bearer);
const remove = (org: 'acme' | 'globex', domain: string, bearer = tokens[org]) =>
  call('DELETE', `/v1/orgs/${org}/domains/${encodeURIComponent(domain)}`, bearer);
const listed = async (org: 'acme' | 'globex') =>
  (await call('GET', `/v1/orgs/${org}/domains`, tokens[org])).json.domains as Record<string, unknown>[];
/** The TXT value a claim answered. */
const valueOf = (answer: ApiAnswer) => (answer.json.record as { value: string }).value;
const challenge = (domain: string) => `_latchkey-challenge.${domain}`;

function expectStatus(answer: ApiAnswer, status: number, what: string) {
  assert.equal(answer.status, status, `${what}: ${answer.text}`);
}

before(async () => {
  resolver = await startDohResolver();
  server = await startWorker({ LATCHKEY_DOH_URL: resolver.url });
  tokens.acme = (await deviceLogin(server.url, 'owner@acme.example')).access_token;
  tokens.globex = (await deviceLogin(server.url, 'owner@globex.example')).access_token;
  tokens.admin = (await deviceLogin(server.url, 'admin@acme.example')).access_token;
  tokens.member = (await deviceLogin(server.url, 'member@acme.example')).access_token;
  for (const org of ['acme', 'globex'] as const)
    expectStatus(await call('POST', '/v1/orgs', tokens[org], { slug: org }), 201, org);
  await addMember(server.url, tokens.acme, 'acme', 'admin@acme.example', 'admin', tokens.admin);
  await addMember(server.url, tokens.acme, 'acme', 'member@acme.example', 'member', tokens.member);
  const key = await call('POST', '/v1/orgs/acme/keys', tokens.acme, { name: 'automation', role: 'admin' });
  expectStatus(key, 201, 'an admin key');
  acmeKey = String(key.json.key);
});
after(async () => {
  await server?.stop();
  await resolver?.stop();
});

describe('claiming a domain', () => {
  test('answers the TXT record to publish; the list shows it pending; claiming again gives the same record', async () => {
    const claimed = await claim('acme', 'claim.example');
    expectStatus(claimed, 201, 'claim');
    assert.equal(claimed.json.domain, 'claim.example');
    assert.equal(claimed.json.state, 'pending');
    assert.equal(claimed.json.verified_at, null);
    assert.equal(claimed.json.claimed_by, 'owner@acme.example');
    assert.deepEqual(Object.keys(claimed.json.record as object).sort(), ['name', 'type', 'value']);
    assert.equal((claimed.json.record as { name: string }).name, challenge('claim.example'));
    assert.match(valueOf(claimed), /^latchkey-domain-verification=[A-Za-z0-9_-]{32}$/);
    const again = await claim('acme', 'CLAIM.example.');
    expectStatus(again, 200, 'the same claim');
    assert.equal(valueOf(again), valueOf(claimed));
    const entry = (await listed('acme')).find((domain) => domain.domain === 'claim.example');
    assert.equal(entry?.state, 'pending');
    // Another org's claim of the same domain has its own value.
    const theirs = await claim('globex', 'claim.example');
    expectStatus(theirs, 201, "globex's claim");
    assert.notEqual(valueOf(theirs), valueOf(claimed));
  });

  test('names are normalised: case, a trailing dot, IDNA to punycode', async () => {
    for (const [given, stored] of [
      ['Mixed-Case.Example.', 'mixed-case.example'],
      ['bücher.example', 'xn--bcher-kva.example'],
      ['ＦＵＬＬＷＩＤＴＨ.example', 'fullwidth.example'],
    ] as const) {
      const claimed = await claim('acme', given);
      expectStatus(claimed, 201, given);
      assert.equal(claimed.json.domain, stored);
      assert.equal((claimed.json.record as { name: string }).name, challenge(stored));
    }
  });

  test('what is not a domain is a 400: IPs, one label, paths, userinfo, ports, too long, empty', async () => {
    for (const bad of [
      '',
      'localhost',
      '127.0.0.1',
      '0x7f.1',
      '[::1]',
      'evil.example/acme.example',
      'acme.example@evil.example',
      'acme.example:443',
      'acme..example',
      '-acme.example',
      'under_score.example',
      'acme.example%2fx',
      ' acme.example',
      `${'a'.repeat(64)}.example`,
      `${'a.'.repeat(130)}example`,
    ]) {
      const answer = await claim('acme', bad);
      expectStatus(answer, 400, JSON.stringify(bad));
      assert.equal(answer.json.error, 'invalid_request');
    }
    // A valid name whose record name (_latchkey-challenge.<domain>) would pass DNS's 253.
    const long = `${Array(4).fill('a'.repeat(60)).join('.')}.example`;
    const tooLong = await claim('acme', long);
    expectStatus(tooLong, 400, `${long.length} characters`);
    assert.match(String(tooLong.json.error_description), /at most 233 characters/);
    const wrongType = await call('POST', '/v1/orgs/acme/domains', tokens.acme, { domain: 5 });
    expectStatus(wrongType, 400, 'a number');
    const extra = await call('POST', '/v1/orgs/acme/domains', tokens.acme, { domain: 'x.example', org: 'globex' });
    expectStatus(extra, 400, 'an unknown field');
  });
});

describe('verifying a domain', () => {
  test('refused while the record is absent; verified once it holds the exact value, split into strings or not', async () => {
    const claimed = await claim('acme', 'verify.example');
    expectStatus(claimed, 201, 'claim');
    const absent = await verify('acme', 'verify.example');
    expectStatus(absent, 400, 'no record');
    assert.match(String(absent.json.error_description), /no TXT record _latchkey-challenge\.verify\.example was found/);
    assert.equal(resolver.asked().at(-1), challenge('verify.example'));

    // A near miss: the value with one character more, and the prefix alone.
    const value = valueOf(claimed);
    resolver.set(challenge('verify.example'), { txt: [[`${value}x`], ['latchkey-domain-verification=']] });
    const nearMiss = await verify('acme', 'verify.example');
    expectStatus(nearMiss, 400, 'a near miss');
    assert.match(String(nearMiss.json.error_description), /does not hold/);

    // Published beside other records, and split into character-strings as DNS may keep it.
    resolver.set(challenge('verify.example'), { txt: [['v=spf1 -all'], [value.slice(0, 20), value.slice(20)]] });
    const verified = await verify('acme', 'verify.example');
    expectStatus(verified, 200, 'verify');
    assert.equal(verified.json.state, 'verified');
    assert.equal(typeof verified.json.verified_at, 'number');
    const entry = (await listed('acme')).find((domain) => domain.domain === 'verify.example');
    assert.equal(entry?.state, 'verified');
    // Verifying again answers as it is, without asking DNS.
    const asked = resolver.asked().length;
    expectStatus(await verify('acme', 'verify.example'), 200, 'again');
    assert.equal(resolver.asked().length, asked);
  });

  test("another org's value does not verify; a domain verified by another org is a 409 even with this org's value published", async () => {
    const acme = await claim('acme', 'contested.example');
    const globex = await claim('globex', 'contested.example');
    expectStatus(acme, 201, 'acme claims');
    expectStatus(globex, 201, 'globex claims');
    resolver.set(challenge('contested.example'), { txt: [[valueOf(acme)]] });
    const wrongValue = await verify('globex', 'contested.example');
    expectStatus(wrongValue, 400, "globex with acme's value");
    assert.match(String(wrongValue.json.error_description), /1 of them another claim's/);
    expectStatus(await verify('acme', 'contested.example'), 200, 'acme verifies');

    resolver.set(challenge('contested.example'), { txt: [[valueOf(acme)], [valueOf(globex)]] });
    const taken = await verify('globex', 'contested.example');
    expectStatus(taken, 409, 'globex after acme');
    assert.equal(taken.json.error, 'conflict');
    assert.match(String(taken.json.error_description), /verified by another org/);
    assert.doesNotMatch(taken.text, /acme/, 'which org holds it is not told');
    assert.equal((await listed('globex')).find((domain) => domain.domain === 'contested.example')?.state, 'pending');

    // Removal frees it: then globex verifies with its own value.
    expectStatus(await remove('acme', 'contested.example'), 200, 'acme removes');
    assert.equal(
      (await listed('acme')).find((domain) => domain.domain === 'contested.example'),
      undefined,
    );
    expectStatus(await verify('globex', 'contested.example'), 200, 'globex verifies');
    // And now acme cannot take it back by claiming again.
    const reclaimed = await claim('acme', 'contested.example');
    expectStatus(reclaimed, 201, 'acme claims again');
    resolver.set(challenge('contested.example'), { txt: [[valueOf(reclaimed)], [valueOf(globex)]] });
    expectStatus(await verify('acme', 'contested.example'), 409, 'acme after globex');
  });

  test('two orgs verifying at once: exactly one wins, the other is a 409', async () => {
    for (let round = 0; round < 4; round++) {
      const domain = `race${round}.example`;
      const [acme, globex] = await Promise.all([claim('acme', domain), claim('globex', domain)]);
      // Both lookups are held until both have been asked, then answered together, so the
      // two verifications reach the claim at the same moment.
      const both = resolver.askedFor(challenge(domain), 2);
      resolver.set(challenge(domain), { after: both, then: { txt: [[valueOf(acme)], [valueOf(globex)]] } });
      const answers = await Promise.all([verify('acme', domain), verify('globex', domain)]);
      assert.deepEqual(
        answers.map((answer) => answer.status).sort(),
        [200, 409],
        answers.map((answer) => answer.text).join('\n'),
      );
      const states = await Promise.all([listed('acme'), listed('globex')]);
      const verifiedIn = states.map((domains) => domains.find((entry) => entry.domain === domain)?.state === 'verified');
      assert.deepEqual(
        verifiedIn,
        answers.map((answer) => answer.status === 200),
      );
    }
  });

  test('an unclaimed domain, or one removed, is not found', async () => {
    expectStatus(await verify('acme', 'never-claimed.example'), 404, 'verify');
    expectStatus(await remove('acme', 'never-claimed.example'), 404, 'remove');
    expectStatus(await verify('acme', 'not a domain'), 400, 'a malformed name');
  });
});

describe('who may', () => {
  test('an admin may; a member, the org admin key (for changes), and another org are refused', async () => {
    expectStatus(await claim('acme', 'admin-made.example', tokens.admin), 201, 'an admin claims');
    expectStatus(await claim('acme', 'member-made.example', tokens.member), 403, 'a member');
    expectStatus(await claim('acme', 'key-made.example', acmeKey), 403, 'an admin API key');
    expectStatus(await verify('acme', 'admin-made.example', acmeKey), 403, 'an admin API key verifies');
    expectStatus(await remove('acme', 'admin-made.example', acmeKey), 403, 'an admin API key removes');
    expectStatus(await call('GET', '/v1/orgs/acme/domains', acmeKey), 200, 'an admin API key lists');
    expectStatus(await call('GET', '/v1/orgs/acme/domains', tokens.member), 403, 'a member lists');
    expectStatus(await call('GET', '/v1/orgs/acme/domains', tokens.globex), 404, 'another org lists');
    expectStatus(await remove('acme', 'admin-made.example', tokens.globex), 404, 'another org removes');
    expectStatus(await call('GET', '/v1/orgs/acme/domains', null), 401, 'nobody');
    assert.ok((await listed('acme')).some((domain) => domain.domain === 'admin-made.example'));
  });
});

describe('the audit trail', () => {
  test('claimed, verified and removed are recorded with who did it', async () => {
    const claimed = await claim('acme', 'audited.example');
    resolver.set(challenge('audited.example'), { txt: [[valueOf(claimed)]] });
    expectStatus(await verify('acme', 'audited.example'), 200, 'verify');
    expectStatus(await remove('acme', 'audited.example', tokens.admin), 200, 'remove');
    const trail = await call('GET', '/v1/orgs/acme/audit?limit=200', tokens.acme);
    const entries = (trail.json.entries as { action: string; subject: string; actor: string; detail: string }[]).filter(
      (entry) => entry.subject === 'audited.example',
    );
    assert.deepEqual(
      entries.map((entry) => [entry.action, entry.actor, entry.detail]),
      [
        ['domain.claimed', 'owner@acme.example', 'TXT _latchkey-challenge.audited.example'],
        ['domain.verified', 'owner@acme.example', 'TXT _latchkey-challenge.audited.example'],
        ['domain.removed', 'admin@acme.example', 'was verified'],
      ],
    );
  });
});

describe('a hostile or failing resolver', () => {
  const cases: [string, Parameters<DohResolver['set']>[1], number, RegExp][] = [
    ['huge.example', { huge: 8 * 1024 * 1024, declared: false }, 502, /longer than 64 KiB/],
    ['huge-declared.example', { huge: 8 * 1024 * 1024, declared: true }, 502, /longer than 64 KiB/],
    ['html.example', { raw: '<html>captive portal</html>' }, 502, /other than JSON/],
    ['shape.example', { raw: '{"Status":0,"Answer":{"data":1}}' }, 502, /unexpected shape/],
    ['servfail.example', { status: 2 }, 502, /DNS status 2/],
    ['http-error.example', { http: 500 }, 502, /HTTP 500/],
    ['slow.example', { stall: 'body' }, 503, /did not answer within 5 s/],
  ];
  for (const [domain, behaviour, status, message] of cases) {
    test(`${domain}: ${status}, saying what went wrong`, async () => {
      expectStatus(await claim('acme', domain), 201, 'claim');
      resolver.set(challenge(domain), behaviour);
      const answer = await verify('acme', domain);
      expectStatus(answer, status, domain);
      assert.equal(answer.json.error, 'temporarily_unavailable');
      assert.match(String(answer.json.error_description), message);
      assert.match(String(answer.json.error_description), /could not check the TXT record/);
      assert.equal((await listed('acme')).find((entry) => entry.domain === domain)?.state, 'pending');
    });
  }
});
