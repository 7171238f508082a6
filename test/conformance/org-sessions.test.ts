/**
 * Sessions established for an org, over HTTP (DESIGN "Tenancy"): an org admin's power over
 * a person reaches only the sessions the person signed in for that org, never their
 * others; such a session's tokens act in that org alone; removal from the org ends them;
 * only the deployment's operators reach any session. And the device page's limit on wrong
 * codes holds under concurrent guesses.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { type AuditEntry, AuditPage } from '../../shared/audit.ts';
import { SessionList } from '../../shared/schemas.ts';
import { addMember, CLIENT_ID, FormBrowser, pollToken, postForm, refresh, startDeviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let server: RunningWorker;
before(async () => {
  server = await startWorker({ LATCHKEY_OPERATORS: 'ops@example.com' });
});
after(async () => {
  await server?.stop();
});

type Tokens = { access_token: string; refresh_token: string };
type Answer = { status: number; json: Record<string, unknown> };

async function call(method: string, path: string, bearer: string, body?: Record<string, unknown>): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
const ok = async (answer: Promise<Answer>) => {
  const result = await answer;
  assert.ok(result.status < 300, JSON.stringify(result));
  return result;
};
const sessionsAt = async (bearer: string, path: string) => SessionList.parse((await ok(call('GET', path, bearer))).json).sessions;
const sidOf = async (tokens: Tokens) => String((await ok(call('GET', '/v1/me', tokens.access_token))).json.session_id);

/** A device sign-in as `email`, established for `org` when one is named. */
async function signIn(email: string, org?: string): Promise<Tokens> {
  const { status, json } = await postForm(`${server.url}/oauth/device_authorization`, {
    client_id: CLIENT_ID,
    ...(org ? { org } : {}),
  });
  assert.equal(status, 200, JSON.stringify(json));
  const decided = await new FormBrowser(server.url).decide(String(json.user_code), 'approve', email);
  assert.equal(decided.status, 200, decided.html.slice(0, 500));
  const tokens = await pollToken(server.url, String(json.device_code));
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  return tokens.json as Tokens;
}

async function trail(org: string, bearer: string): Promise<AuditEntry[]> {
  return AuditPage.parse((await ok(call('GET', `/v1/orgs/${org}/audit?limit=200`, bearer))).json).entries;
}

