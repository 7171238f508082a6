/**
 * The console's org, project, member and invitation posts as an attacker would send them:
 * the app in process on a stepping clock (a memory store), people signed in through the
 * console's own sign-in form with cookies (FormBrowser). Every refusal is checked against
 * the org record and the invitation list afterwards: nothing changed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Invitation, InvitationList, Org } from '../../shared/schemas.ts';
import { apiJsonCall } from '../fixtures/api-call.ts';
import { type ConsolePerson, consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin, FormBrowser } from '../fixtures/oauth-client.ts';

let app: InProcess;
let base: string;

before(async () => {
  app = await startInProcess({}, Date.UTC(2026, 5, 1, 9));
  base = app.base;
  await setUp();
});
after(() => app?.close());

const signedIn = (email: string) => consolePerson(base, email);

/** The owner's access token, fresh (the clock steps past an access token's life). */
const ownerApi = async () => (await deviceLogin(base, 'ann@acme.example')).access_token;
const orgState = async (slug: string) => {
  const ownerToken = await ownerApi();
  const org = Org.parse((await apiJsonCall(base, 'GET', `/v1/orgs/${slug}`, ownerToken)).json);
  const invitations = InvitationList.parse((await apiJsonCall(base, 'GET', `/v1/orgs/${slug}/invitations`, ownerToken)).json);
  return { members: Object.fromEntries(org.members.map((m) => [m.email, m.role])), org, invitations: invitations.invitations };
};

let owner: ConsolePerson;
let admin: ConsolePerson;
let member: ConsolePerson;
let invited: ConsolePerson;
let otherAdmin: ConsolePerson;
let invitationId = '';

/** Invites `email` from the console as `by` and returns the invitation's id (from the org's list). */
async function inviteFromConsole(by: ConsolePerson, slug: string, email: string, role: string) {
  const answer = await by.post(`/console/orgs/${slug}/invitations`, { email, role, expires_in: '604800' });
  assert.equal(answer.status, 303, answer.html.slice(0, 400));
  assert.equal(answer.headers.get('location'), `/console/orgs/${slug}/members?notice=invitation-sent`);
  const found = (await orgState(slug)).invitations.find((item) => item.email === email);
  assert.ok(found, `an invitation of ${email}`);
  return found.id;
}

async function acceptWithApi(email: string, id: string) {
  const token = (await deviceLogin(base, email)).access_token;
  const accepted = await apiJsonCall(base, 'POST', `/v1/invitations/${id}/accept`, token);
  assert.equal(accepted.status, 200, JSON.stringify(accepted.json));
}

async function setUp() {
  owner = await signedIn('ann@acme.example');
  const created = await owner.post('/console/orgs', { slug: 'acme', name: 'Acme' });
  assert.equal(created.status, 303, created.html.slice(0, 600));
  assert.equal(created.headers.get('location'), '/console/orgs/acme?notice=org-created');
  admin = await signedIn('adm@acme.example');
  member = await signedIn('mem@acme.example');
  invited = await signedIn('inv@acme.example');
  otherAdmin = await signedIn('gil@globex.example');
  assert.equal((await otherAdmin.post('/console/orgs', { slug: 'globex' })).status, 303);
  await acceptWithApi('adm@acme.example', await inviteFromConsole(owner, 'acme', 'adm@acme.example', 'admin'));
  await acceptWithApi('mem@acme.example', await inviteFromConsole(owner, 'acme', 'mem@acme.example', 'member'));
  invitationId = await inviteFromConsole(owner, 'acme', 'inv@acme.example', 'member');
}

