/**
 * Membership only by consent: nobody becomes a member of an org but by accepting, signed
 * in as the invited email, an invitation made for it. Until then the org holds nothing of
 * theirs — no role, no line in its member list, no sign-in in its audit trail, no session
 * to list — and an invitation is nobody else's to see or answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuditPage } from '../../shared/audit.ts';
import { Invitation, InvitationList, Org, SessionList } from '../../shared/schemas.ts';
import { apiJsonCall, ok } from '../fixtures/api-call.ts';
import { addMember, CLIENT_ID, deviceLogin, FormBrowser, pollToken, postForm } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let server: RunningWorker;
let owner: string;
let admin: string;
let orgKey: string;

const call = (method: string, path: string, bearer: string, body?: Record<string, unknown>) =>
  apiJsonCall(server.url, method, path, bearer, body);
const invite = async (email: string, role = 'member', bearer = owner, extra: Record<string, unknown> = {}) =>
  Invitation.parse(await ok(call('POST', '/v1/orgs/acme/invitations', bearer, { email, role, ...extra })));
const membersOf = async () => Org.parse(await ok(call('GET', '/v1/orgs/acme', owner))).members;
const trail = async () => AuditPage.parse(await ok(call('GET', '/v1/orgs/acme/audit?limit=200', owner))).entries;
const pendingFor = async (bearer: string) => InvitationList.parse(await ok(call('GET', '/v1/invitations', bearer))).invitations;

before(async () => {
  server = await startWorker();
  owner = (await deviceLogin(server.url, 'owner@acme.example')).access_token;
  await ok(call('POST', '/v1/orgs', owner, { slug: 'acme', name: 'Acme' }));
  admin = await addMember(server.url, owner, 'acme', 'admin@acme.example', 'admin');
  orgKey = String((await ok(call('POST', '/v1/orgs/acme/keys', owner, { name: 'bot', role: 'admin' }))).key);
});
after(async () => {
  await server?.stop();
});

describe('membership only by consent', () => {
  test('PUT of a non-member adds nobody, whoever asks and whatever the role; it points to invitations', async () => {
    for (const role of ['member', 'owner']) {
      const refused = await call('PUT', '/v1/orgs/acme/members/victim@elsewhere.example', owner, { role });
      assert.equal(refused.status, 404, JSON.stringify(refused));
      assert.equal(refused.json.error, 'not_found');
      assert.match(String(refused.json.error_description), /not a member.*invite/);
    }
    assert.equal((await call('PUT', '/v1/orgs/acme/members/victim@elsewhere.example', admin, { role: 'member' })).status, 404);
    assert.equal(
      (await membersOf()).some((member) => member.email === 'victim@elsewhere.example'),
      false,
    );
    // An existing member's role still changes, under the owner rule.
    const changed = Org.parse(await ok(call('PUT', '/v1/orgs/acme/members/admin@acme.example', owner, { role: 'member' })));
    assert.ok(changed.members.some((member) => member.email === 'admin@acme.example' && member.role === 'member'));
    await ok(call('PUT', '/v1/orgs/acme/members/admin@acme.example', owner, { role: 'admin' }));
  });

  test('an invited person is nothing to the org until they accept: no role, no sign-ins, no sessions', async () => {
    const invitation = await invite('ivy@elsewhere.example', 'admin');
    assert.match(invitation.id, /^inv_[A-Za-z0-9_-]{20}$/);
    assert.deepEqual(
      [invitation.org, invitation.org_name, invitation.email, invitation.role, invitation.invited_by],
      ['acme', 'Acme', 'ivy@elsewhere.example', 'admin', 'owner@acme.example'],
    );
    assert.equal(invitation.expires_at - invitation.created_at, 7 * 86400, 'seven days unless asked otherwise');
    const listed = InvitationList.parse(await ok(call('GET', '/v1/orgs/acme/invitations', admin))).invitations;
    assert.deepEqual(
      listed.find((item) => item.id === invitation.id),
      invitation,
    );

    const ivy = await deviceLogin(server.url, 'ivy@elsewhere.example', { device_name: 'ivy-laptop' });
    assert.deepEqual(await membersOf().then((members) => members.map((member) => member.email).sort()), [
      'admin@acme.example',
      'owner@acme.example',
    ]);
    assert.deepEqual((await ok(call('GET', '/v1/orgs', ivy.access_token))).orgs, []);
    assert.equal((await call('GET', '/v1/orgs/acme', ivy.access_token)).status, 404);
    const beforeAccept = await trail();
    assert.ok(beforeAccept.some((entry) => entry.action === 'invitation.created' && entry.subject === 'ivy@elsewhere.example'));
    assert.equal(
      beforeAccept.some((entry) => entry.actor === 'ivy@elsewhere.example'),
      false,
      'the invited person’s sign-in is not in the org’s trail',
    );
    const sessions = await call('GET', '/v1/orgs/acme/sessions?member=ivy@elsewhere.example', owner);
    if (sessions.status === 200) assert.deepEqual(SessionList.parse(sessions.json).sessions, []);
    else assert.equal(sessions.status, 404);
    // Not ivy's to give away either: a role change of the invited person is refused.
    assert.equal((await call('PUT', '/v1/orgs/acme/members/ivy@elsewhere.example', owner, { role: 'member' })).status, 404);

    assert.deepEqual(await pendingFor(ivy.access_token), [invitation]);
    const accepted = Invitation.parse(await ok(call('POST', `/v1/invitations/${invitation.id}/accept`, ivy.access_token)));
    assert.deepEqual([accepted.org, accepted.role], ['acme', 'admin']);
    assert.ok((await membersOf()).some((member) => member.email === 'ivy@elsewhere.example' && member.role === 'admin'));
    assert.deepEqual((await ok(call('GET', '/v1/orgs', ivy.access_token))).orgs, [{ slug: 'acme', name: 'Acme', role: 'admin' }]);
    assert.deepEqual(await pendingFor(ivy.access_token), []);
    const after = await trail();
    assert.deepEqual(
      after.slice(-2).map((entry) => [entry.action, entry.actor, entry.subject, entry.detail]),
      [
        ['invitation.accepted', 'ivy@elsewhere.example', 'ivy@elsewhere.example', `${invitation.id} as admin`],
        ['member.changed', 'ivy@elsewhere.example', 'ivy@elsewhere.example', 'added as admin'],
      ],
    );
    // Now a member, their next sign-in is the org's to see.
    await deviceLogin(server.url, 'ivy@elsewhere.example');
    assert.equal((await trail()).at(-1)?.action, 'session.created');
    const again = await call('POST', `/v1/invitations/${invitation.id}/accept`, ivy.access_token);
    assert.equal(again.status, 404, 'an invitation is used once');
  });

  test('only the invited email answers; to anyone else the invitation does not exist', async () => {
    const invitation = await invite('kim@elsewhere.example');
    const stranger = (await deviceLogin(server.url, 'mallory@elsewhere.example')).access_token;
    for (const path of [`/v1/invitations/${invitation.id}/accept`, `/v1/invitations/${invitation.id}/decline`]) {
      for (const bearer of [stranger, owner, admin]) {
        const refused = await call('POST', path, bearer);
        assert.equal(refused.status, 404, JSON.stringify(refused));
        assert.equal(refused.json.error, 'not_found');
        assert.equal(String(refused.json.error_description).includes('acme'), false, 'nothing about the org leaks');
      }
    }
    // Answered word for word as an id that was never made.
    const described = async (id: string) =>
      String((await call('POST', `/v1/invitations/${id}/accept`, stranger)).json.error_description).replace(id, 'ID');
    assert.equal(await described(invitation.id), await described('inv_AAAAAAAAAAAAAAAAAAAA'));
    assert.deepEqual(await pendingFor(stranger), []);
    assert.equal((await call('POST', '/v1/invitations/not-an-id/accept', stranger)).status, 400);
    // Keys and CI tokens are not people: they neither list nor answer invitations.
    assert.equal((await call('GET', '/v1/invitations', orgKey)).status, 403);
    assert.equal((await call('POST', `/v1/invitations/${invitation.id}/accept`, orgKey)).status, 403);
    // Nor does a sign-in established for one org, which acts in no other.
    const started = await postForm(`${server.url}/oauth/device_authorization`, { client_id: CLIENT_ID, org: 'acme' });
    await new FormBrowser(server.url).decide(String(started.json.user_code), 'approve', 'admin@acme.example');
    const bound = String((await pollToken(server.url, String(started.json.device_code))).json.access_token);
    const refused = await call('GET', '/v1/invitations', bound);
    assert.equal(refused.status, 403, JSON.stringify(refused));
    assert.match(String(refused.json.error_description), /acts only in org "acme"/);
    assert.equal(
      (await membersOf()).some((member) => member.email === 'kim@elsewhere.example'),
      false,
    );
  });

  test('decline: the invitation is gone and nobody joined; the org’s trail says so', async () => {
    const invitation = await invite('dee@elsewhere.example');
    const dee = (await deviceLogin(server.url, 'dee@elsewhere.example')).access_token;
    const declined = Invitation.parse(await ok(call('POST', `/v1/invitations/${invitation.id}/decline`, dee)));
    assert.equal(declined.id, invitation.id);
    assert.equal((await call('POST', `/v1/invitations/${invitation.id}/accept`, dee)).status, 404);
    assert.equal(
      (await membersOf()).some((member) => member.email === 'dee@elsewhere.example'),
      false,
    );
    const listed = InvitationList.parse(await ok(call('GET', '/v1/orgs/acme/invitations', owner))).invitations;
    assert.equal(
      listed.some((item) => item.id === invitation.id),
      false,
    );
    const last = (await trail()).at(-1);
    assert.deepEqual([last?.action, last?.actor], ['invitation.declined', 'dee@elsewhere.example']);
  });

  test('withdraw: the org takes an invitation back before it is answered; a re-invitation replaces the old one', async () => {
    const first = await invite('wes@elsewhere.example');
    const renewed = await invite('wes@elsewhere.example', 'admin');
    assert.notEqual(renewed.id, first.id);
    const wes = (await deviceLogin(server.url, 'wes@elsewhere.example')).access_token;
    assert.deepEqual(await pendingFor(wes), [renewed], 'one pending invitation per org and email');
    assert.equal((await call('POST', `/v1/invitations/${first.id}/accept`, wes)).status, 404);
    const withdrawn = Invitation.parse(await ok(call('DELETE', `/v1/orgs/acme/invitations/${renewed.id}`, admin)));
    assert.equal(withdrawn.id, renewed.id);
    assert.equal((await call('DELETE', `/v1/orgs/acme/invitations/${renewed.id}`, admin)).status, 404);
    assert.deepEqual(await pendingFor(wes), []);
    assert.equal((await call('POST', `/v1/invitations/${renewed.id}/accept`, wes)).status, 404);
    assert.equal(
      (await membersOf()).some((member) => member.email === 'wes@elsewhere.example'),
      false,
    );
    assert.equal((await trail()).at(-1)?.action, 'invitation.withdrawn');
  });

  test('concurrent accepts of one invitation: exactly one succeeds; accept racing a withdrawal: exactly one wins', async () => {
    const invitation = await invite('twin@elsewhere.example');
    const twin = (await deviceLogin(server.url, 'twin@elsewhere.example')).access_token;
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => call('POST', `/v1/invitations/${invitation.id}/accept`, twin)),
    );
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 404, 404, 404], JSON.stringify(answers));
    const joined = (await trail()).filter(
      (entry) => entry.action === 'invitation.accepted' && entry.subject === 'twin@elsewhere.example',
    );
    assert.equal(joined.length, 1);

    const raced = await invite('race@elsewhere.example');
    const racer = (await deviceLogin(server.url, 'race@elsewhere.example')).access_token;
    const [accept, withdraw] = await Promise.all([
      call('POST', `/v1/invitations/${raced.id}/accept`, racer),
      call('DELETE', `/v1/orgs/acme/invitations/${raced.id}`, owner),
    ]);
    assert.deepEqual([accept.status, withdraw.status].sort(), [200, 404], JSON.stringify([accept, withdraw]));
    const member = (await membersOf()).some((entry) => entry.email === 'race@elsewhere.example');
    assert.equal(member, accept.status === 200, 'a member exactly when the accept won');
  });

  test('who may invite: an admin not an owner, a member nobody, an API key nobody, an outsider learns nothing', async () => {
    const refused = await call('POST', '/v1/orgs/acme/invitations', admin, { email: 'boss@elsewhere.example', role: 'owner' });
    assert.equal(refused.status, 403);
    assert.match(String(refused.json.error_description), /lacks owner/);
    await invite('helper@elsewhere.example', 'admin', admin);
    const ownerInvite = await invite('boss@elsewhere.example', 'owner');
    const notHis = await call('DELETE', `/v1/orgs/acme/invitations/${ownerInvite.id}`, admin);
    assert.equal(notHis.status, 403, 'an admin cannot withdraw an owner’s invitation either');

    const member = await addMember(server.url, owner, 'acme', 'plain@acme.example', 'member');
    assert.equal((await call('POST', '/v1/orgs/acme/invitations', member, { email: 'x@elsewhere.example' })).status, 403);
    assert.equal((await call('GET', '/v1/orgs/acme/invitations', member)).status, 200, 'members see who is invited');
    const keyed = await call('POST', '/v1/orgs/acme/invitations', orgKey, { email: 'x@elsewhere.example', role: 'member' });
    assert.equal(keyed.status, 403);
    assert.match(String(keyed.json.error_description), /API keys cannot manage members/);
    const outsider = (await deviceLogin(server.url, 'outsider@elsewhere.example')).access_token;
    for (const [method, path] of [
      ['POST', '/v1/orgs/acme/invitations'],
      ['GET', '/v1/orgs/acme/invitations'],
      ['DELETE', `/v1/orgs/acme/invitations/${ownerInvite.id}`],
    ] as const) {
      const answer = await call(method, path, outsider, method === 'POST' ? { email: 'outsider@elsewhere.example' } : undefined);
      assert.equal(answer.status, 404, `${method} ${path}`);
    }
  });

  test('bad input: an existing member is a conflict; expiry is bounded; unknown fields are refused', async () => {
    const existing = await call('POST', '/v1/orgs/acme/invitations', owner, { email: 'admin@acme.example', role: 'member' });
    assert.equal(existing.status, 409);
    assert.equal(existing.json.error, 'conflict');
    for (const body of [
      { email: 'e@elsewhere.example', expires_in: 60 },
      { email: 'e@elsewhere.example', expires_in: 31 * 86400 },
      { email: 'e@elsewhere.example', role: 'emperor' },
      { email: 'not an email' },
      { email: 'e@elsewhere.example', org: 'other' },
    ]) {
      const answer = await call('POST', '/v1/orgs/acme/invitations', owner, body);
      assert.equal(answer.status, 400, JSON.stringify([body, answer]));
    }
    const hour = await invite('e@elsewhere.example', 'member', owner, { expires_in: 3600 });
    assert.equal(hour.expires_at - hour.created_at, 3600);
  });
});