describe('sessions established for an org', () => {
  // ann owns "north" and "south"; bob is a member of both; cat is an admin of north only.
  const t: Record<string, Tokens> = {};
  before(async () => {
    for (const who of ['ann', 'bob', 'cat']) t[who] = await signIn(`${who}@tenancy.example`);
    const ann = t.ann as Tokens;
    for (const slug of ['north', 'south']) await ok(call('POST', '/v1/orgs', ann.access_token, { slug }));
    await addMember(server.url, ann.access_token, 'north', 'bob@tenancy.example', 'member', (t.bob as Tokens).access_token);
    await addMember(server.url, ann.access_token, 'south', 'bob@tenancy.example', 'member', (t.bob as Tokens).access_token);
    await addMember(server.url, ann.access_token, 'north', 'cat@tenancy.example', 'admin', (t.cat as Tokens).access_token);
  });

  test('an org admin neither lists nor ends a member’s sessions that were not established for its org', async () => {
    const cat = (t.cat as Tokens).access_token;
    const bob = t.bob as Tokens;
    const sid = await sidOf(bob);
    const listed = await sessionsAt(cat, '/v1/orgs/north/sessions');
    assert.ok(!listed.some((session) => session.id === sid || session.email === 'bob@tenancy.example'));
    assert.deepEqual(await sessionsAt(cat, '/v1/orgs/north/sessions?member=bob@tenancy.example'), []);
    const refused = await call('POST', `/v1/orgs/north/sessions/${sid}/revoke`, cat);
    assert.equal(refused.status, 404, 'answered like a session that does not exist');
    assert.equal((await call('GET', '/v1/me', bob.access_token)).status, 200);
    // Nor does the owner, nor the admin of the other org the person is in.
    assert.equal((await call('POST', `/v1/orgs/south/sessions/${sid}/revoke`, (t.ann as Tokens).access_token)).status, 404);
    assert.equal((await call('GET', '/v1/me', bob.access_token)).status, 200);
  });

  test('the token carries its org and acts only there, after a refresh too; person-level routes still answer', async () => {
    const bob = await signIn('bob@tenancy.example', 'north');
    assert.equal(decodeJwt(bob.access_token).org, 'north');
    assert.equal((await ok(call('GET', '/v1/me', bob.access_token))).json.org, 'north');
    assert.equal((await call('GET', '/v1/orgs/north', bob.access_token)).status, 200);
    const south = await call('GET', '/v1/orgs/south', bob.access_token);
    assert.equal(south.status, 404, 'a member of south, but this sign-in is for north');
    assert.equal((await call('GET', '/v1/orgs/south/members', bob.access_token)).status, 404);
    assert.equal((await call('GET', '/v1/orgs/north', (t.bob as Tokens).access_token)).status, 200);
    assert.equal((await call('GET', '/v1/orgs/south', (t.bob as Tokens).access_token)).status, 200);

    const refreshed = await refresh(server.url, bob.refresh_token);
    assert.equal(refreshed.status, 200);
    const next = String(refreshed.json.access_token);
    assert.equal(decodeJwt(next).org, 'north');
    assert.equal((await call('GET', '/v1/orgs/south', next)).status, 404);

    // Of the person's own sessions, a sign-in for north reaches only those for north: not
    // their whole-person sign-ins, nor one for south.
    const forSouth = await signIn('bob@tenancy.example', 'south');
    const own = await sessionsAt(next, '/v1/sessions');
    assert.equal(own.find((session) => session.current)?.org, 'north');
    assert.deepEqual([...new Set(own.map((session) => session.org))], ['north']);
    const whole = await sidOf(t.bob as Tokens);
    for (const sid of [whole, await sidOf(forSouth)]) {
      assert.equal((await call('POST', `/v1/sessions/${sid}/revoke`, next)).status, 404);
    }
    assert.equal((await call('GET', '/v1/me', (t.bob as Tokens).access_token)).status, 200, 'the whole-person sign-in lives on');
    assert.equal((await call('GET', '/v1/me', forSouth.access_token)).status, 200);
    const everything = await sessionsAt((t.bob as Tokens).access_token, '/v1/sessions');
    assert.deepEqual(new Set(everything.map((session) => session.org)), new Set([null, 'north', 'south']));
    // Its own session it may end, as anyone may end theirs.
    assert.equal((await call('POST', `/v1/sessions/${await sidOf({ ...bob, access_token: next })}/revoke`, next)).status, 200);
  });

  test('an org admin lists and ends only sessions established for its org', async () => {
    const cat = (t.cat as Tokens).access_token;
    const forNorth = await signIn('bob@tenancy.example', 'north');
    const forSouth = await signIn('bob@tenancy.example', 'south');
    const unbound = await signIn('bob@tenancy.example');
    const [northSid, southSid, unboundSid] = (await Promise.all([forNorth, forSouth, unbound].map(sidOf))) as [
      string,
      string,
      string,
    ];

    const listed = await sessionsAt(cat, '/v1/orgs/north/sessions');
    const ids = listed.map((session) => session.id);
    assert.ok(ids.includes(northSid));
    assert.ok(!ids.includes(southSid) && !ids.includes(unboundSid), 'no session established elsewhere is listed');
    assert.ok(listed.every((session) => session.org === 'north'));
    const bobs = await sessionsAt(cat, '/v1/orgs/north/sessions?member=bob@tenancy.example');
    assert.ok(bobs.length > 0 && bobs.every((session) => session.email === 'bob@tenancy.example' && session.org === 'north'));
    assert.deepEqual(await sessionsAt(cat, '/v1/orgs/north/sessions?member=nobody@tenancy.example'), []);
    const member = await call('GET', '/v1/orgs/north/sessions', forNorth.access_token);
    assert.equal(member.status, 403, 'a member does not list the org’s sessions');
    assert.match(String(member.json.error_description), /lacks sessions:read/);

    for (const sid of [southSid, unboundSid]) {
      const refused = await call('POST', `/v1/orgs/north/sessions/${sid}/revoke`, cat);
      assert.equal(refused.status, 404, 'answered like a session that does not exist');
    }
    assert.equal((await call('GET', '/v1/me', forSouth.access_token)).status, 200);
    assert.equal((await call('GET', '/v1/me', unbound.access_token)).status, 200);

    const ended = await ok(call('POST', `/v1/orgs/north/sessions/${northSid}/revoke`, cat));
    assert.equal(ended.json.revoked, 'admin');
    assert.equal((await call('GET', '/v1/me', forNorth.access_token)).status, 401);
    assert.equal((await refresh(server.url, forNorth.refresh_token)).json.error, 'invalid_grant');

    // The ending is in north's trail; south never hears of north's session.
    const north = await trail('north', (t.ann as Tokens).access_token);
    assert.ok(north.some((entry) => entry.action === 'session.revoked' && entry.subject === northSid));
    assert.ok(north.some((entry) => entry.action === 'session.created' && entry.subject === northSid));
    const south = await trail('south', (t.ann as Tokens).access_token);
    assert.ok(!south.some((entry) => entry.subject === northSid));
    assert.ok(south.some((entry) => entry.action === 'session.created' && entry.subject === southSid));
  });

  test("only an owner ends an owner's session for the org", async () => {
    const annNorth = await signIn('ann@tenancy.example', 'north');
    const sid = await sidOf(annNorth);
    const refused = await call('POST', `/v1/orgs/north/sessions/${sid}/revoke`, (t.cat as Tokens).access_token);
    assert.equal(refused.status, 403);
    assert.match(String(refused.json.error_description), /lacks owner/);
    assert.equal((await call('GET', '/v1/me', annNorth.access_token)).status, 200);
  });

  test('an admin signed in for another org is nobody here', async () => {
    const annSouth = await signIn('ann@tenancy.example', 'south');
    const bobNorth = await signIn('bob@tenancy.example', 'north');
    assert.equal((await call('GET', '/v1/orgs/north/sessions', annSouth.access_token)).status, 404);
    const refused = await call('POST', `/v1/orgs/north/sessions/${await sidOf(bobNorth)}/revoke`, annSouth.access_token);
    assert.equal(refused.status, 404);
    assert.equal((await call('GET', '/v1/me', bobNorth.access_token)).status, 200);
  });

  test('removing a member ends the sessions they established for the org, and nothing else', async () => {
    const ann = t.ann as Tokens;
    const dan = await signIn('dan@tenancy.example');
    await addMember(server.url, ann.access_token, 'north', 'dan@tenancy.example', 'member', dan.access_token);
    await addMember(server.url, ann.access_token, 'south', 'dan@tenancy.example', 'member', dan.access_token);
    const forNorth = await signIn('dan@tenancy.example', 'north');
    const alsoNorth = await signIn('dan@tenancy.example', 'north');
    const forSouth = await signIn('dan@tenancy.example', 'south');

    await ok(call('DELETE', '/v1/orgs/north/members/dan@tenancy.example', ann.access_token));
    for (const ended of [forNorth, alsoNorth]) {
      assert.equal((await call('GET', '/v1/me', ended.access_token)).status, 401);
      assert.equal((await refresh(server.url, ended.refresh_token)).json.error, 'invalid_grant');
    }
    assert.equal((await call('GET', '/v1/me', forSouth.access_token)).status, 200);
    assert.equal((await call('GET', '/v1/orgs/south', forSouth.access_token)).status, 200);
    // The unbound session lives on and simply no longer reaches north.
    assert.equal((await call('GET', '/v1/me', dan.access_token)).status, 200);
    assert.equal((await call('GET', '/v1/orgs/north', dan.access_token)).status, 404);
    assert.equal((await call('GET', '/v1/orgs/south', dan.access_token)).status, 200);
  });
});

