/**
 * Invitations with the clock in the test's hand: the app built in process
 * (`createApp(config, deps)` over a memory store, both on a stepping clock), served on a
 * loopback port so the ordinary HTTP fixtures sign people in. Expiry is stepped over, not
 * slept through; and the store is at hand to plant a stale membership index.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AuditPage } from '../../shared/audit.ts';
import { Invitation, InvitationList } from '../../shared/schemas.ts';
import { storeKey } from '../../worker/store/store.ts';
import { apiJsonCall } from '../fixtures/api-call.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';

let app: InProcess;
let base: string;

before(async () => {
  app = await startInProcess({}, Date.UTC(2026, 0, 5, 9));
  base = app.base;
});
after(() => app?.close());

const call = (method: string, path: string, bearer: string, body?: Record<string, unknown>) =>
  apiJsonCall(base, method, path, bearer, body);

test('an invitation expires at its time: not listed, not accepted, and its person is told why', async () => {
  const owner = (await deviceLogin(base, 'owner@time.example')).access_token;
  assert.equal((await call('POST', '/v1/orgs', owner, { slug: 'timely' })).status, 201);
  const made = await call('POST', '/v1/orgs/timely/invitations', owner, {
    email: 'late@else.example',
    role: 'member',
    expires_in: 3600,
  });
  assert.equal(made.status, 201, JSON.stringify(made));
  const invitation = Invitation.parse(made.json);

  app.step(3599_000);
  const early = (await deviceLogin(base, 'late@else.example')).access_token;
  const listed = InvitationList.parse((await call('GET', '/v1/invitations', early)).json).invitations;
  assert.deepEqual(
    listed.map((item) => item.id),
    [invitation.id],
    'still pending a second before',
  );

  app.step(1000);
  const late = (await deviceLogin(base, 'late@else.example')).access_token;
  assert.deepEqual(InvitationList.parse((await call('GET', '/v1/invitations', late)).json).invitations, []);
  const refused = await call('POST', `/v1/invitations/${invitation.id}/accept`, late);
  assert.equal(refused.status, 404);
  assert.match(String(refused.json.error_description), /expired at .*ask the org for a new one/);
  const owner2 = (await deviceLogin(base, 'owner@time.example')).access_token;
  const members = (await call('GET', '/v1/orgs/timely', owner2)).json.members as { email: string }[];
  assert.deepEqual(
    members.map((member) => member.email),
    ['owner@time.example'],
  );
  assert.deepEqual(InvitationList.parse((await call('GET', '/v1/orgs/timely/invitations', owner2)).json).invitations, []);
  // Re-invited, the person can join.
  const again = Invitation.parse(
    (await call('POST', '/v1/orgs/timely/invitations', owner2, { email: 'late@else.example' })).json,
  );
  assert.equal((await call('POST', `/v1/invitations/${again.id}/accept`, late)).status, 200);
});

test('a sign-in is audited only in orgs whose own record lists the person, whatever the index says', async () => {
  const owner = (await deviceLogin(base, 'owner@index.example')).access_token;
  assert.equal((await call('POST', '/v1/orgs', owner, { slug: 'indexed' })).status, 201);
  // A membership index naming an org that never had the person (a write cut off, an old bug).
  await app.store.put(storeKey('memberOrgs', 'stranger@else.example'), JSON.stringify(['indexed']), 3600);
  const stranger = (await deviceLogin(base, 'stranger@else.example')).access_token;
  const entries = AuditPage.parse((await call('GET', '/v1/orgs/indexed/audit', owner)).json).entries;
  assert.deepEqual(
    entries.map((entry) => [entry.action, entry.actor]),
    [['org.created', 'owner@index.example']],
  );
  assert.deepEqual((await call('GET', '/v1/orgs', stranger)).json.orgs, []);
});

test("bounds: no one is kept from being invited by strangers' orgs; an org makes at most 200; re-inviting grows nothing", async () => {
  // Three owners, each in at most 50 orgs, invite one person from 102 orgs. A full index
  // once refused every later invitation (409), so 50 orgs of a stranger's could keep
  // anyone from being invited anywhere; now the oldest make room and no org is refused.
  const owners = await Promise.all(
    ['one', 'two', 'three'].map(async (who) => (await deviceLogin(base, `${who}@bounds.example`)).access_token),
  );
  const orgsOf = (i: number) => Array.from({ length: 34 }, (_, n) => `b${i}-${n}`);
  const made: Record<string, string> = {};
  for (const [i, owner] of owners.entries()) {
    for (const slug of orgsOf(i)) {
      assert.equal((await call('POST', '/v1/orgs', owner, { slug })).status, 201);
      const invited = await call('POST', `/v1/orgs/${slug}/invitations`, owner, { email: 'popular@else.example' });
      assert.equal(invited.status, 201, `${slug}: ${JSON.stringify(invited.json)}`);
      made[slug] = String(invited.json.id);
    }
  }
  const popular = (await deviceLogin(base, 'popular@else.example')).access_token;
  const listed = InvitationList.parse((await call('GET', '/v1/invitations', popular)).json).invitations;
  assert.equal(listed.length, 100);
  assert.ok(!listed.some((item) => item.org === 'b0-0' || item.org === 'b0-1'), 'the oldest two made room');
  assert.ok(
    listed.some((item) => item.org === 'b2-33'),
    'the newest is there',
  );
  const [one = '', two = ''] = owners;
  // The org still holds its invitation, and inviting again puts it back in the person's list.
  const pending = InvitationList.parse((await call('GET', '/v1/orgs/b0-0/invitations', one)).json).invitations;
  assert.deepEqual(
    pending.map((item) => item.email),
    ['popular@else.example'],
  );
  assert.equal((await call('POST', '/v1/orgs/b0-0/invitations', one, { email: 'popular@else.example' })).status, 201);
  const again = InvitationList.parse((await call('GET', '/v1/invitations', popular)).json).invitations;
  assert.ok(again.some((item) => item.org === 'b0-0'));

  for (let n = 0; n < 20; n++) {
    assert.equal((await call('POST', '/v1/orgs/b0-1/invitations', one, { email: 'popular@else.example' })).status, 201);
  }
  const stored = (key: string) => app.store.dump()[key]?.length ?? 0;
  assert.ok(stored(storeKey('invitations', 'b0-1')) < 400, 're-invitations replace, they do not pile up');
  assert.ok(stored(storeKey('invitationIndex', 'popular@else.example')) < 200 * 100);

  // Orgs are free to make, so a person in 50 makes no more.
  for (let n = 34; n < 50; n++) assert.equal((await call('POST', '/v1/orgs', one, { slug: `b0-${n}` })).status, 201);
  const fiftyFirst = await call('POST', '/v1/orgs', one, { slug: 'b0-50' });
  assert.equal(fiftyFirst.status, 400);
  assert.match(String(fiftyFirst.json.error_description), /in 50 orgs cannot create another/);

  const inviteTo = (org: string, email: string) => call('POST', `/v1/orgs/${org}/invitations`, two, { email });
  assert.equal((await call('POST', '/v1/orgs', two, { slug: 'many' })).status, 201);
  for (let n = 0; n < 200; n++) assert.equal((await inviteTo('many', `p${n}@else.example`)).status, 201);
  const over = await inviteTo('many', 'p200@else.example');
  assert.equal(over.status, 409);
  assert.match(String(over.json.error_description), /at most 200 pending invitations/);
  assert.equal((await inviteTo('many', 'p7@else.example')).status, 201, 'renewing a pending one is no new one');
});

test("an admin cannot replace an owner's invitation (re-inviting the email as member withdraws it)", async () => {
  const owner = (await deviceLogin(base, 'owner@replace.example')).access_token;
  const admin = (await deviceLogin(base, 'admin@replace.example')).access_token;
  assert.equal((await call('POST', '/v1/orgs', owner, { slug: 'replace' })).status, 201);
  const forAdmin = await call('POST', '/v1/orgs/replace/invitations', owner, { email: 'admin@replace.example', role: 'admin' });
  assert.equal((await call('POST', `/v1/invitations/${forAdmin.json.id}/accept`, admin)).status, 200);
  const ownerInvite = await call('POST', '/v1/orgs/replace/invitations', owner, {
    email: 'carol@replace.example',
    role: 'owner',
  });
  assert.equal(ownerInvite.status, 201);
  const downgrade = await call('POST', '/v1/orgs/replace/invitations', admin, { email: 'Carol@Replace.example', role: 'member' });
  assert.equal(downgrade.status, 403, JSON.stringify(downgrade.json));
  assert.match(String(downgrade.json.error_description), /lacks owner/);
  const carol = (await deviceLogin(base, 'carol@replace.example')).access_token;
  const listed = InvitationList.parse((await call('GET', '/v1/invitations', carol)).json).invitations;
  assert.deepEqual(
    listed.map((item) => [item.id, item.role]),
    [[ownerInvite.json.id, 'owner']],
  );
  assert.equal((await call('POST', `/v1/invitations/${ownerInvite.json.id}/accept`, carol)).status, 200);
});

test('an accept the org cannot take (it kept changing, or filled up meanwhile) leaves the invitation standing', async () => {
  const owner = (await deviceLogin(base, 'owner@standing.example')).access_token;
  assert.equal((await call('POST', '/v1/orgs', owner, { slug: 'standing' })).status, 201);
  const made = Invitation.parse(
    (await call('POST', '/v1/orgs/standing/invitations', owner, { email: 'dan@else.example', role: 'member' })).json,
  );
  const dan = (await deviceLogin(base, 'dan@else.example')).access_token;
  // The org record loses every swap, as under a burst of other changes to it: a race the
  // memory store cannot otherwise show, since it runs each request to completion.
  const swap = app.store.swap;
  app.store.swap = (key, expected, next, ttl) =>
    key === storeKey('org', 'standing') ? Promise.resolve(false) : swap(key, expected, next, ttl);
  try {
    assert.equal((await call('POST', `/v1/invitations/${made.id}/accept`, dan)).status, 503);
  } finally {
    app.store.swap = swap;
  }
  const listed = InvitationList.parse((await call('GET', '/v1/invitations', dan)).json).invitations;
  assert.deepEqual(
    listed.map((item) => item.id),
    [made.id],
  );
  assert.equal((await call('POST', `/v1/invitations/${made.id}/accept`, dan)).status, 200);
});
