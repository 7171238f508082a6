/**
 * An org that requires two-step sign-in (issue #22), over HTTP on every runtime × store:
 * only its owner, signed in as themselves with a second factor, turns it on (an admin, a
 * member, an owner key, the owner's sign-in bound to the org and another org's owner are
 * refused, the last as if the org did not exist); the trail records it; turning it on ends
 * the org's sessions that proved no second factor and nothing else (the same member's
 * sessions for another org and for no org live on); a member's token without a second
 * factor is then refused on the org's routes with a message saying how to get through,
 * while their list of orgs, the org's API keys and the console's two-step page still
 * answer; a member who enrolls and signs in again gets through; and a member may not
 * remove their last factor while the org requires one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuditPage } from '../../shared/audit.ts';
import { OrgMfaPolicy } from '../../shared/org-mfa.ts';
import { OrgList } from '../../shared/schemas.ts';
import { type ApiAnswer, apiCall } from '../fixtures/api-call.ts';
import { type ConsolePerson, consolePerson } from '../fixtures/console-http.ts';
import { addMember, deviceSignInFrom, type FormBrowser, oneStepSignIn, refresh, type Tokens } from '../fixtures/oauth-client.ts';
import { enrollAuthenticator, TWO_STEP } from '../fixtures/two-step.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let server: RunningWorker;
before(async () => {
  server = await startWorker();
});
after(() => server?.stop());

const ORG = 'acme-mfa';
const OTHER = 'globex-mfa';
const OWNER = 'owner@org-mfa.example';
const ADMIN = 'admin@org-mfa.example';
const MEMBER = 'member@org-mfa.example';
const STRANGER = 'boss@globex-mfa.example';

const call = (method: string, path: string, bearer: string, body?: Record<string, unknown>) =>
  apiCall(server.url, method, path, bearer, body);
const ok = async (answer: Promise<ApiAnswer>) => {
  const result = await answer;
  assert.ok(result.status < 300, `${result.status} ${result.text}`);
  return result;
};
const works = async (token: string) => (await call('GET', '/v1/me', token)).status === 200;
const put = (bearer: string, required: boolean, org = ORG) => call('PUT', `/v1/orgs/${org}/mfa`, bearer, { required });

const deviceSignIn = (browser: FormBrowser, email: string, org?: string) => deviceSignInFrom(server.url, browser, email, org);
const oneStep = (email: string, org?: string) => oneStepSignIn(server.url, email, org);

describe('an org that requires two-step sign-in', () => {
  let owner: ConsolePerson;
  let admin: ConsolePerson;
  /** Tokens of people, by role and by what their sign-in proved. */
  const t: Record<string, Tokens> = {};
  let ownerKey = '';
  let memberKey = '';
  /** The member at the console once they added an authenticator, and its id. */
  let member: ConsolePerson | undefined;
  let memberFactor = '';

  before(async () => {
    // Signed in with one step while they had no factor yet (each sign-in since wants one)...
    t.ownerOneStep = await oneStep(OWNER);
    t.adminOneStep = await oneStep(ADMIN);
    // ...then the owner and the admin add an authenticator; their console browsers proved it.
    owner = await consolePerson(server.url, OWNER);
    await enrollAuthenticator(owner, Date.now());
    admin = await consolePerson(server.url, ADMIN);
    await enrollAuthenticator(admin, Date.now());
    const ownerToken = t.ownerOneStep.access_token;
    for (const slug of [ORG, OTHER]) await ok(call('POST', '/v1/orgs', ownerToken, { slug }));
    t.memberWhole = await oneStep(MEMBER);
    await addMember(server.url, ownerToken, ORG, MEMBER, 'member', t.memberWhole.access_token);
    await addMember(server.url, ownerToken, OTHER, MEMBER, 'member', t.memberWhole.access_token);
    t.admin = await deviceSignIn(admin.browser, ADMIN);
    t.owner = await deviceSignIn(owner.browser, OWNER);
    // Inviting as admin is a step-up act: the owner's sign-in that proved a second factor.
    await addMember(server.url, t.owner.access_token, ORG, ADMIN, 'admin', t.admin.access_token);
    t.ownerBound = await deviceSignIn(owner.browser, OWNER, ORG);
    t.stranger = await oneStep(STRANGER);
    await ok(call('POST', '/v1/orgs', t.stranger.access_token, { slug: 'elsewhere-mfa' }));
    // A key of the owner role wants a second factor proven lately (step-up): the owner's sign-in that proved one.
    const keyMaker = t.owner.access_token;
    ownerKey = String((await ok(call('POST', `/v1/orgs/${ORG}/keys`, keyMaker, { name: 'owner-key', role: 'owner' }))).json.key);
    memberKey = String((await ok(call('POST', `/v1/orgs/${ORG}/keys`, keyMaker, { name: 'ci', role: 'member' }))).json.key);
  });

  test('nobody but the owner, as a whole person with a second factor, turns it on', async () => {
    const refused = async (bearer: string, status: number, error: string) => {
      const answer = await put(bearer, true);
      assert.equal(answer.status, status, answer.text);
      assert.equal(answer.json.error, error, answer.text);
    };
    await refused((t.admin as Tokens).access_token, 403, 'forbidden');
    await refused((t.memberWhole as Tokens).access_token, 403, 'forbidden');
    await refused(ownerKey, 403, 'forbidden');
    await refused(memberKey, 403, 'forbidden');
    await refused((t.ownerBound as Tokens).access_token, 403, 'forbidden');
    // Another org's owner: answered as for an org that does not exist.
    const stranger = await put((t.stranger as Tokens).access_token, true);
    const ghost = await put((t.stranger as Tokens).access_token, true, 'no-such-org-mfa');
    assert.equal(stranger.status, 404);
    assert.equal(stranger.json.error, ghost.json.error);
    // The owner's own one-step sign-in: told to add a factor first.
    const ownOneStep = await put((t.ownerOneStep as Tokens).access_token, true);
    assert.equal(ownOneStep.status, 403);
    assert.equal(ownOneStep.json.error, 'mfa_required');
    assert.match(
      String(ownOneStep.json.error_description),
      /sign in with it yourself first: add an authenticator at \/console\/two-step/,
    );
    const read = OrgMfaPolicy.parse((await ok(call('GET', `/v1/orgs/${ORG}/mfa`, (t.memberWhole as Tokens).access_token))).json);
    assert.deepEqual(read, { org: ORG, required: false }, 'nothing changed by the refusals');
  });

  test("turning it on ends the org's sessions without a second factor, and only those", async () => {
    const forOrg = await oneStep(MEMBER, ORG);
    const forOther = await oneStep(MEMBER, OTHER);
    const ownersForOrg = t.ownerBound as Tokens;
    const sidOf = async (tokens: Tokens) => String((await ok(call('GET', '/v1/me', tokens.access_token))).json.session_id);
    const endedSid = await sidOf(forOrg);

    const turned = OrgMfaPolicy.parse((await ok(put((t.owner as Tokens).access_token, true))).json);
    assert.deepEqual(turned, { org: ORG, required: true, sessions_ended: 1 });

    assert.equal(await works(forOrg.access_token), false, "the member's one-step session for the org ended");
    assert.equal((await refresh(server.url, forOrg.refresh_token)).status, 400);
    assert.ok(await works(ownersForOrg.access_token), "the owner's session for the org proved a second factor");
    assert.ok(await works(forOther.access_token), 'a session for another org is not this org’s to end');
    assert.ok(await works((t.memberWhole as Tokens).access_token), 'nor is a whole-person sign-in');
    assert.equal((await call('GET', `/v1/orgs/${OTHER}`, forOther.access_token)).status, 200);

    const trail = AuditPage.parse(
      (await ok(call('GET', `/v1/orgs/${ORG}/audit?limit=200`, (t.owner as Tokens).access_token))).json,
    );
    const turnedOn = trail.entries.find((entry) => entry.action === 'org.mfa_required');
    assert.equal(turnedOn?.actor, OWNER);
    assert.equal(turnedOn?.subject, ORG);
    assert.ok(trail.entries.some((entry) => entry.action === 'session.revoked' && entry.subject === endedSid));
    const other = AuditPage.parse(
      (await ok(call('GET', `/v1/orgs/${OTHER}/audit?limit=200`, (t.owner as Tokens).access_token))).json,
    );
    assert.ok(!other.entries.some((entry) => entry.action.startsWith('org.mfa')), "nothing of it in the other org's trail");
  });

  test("a member's token without a second factor is refused on the org's routes, saying how to get through", async () => {
    const token = (t.memberWhole as Tokens).access_token;
    for (const path of [
      `/v1/orgs/${ORG}`,
      `/v1/orgs/${ORG}/invitations`,
      `/v1/orgs/${ORG}/mfa`,
      `/v1/orgs/${ORG}/trust-policies`,
    ]) {
      const refused = await call('GET', path, token);
      assert.equal(refused.status, 403, `${path}: ${refused.text}`);
      assert.equal(refused.json.error, 'mfa_required');
      assert.match(
        String(refused.json.error_description),
        /^org "acme-mfa" requires two-step sign-in: add an authenticator at \/console\/two-step .*then sign in again$/,
      );
    }
    // Also an admin's and the owner's own sign-ins from before they added a factor.
    assert.equal((await call('GET', `/v1/orgs/${ORG}/keys`, (t.adminOneStep as Tokens).access_token)).json.error, 'mfa_required');
    assert.equal((await call('GET', `/v1/orgs/${ORG}`, (t.ownerOneStep as Tokens).access_token)).json.error, 'mfa_required');
    // What still answers: their list of orgs (so they can see why), the other org, and
    // the policy to a stranger stays hidden.
    const orgs = OrgList.parse((await ok(call('GET', '/v1/orgs', token))).json).orgs.map((org) => org.slug);
    assert.deepEqual(orgs.sort(), [ORG, OTHER].sort());
    assert.equal((await call('GET', `/v1/orgs/${OTHER}`, token)).status, 200);
    assert.equal((await call('GET', `/v1/orgs/${ORG}/mfa`, (t.stranger as Tokens).access_token)).status, 404);
  });

  test('API keys are not people: they still work, and read the policy', async () => {
    assert.equal((await call('GET', `/v1/orgs/${ORG}`, memberKey)).status, 200);
    assert.deepEqual(OrgMfaPolicy.parse((await ok(call('GET', `/v1/orgs/${ORG}/mfa`, memberKey))).json), {
      org: ORG,
      required: true,
    });
    assert.equal((await call('GET', `/v1/orgs/${ORG}/keys`, ownerKey)).status, 200);
  });

  test("at the console: a one-step member is refused the org's pages but reaches the two-step page; enrolled, they get through and keep their factor", async () => {
    member = await consolePerson(server.url, MEMBER);
    const page = await member.get(`/console/orgs/${ORG}`);
    assert.equal(page.status, 403);
    assert.match(page.html, /requires two-step sign-in: add an authenticator at \/console\/two-step/);
    assert.equal((await member.get(TWO_STEP)).status, 200);

    const { id } = await enrollAuthenticator(member, Date.now());
    memberFactor = id;
    const overview = await member.get(`/console/orgs/${ORG}`);
    assert.equal(overview.status, 200, overview.html.slice(0, 400));
    assert.match(overview.html, /Two-step sign-in<\/h2>\s*<p>Required/);
    assert.doesNotMatch(overview.html, /action="\/console\/orgs\/acme-mfa\/mfa"/, 'a member gets no switch');
    // Signed in again from the browser that proved it, the CLI's token gets through.
    const again = await deviceSignIn(member.browser, MEMBER);
    assert.equal((await call('GET', `/v1/orgs/${ORG}`, again.access_token)).status, 200);

    // Their last factor stays while an org of theirs requires one.
    const removal = await member.post(`${TWO_STEP}/${id}/remove`);
    assert.equal(removal.status, 403, removal.html.slice(0, 400));
    assert.match(removal.html, /requires two-step sign-in/);
    assert.match((await member.get(TWO_STEP)).html, new RegExp(id));
  });

  test('the owner turns it off at the console (recent sign-in, CSRF); the trail records it; the factor may go then', async () => {
    const overview = await owner.get(`/console/orgs/${ORG}`);
    assert.match(overview.html, /Stop requiring two-step sign-in/);
    // Without the browser's CSRF token: refused, nothing changed.
    const forged = await owner.browser.request(`/console/orgs/${ORG}/mfa`, { required: 'false' });
    assert.equal(forged.status, 403);
    assert.equal(OrgMfaPolicy.parse((await ok(call('GET', `/v1/orgs/${ORG}/mfa`, memberKey))).json).required, true);
    // An admin's browser (with a second factor) is refused.
    const byAdmin = await admin.post(`/console/orgs/${ORG}/mfa`, { required: 'false' });
    assert.equal(byAdmin.status, 403);

    const off = await owner.post(`/console/orgs/${ORG}/mfa`, { required: 'false' });
    assert.equal(off.status, 303, off.html.slice(0, 400));
    assert.equal(off.headers.get('location'), `/console/orgs/${ORG}?notice=mfa-not-required`);
    assert.equal(OrgMfaPolicy.parse((await ok(call('GET', `/v1/orgs/${ORG}/mfa`, memberKey))).json).required, false);
    assert.equal((await call('GET', `/v1/orgs/${ORG}`, (t.memberWhole as Tokens).access_token)).status, 200);
    const trail = AuditPage.parse(
      (await ok(call('GET', `/v1/orgs/${ORG}/audit?limit=200`, (t.owner as Tokens).access_token))).json,
    );
    assert.deepEqual(
      trail.entries.filter((entry) => entry.action.startsWith('org.mfa')).map((entry) => [entry.action, entry.actor]),
      [
        ['org.mfa_required', OWNER],
        ['org.mfa_not_required', OWNER],
      ],
    );
    // No org of theirs requires it now: the member's last factor may go.
    const removal = await (member as ConsolePerson).post(`${TWO_STEP}/${memberFactor}/remove`);
    assert.equal(removal.status, 303, removal.html.slice(0, 400));
    // And on again from the console, with the owner's browser that proved a code.
    const on = await owner.post(`/console/orgs/${ORG}/mfa`, { required: 'true' });
    assert.equal(on.headers.get('location'), `/console/orgs/${ORG}?notice=mfa-required`);
    assert.equal((await call('GET', `/v1/orgs/${ORG}`, (t.memberWhole as Tokens).access_token)).json.error, 'mfa_required');
  });
});