describe('approving a sign-in for an org', () => {
  test('the device page shows the org, and refuses a person who is not a member of it (or an org that does not exist)', async () => {
    const owner = await signIn('eve@approve.example');
    await ok(call('POST', '/v1/orgs', owner.access_token, { slug: 'approvals' }));
    for (const org of ['approvals', 'no-such-org']) {
      const started = await postForm(`${server.url}/oauth/device_authorization`, { client_id: CLIENT_ID, org });
      const userCode = String(started.json.user_code);
      const browser = new FormBrowser(server.url);
      await browser.signIn('mallory@approve.example', userCode);
      const page = await browser.request(`/device?user_code=${userCode}`);
      assert.equal(page.status, 403, org);
      assert.match(page.html, /not a member/);
      assert.doesNotMatch(page.html, /name="decision"/);
      const form = await browser.request('/device');
      const forced = await browser.request('/device/decision', {
        csrf: FormBrowser.field(form.html, 'csrf'),
        user_code: userCode,
        decision: 'approve',
      });
      assert.equal(forced.status, 403);
      const poll = await pollToken(server.url, String(started.json.device_code));
      assert.equal(poll.json.error, 'authorization_pending', 'nothing was approved');
    }

    // A member sees the org on the consent page.
    const started = await startDeviceLoginFor('approvals');
    const browser = new FormBrowser(server.url);
    await browser.signIn('eve@approve.example', started.user_code);
    const consent = await browser.request(`/device?user_code=${started.user_code}`);
    assert.equal(consent.status, 200);
    assert.match(consent.html, /id="org">approvals/);
  });

  test('browser login: an org the person is not in comes back to the client as access_denied', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: 'http://127.0.0.1:53682/callback',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state: 's1',
      org: 'approvals',
    });
    const browser = new FormBrowser(server.url);
    const signInPage = await browser.request(`/oauth/authorize?${params}`);
    const signedIn = await browser.submitSignIn(signInPage.html, 'mallory@approve.example');
    const answer = await browser.request(signedIn.headers.get('location') ?? '');
    assert.equal(answer.status, 303);
    const back = new URL(answer.headers.get('location') ?? '');
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), 's1');
    assert.equal(back.searchParams.get('code'), null);
  });

  test('a malformed org is refused when the sign-in starts', async () => {
    const bad = await postForm(`${server.url}/oauth/device_authorization`, { client_id: CLIENT_ID, org: 'Not A Slug' });
    assert.equal(bad.status, 400);
  });
});