describe('the console org pages', () => {
  test('the owner sees the overview and creates a project; the audit trail has what the API writes', async () => {
    const overview = await owner.get('/console/orgs/acme');
    assert.equal(overview.status, 200);
    assert.match(overview.html, /<dd><span class="badge">owner<\/span><\/dd>/);
    assert.match(overview.html, /action="\/console\/orgs\/acme\/projects"/);
    const made = await owner.post('/console/orgs/acme/projects', { slug: 'web' });
    assert.equal(made.headers.get('location'), '/console/orgs/acme?notice=project-created');
    assert.deepEqual((await orgState('acme')).org.projects, ['web']);
    const trail = await apiJsonCall(base, 'GET', '/v1/orgs/acme/audit', await ownerApi());
    const actions = (trail.json.entries as { action: string; actor: string }[]).map((entry) => entry.action);
    assert.ok(actions.includes('org.created') && actions.includes('project.created'), actions.join());
  });

  test('a member sees the overview and the members read-only', async () => {
    const overview = await member.get('/console/orgs/acme');
    assert.equal(overview.status, 200);
    assert.doesNotMatch(overview.html, /\/projects"/, 'no project form');
    const members = await member.get('/console/orgs/acme/members');
    assert.equal(members.status, 200);
    assert.match(members.html, /adm@acme\.example/);
    assert.doesNotMatch(members.html, /name="role"|\/remove"|\/resend"|\/withdraw"|name="email"/);
  });

  test('a member (not admin) posting invite, role, remove, project, resend, withdraw: 403, nothing changed', async () => {
    const before = await orgState('acme');
    const posts: [string, Record<string, string>][] = [
      ['/console/orgs/acme/invitations', { email: 'new@acme.example', role: 'member' }],
      ['/console/orgs/acme/members/adm%40acme.example/role', { role: 'member' }],
      ['/console/orgs/acme/members/mem%40acme.example/role', { role: 'admin' }],
      ['/console/orgs/acme/members/adm%40acme.example/remove', {}],
      ['/console/orgs/acme/projects', { slug: 'sneaky' }],
      [`/console/orgs/acme/invitations/${invitationId}/resend`, {}],
      [`/console/orgs/acme/invitations/${invitationId}/withdraw`, {}],
    ];
    for (const [path, fields] of posts) {
      const answer = await member.post(path, fields);
      assert.equal(answer.status, 403, `${path}: ${answer.status}`);
      assert.match(answer.html, /Back to the console/, 'the console error page');
    }
    assert.deepEqual(await orgState('acme'), before);
  });

  test("another org's admin and the invited-but-not-accepted person: the same 404 as for no org, on every page and post", async () => {
    const before = await orgState('acme');
    const pages = ['/console/orgs/acme', '/console/orgs/acme/members'];
    const posts: [string, Record<string, string>][] = [
      ['/console/orgs/acme/invitations', { email: 'new@acme.example', role: 'member' }],
      ['/console/orgs/acme/members/adm%40acme.example/role', { role: 'member' }],
      ['/console/orgs/acme/members/ann%40acme.example/remove', {}],
      ['/console/orgs/acme/projects', { slug: 'sneaky' }],
      [`/console/orgs/acme/invitations/${invitationId}/resend`, {}],
      [`/console/orgs/acme/invitations/${invitationId}/withdraw`, {}],
    ];
    const none = (path: string) => path.replace('/acme', '/no-such-org');
    for (const person of [otherAdmin, invited]) {
      for (const path of pages) {
        const [answer, nothing] = [await person.get(path), await person.get(none(path))];
        assert.equal(answer.status, 404, `${person.email} ${path}`);
        assert.equal(answer.html.replaceAll('acme', 'no-such-org'), nothing.html, 'the same page as for no org');
      }
      for (const [path, fields] of posts) {
        const answer = await person.post(path, fields);
        const nothing = await person.post(none(path), fields);
        assert.equal(answer.status, 404, `${person.email} ${path}`);
        assert.equal(answer.html.replaceAll('acme', 'no-such-org'), nothing.html);
      }
    }
    assert.deepEqual(await orgState('acme'), before);
  });

  test('an admin can neither make, unmake nor remove an owner', async () => {
    const before = await orgState('acme');
    for (const [path, fields] of [
      ['/console/orgs/acme/members/mem%40acme.example/role', { role: 'owner' }],
      ['/console/orgs/acme/members/ann%40acme.example/role', { role: 'member' }],
      ['/console/orgs/acme/members/ann%40acme.example/remove', {}],
      ['/console/orgs/acme/invitations', { email: 'boss@acme.example', role: 'owner' }],
    ] as [string, Record<string, string>][]) {
      const answer = await admin.post(path, fields);
      assert.equal(answer.status, 403, `${path}: ${answer.html.slice(0, 300)}`);
      assert.match(answer.html, /owner/);
    }
    assert.deepEqual(await orgState('acme'), before);
  });

  test('bad slug, bad email, unknown role, bad invitation id: the console error page with a 4xx', async () => {
    const cases: [string, Record<string, string> | null][] = [
      ['/console/orgs', { slug: 'Not A Slug!' }],
      ['/console/orgs', { slug: '' }],
      ['/console/orgs/acme/projects', { slug: '-bad-' }],
      ['/console/orgs/acme/invitations', { email: 'not-an-email', role: 'member' }],
      ['/console/orgs/acme/invitations', { email: 'x@acme.example', role: 'emperor' }],
      ['/console/orgs/acme/invitations', { email: 'x@acme.example', role: 'member', expires_in: '5' }],
      ['/console/orgs/acme/members/mem%40acme.example/role', { role: 'emperor' }],
      ['/console/orgs/acme/members/not-an-email/role', { role: 'member' }],
      ['/console/orgs/acme/members/not-an-email/remove', {}],
      ['/console/orgs/acme/members/nobody%40acme.example/remove', {}],
      ['/console/orgs/acme/invitations/inv_short/resend', {}],
      ['/console/orgs/acme/invitations/inv_aaaaaaaaaaaaaaaaaaaa/withdraw', {}],
      ['/console/orgs/BAD_SLUG', null],
      ['/console/orgs/BAD_SLUG/members', null],
    ];
    for (const [path, fields] of cases) {
      const answer = fields ? await owner.post(path, fields) : await owner.get(path);
      assert.ok(answer.status >= 400 && answer.status < 500, `${path} ${JSON.stringify(fields)}: ${answer.status}`);
      assert.match(answer.html, /Back to the console/, `${path}: the console error page`);
    }
  });

  test('a post without the CSRF token, or with another browser’s, is refused before anything is done', async () => {
    const before = await orgState('acme');
    const bare = await owner.browser.request('/console/orgs/acme/projects', { slug: 'forged' });
    assert.equal(bare.status, 403);
    const foreign = await owner.browser.request('/console/orgs/acme/projects', { slug: 'forged', csrf: otherAdmin.csrf });
    assert.equal(foreign.status, 403);
    assert.deepEqual(await orgState('acme'), before);
  });

  test('resend gives the same invitation a new expiry, audited; withdraw takes it out', async () => {
    const [first] = (await orgState('acme')).invitations.filter((item) => item.id === invitationId);
    assert.ok(first);
    app.step(3600_000);
    const resent = await admin.post(`/console/orgs/acme/invitations/${invitationId}/resend`);
    assert.equal(resent.headers.get('location'), '/console/orgs/acme/members?notice=invitation-resent');
    const [again] = (await orgState('acme')).invitations.filter((item) => item.id === invitationId);
    assert.ok(again);
    assert.equal(again.expires_at, first.expires_at + 3600, 'a new expiry, a week from now');
    assert.deepEqual({ ...again, expires_at: 0 }, { ...Invitation.parse(first), expires_at: 0 });
    const inviteeToken = (await deviceLogin(base, 'inv@acme.example')).access_token;
    const theirs = InvitationList.parse((await apiJsonCall(base, 'GET', '/v1/invitations', inviteeToken)).json);
    assert.deepEqual(
      theirs.invitations.map((item) => [item.id, item.expires_at]),
      [[invitationId, again.expires_at]],
    );
    const trail = await apiJsonCall(base, 'GET', '/v1/orgs/acme/audit', await ownerApi());
    const entries = trail.json.entries as { action: string; actor: string; subject: string }[];
    const resentEntry = entries.filter((entry) => entry.action === 'invitation.resent');
    assert.deepEqual(
      resentEntry.map((entry) => [entry.actor, entry.subject]),
      [['adm@acme.example', 'inv@acme.example']],
    );

    const withdrawn = await admin.post(`/console/orgs/acme/invitations/${invitationId}/withdraw`);
    assert.equal(withdrawn.headers.get('location'), '/console/orgs/acme/members?notice=invitation-withdrawn');
    assert.deepEqual(
      (await orgState('acme')).invitations.map((item) => item.id),
      [],
    );
    const gone = await apiJsonCall(base, 'POST', `/v1/invitations/${invitationId}/accept`, inviteeToken);
    assert.equal(gone.status, 404);
  });

  test('POST /v1/orgs/:org/invitations/:id/resend: the same function for the API, refused to a member', async () => {
    const id = await inviteFromConsole(owner, 'acme', 'api@acme.example', 'member');
    const [first] = (await orgState('acme')).invitations.filter((item) => item.id === id);
    assert.ok(first);
    app.step(60_000);
    const memberToken = (await deviceLogin(base, 'mem@acme.example')).access_token;
    const refused = await apiJsonCall(base, 'POST', `/v1/orgs/acme/invitations/${id}/resend`, memberToken);
    assert.equal(refused.status, 403);
    const outsider = (await deviceLogin(base, 'gil@globex.example')).access_token;
    const hidden = await apiJsonCall(base, 'POST', `/v1/orgs/acme/invitations/${id}/resend`, outsider);
    assert.equal(hidden.status, 404);
    const resent = await apiJsonCall(base, 'POST', `/v1/orgs/acme/invitations/${id}/resend`, await ownerApi());
    assert.equal(resent.status, 200, JSON.stringify(resent.json));
    const answer = Invitation.parse(resent.json);
    assert.deepEqual([answer.id, answer.email, answer.expires_at], [id, 'api@acme.example', first.expires_at + 60]);
    const unknown = await apiJsonCall(
      base,
      'POST',
      '/v1/orgs/acme/invitations/inv_aaaaaaaaaaaaaaaaaaaa/resend',
      await ownerApi(),
    );
    assert.equal(unknown.status, 404);
  });

  test('a role change with a sign-in older than 10 minutes asks to confirm it is you, and changes nothing', async () => {
    const fresh = await signedIn('ann@acme.example');
    app.step(10 * 60_000);
    const edge = await fresh.post('/console/orgs/acme/members/mem%40acme.example/role', { role: 'admin' });
    assert.equal(edge.status, 303, 'at ten minutes it still counts as recent');
    assert.equal((await orgState('acme')).members['mem@acme.example'], 'admin');
    app.step(1);
    const before = await orgState('acme');
    const stale = await fresh.post('/console/orgs/acme/members/mem%40acme.example/role', { role: 'member' });
    assert.equal(stale.status, 200);
    assert.match(stale.html, /Confirm it’s you/);
    assert.match(stale.html, /id="reauth"/);
    assert.match(stale.html, /name="return_to" value="\/console\/orgs\/acme\/members"/);
    assert.deepEqual(await orgState('acme'), before, 'nothing changed');
    // Signing in again, the same change goes through.
    await fresh.browser.submitSignIn(stale.html, 'ann@acme.example');
    fresh.csrf = FormBrowser.field((await fresh.get('/console/orgs/acme/members')).html, 'csrf');
    const redone = await fresh.post('/console/orgs/acme/members/mem%40acme.example/role', { role: 'member' });
    assert.equal(redone.status, 303);
    assert.equal((await orgState('acme')).members['mem@acme.example'], 'member');
  });

  test('the owner removes a member from the console: gone from the org and its members page', async () => {
    // Removing someone wants a recent sign-in, as a role change does (the owner's first is an hour old).
    const fresh = await signedIn('ann@acme.example');
    const removed = await fresh.post('/console/orgs/acme/members/mem%40acme.example/remove');
    assert.equal(removed.headers.get('location'), '/console/orgs/acme/members?notice=member-removed');
    assert.equal((await orgState('acme')).members['mem@acme.example'], undefined);
    assert.equal((await member.get('/console/orgs/acme')).status, 404, 'the former member sees the org no more');
  });
});