async function startDeviceLoginFor(org: string) {
  const { json } = await postForm(`${server.url}/oauth/device_authorization`, { client_id: CLIENT_ID, org });
  return json as { device_code: string; user_code: string };
}

describe('operators', () => {
  test("an operator lists and revokes anyone's session; no one else can, nor an operator's sign-in for an org", async () => {
    const victim = await signIn('fay@ops.example');
    const sid = await sidOf(victim);
    const other = await signIn('gus@ops.example');
    assert.equal((await call('GET', '/v1/sessions?email=fay@ops.example', other.access_token)).status, 403);
    assert.equal((await call('POST', `/v1/sessions/${sid}/revoke`, other.access_token)).status, 404);

    const opsOwner = await signIn('ops@example.com');
    await ok(call('POST', '/v1/orgs', opsOwner.access_token, { slug: 'ops-org' }));
    const opsForOrg = await signIn('ops@example.com', 'ops-org');
    assert.equal((await call('GET', '/v1/sessions?email=fay@ops.example', opsForOrg.access_token)).status, 403);
    assert.equal((await call('POST', `/v1/sessions/${sid}/revoke`, opsForOrg.access_token)).status, 404);

    const ops = await signIn('ops@example.com');
    const listed = await sessionsAt(ops.access_token, '/v1/sessions?email=fay@ops.example');
    assert.deepEqual(
      listed.map((session) => session.id),
      [sid],
    );
    const ended = await ok(call('POST', `/v1/sessions/${sid}/revoke`, ops.access_token));
    assert.equal(ended.json.revoked, 'admin');
    assert.equal((await call('GET', '/v1/me', victim.access_token)).status, 401);
    assert.equal((await call('GET', '/v1/me', other.access_token)).status, 200);
  });
});

describe('wrong user codes on the device page', () => {
  test('concurrent guesses in one browser session: at most the limit are looked at, and then even the right code is refused', async () => {
    const started = await startDeviceLogin(server.url);
    const browser = new FormBrowser(server.url);
    const page = await browser.signIn('guesser@example.com');
    assert.equal(page.status, 303);
    const form = await browser.request('/device');
    const csrf = FormBrowser.field(form.html, 'csrf');
    const guesses = await Promise.all(
      Array.from({ length: 20 }, () => browser.request('/device/verify', { csrf, user_code: 'BCDF-GHJK' })),
    );
    const statuses = guesses.map((answer) => answer.status);
    const evaluated = statuses.filter((status) => status === 400).length;
    assert.ok(evaluated <= 5, `at most 5 guesses looked at, not ${evaluated}: ${statuses}`);
    assert.equal(statuses.filter((status) => status === 429).length, 20 - evaluated, String(statuses));

    const right = await browser.request('/device/verify', { csrf, user_code: started.user_code });
    assert.equal(right.status, 429, 'the limit holds for the right code too');
    assert.doesNotMatch(right.html, /name="decision"/);
  });

  test('signing in again in a fresh browser buys no more guesses: the limit is the person’s', async () => {
    const started = await startDeviceLogin(server.url);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const browser = new FormBrowser(server.url);
      await browser.signIn('resetter@example.com');
      const csrf = FormBrowser.field((await browser.request('/device')).html, 'csrf');
      statuses.push((await browser.request('/device/verify', { csrf, user_code: 'BCDF-GHJK' })).status);
    }
    assert.deepEqual(statuses, [400, 400, 400, 400, 400, 429, 429]);
    const browser = new FormBrowser(server.url);
    await browser.signIn('resetter@example.com');
    const csrf = FormBrowser.field((await browser.request('/device')).html, 'csrf');
    assert.equal((await browser.request('/device/verify', { csrf, user_code: started.user_code })).status, 429);
  });

  test('another site sending the signed-in browser to /device with codes spends none of the person’s guesses', async () => {
    // A cross-site popup can be navigated to /device?user_code=… again and again, with the
    // person's cookie: those visits are only shown the code to confirm, never looked up.
    const started = await startDeviceLogin(server.url);
    const browser = new FormBrowser(server.url);
    await browser.signIn('lured@example.com');
    for (let i = 0; i < 7; i++) {
      const lured = await browser.request('/device?user_code=BCDF-GHJK', undefined, { 'sec-fetch-site': 'cross-site' });
      assert.equal(lured.status, 200);
      assert.match(lured.html, /value="BCDF-GHJK"/, 'the code is shown to confirm');
      assert.doesNotMatch(lured.html, /name="decision"/);
    }
    const own = await browser.request(`/device?user_code=${started.user_code}`, undefined, { 'sec-fetch-site': 'none' });
    assert.equal(own.status, 200);
    assert.match(own.html, /name="decision"/, 'the person’s own visit goes straight to the consent page');
  });

  test('codes posted straight to the decision are guesses too: limited the same way', async () => {
    const started = await startDeviceLogin(server.url);
    const browser = new FormBrowser(server.url);
    await browser.signIn('decider@example.com');
    const csrf = FormBrowser.field((await browser.request('/device')).html, 'csrf');
    const decide = (userCode: string) => browser.request('/device/decision', { csrf, user_code: userCode, decision: 'approve' });
    const statuses = (await Promise.all(Array.from({ length: 20 }, () => decide('BCDF-GHJK')))).map((answer) => answer.status);
    const evaluated = statuses.filter((status) => status === 400).length;
    assert.ok(evaluated <= 5, `at most 5 guesses looked at, not ${evaluated}: ${statuses}`);
    assert.equal(statuses.filter((status) => status === 429).length, 20 - evaluated, String(statuses));
    assert.equal((await decide(started.user_code)).status, 429);
    assert.equal((await pollToken(server.url, started.device_code)).json.error, 'authorization_pending', 'nothing was approved');
  });

  test('ten people behind one address sign in at once, and none is told to wait', async () => {
    // Counted with a swap loop, some of 8 concurrent sign-ins were refused as if guessing.
    const pages = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const browser = new FormBrowser(server.url);
        await browser.signIn(`crowd-${i}@example.com`);
        const started = await startDeviceLogin(server.url);
        const form = await browser.request('/device');
        return browser.request('/device/verify', { csrf: FormBrowser.field(form.html, 'csrf'), user_code: started.user_code });
      }),
    );
    assert.deepEqual(
      pages.map((page) => page.status),
      pages.map(() => 200),
    );
  });

  test('a right code costs no guess', async () => {
    const browser = new FormBrowser(server.url);
    await browser.signIn('careful@example.com');
    for (let i = 0; i < 7; i++) {
      const started = await startDeviceLogin(server.url);
      const form = await browser.request('/device');
      const page = await browser.request('/device/verify', {
        csrf: FormBrowser.field(form.html, 'csrf'),
        user_code: started.user_code,
      });
      assert.equal(page.status, 200, `sign-in ${i + 1}`);
    }
  });
});
