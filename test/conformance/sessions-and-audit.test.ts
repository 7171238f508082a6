/**
 * Sessions and the audit trail over HTTP. A person lists and ends their own sessions (an
 * org admin's reach, only to sessions established for its org, is in org-sessions.test.ts);
 * an ended session's refresh token and access tokens are refused from the next request. A scripted sequence of org changes, sign-ins, key
 * operations, a refresh-token replay and revocations then reads back as one unbroken
 * hash chain, in order, each entry naming the request that caused it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AuditEntry, AuditPage, verifyAuditChain } from '../../shared/audit.ts';
import { SessionList } from '../../shared/schemas.ts';
import { addMember, deviceLogin, pollToken, postForm, refresh } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let server: RunningWorker;

type Answer = { status: number; json: Record<string, unknown>; requestId: string | null };
async function call(method: string, path: string, bearer: string, body?: Record<string, unknown>): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await response.json()) as Record<string, unknown>;
  return { status: response.status, json, requestId: response.headers.get('x-request-id') };
}
const ok = async (answer: Promise<Answer>) => {
  const result = await answer;
  assert.ok(result.status < 300, JSON.stringify(result));
  return result;
};
const sessionsOf = async (bearer: string, path = '/v1/sessions') =>
  SessionList.parse((await ok(call('GET', path, bearer))).json).sessions;
const sidOf = async (accessToken: string) => String((await ok(call('GET', '/v1/me', accessToken))).json.session_id);

before(async () => {
  server = await startWorker({ LATCHKEY_REFRESH_GRACE: '1s' });
});
after(async () => {
  await server?.stop();
});

describe('a person’s own sessions', () => {
  test('each sign-in is a session with its device name; the asking one is marked current', async () => {
    const laptop = await deviceLogin(server.url, 'ada@example.com', { device_name: 'ada-laptop' });
    const box = await deviceLogin(server.url, 'ada@example.com', { device_name: 'build box' });
    const listed = await sessionsOf(laptop.access_token);
    const mine = listed.filter((session) => ['ada-laptop', 'build box'].includes(session.device_name ?? ''));
    assert.equal(mine.length, 2);
    assert.deepEqual(mine.map((session) => session.current).sort(), [false, true]);
    const current = mine.find((session) => session.current);
    assert.equal(current?.device_name, 'ada-laptop');
    assert.equal(current?.id, await sidOf(laptop.access_token));
    for (const session of mine) {
      assert.equal(session.email, 'ada@example.com');
      assert.equal(session.client_id, 'latchkey-cli');
      assert.equal(session.revoked, null);
      assert.ok(session.created_at > 0 && session.expires_at > session.created_at && session.last_used_at);
    }
    assert.equal(JSON.stringify(listed).includes('lk_rt_'), false, 'no refresh token is listed');
    assert.equal((await sessionsOf(box.access_token)).find((session) => session.current)?.device_name, 'build box');
  });

  test('revoking one session kills its refresh token and access tokens at once; the other lives', async () => {
    const keep = await deviceLogin(server.url, 'bea@example.com', { device_name: 'keep' });
    const doomed = await deviceLogin(server.url, 'bea@example.com', { device_name: 'doomed' });
    const sid = await sidOf(doomed.access_token);
    const revoked = await ok(call('POST', `/v1/sessions/${sid}/revoke`, keep.access_token));
    assert.equal(revoked.json.revoked, 'logout');

    const me = await call('GET', '/v1/me', doomed.access_token);
    assert.equal(me.status, 401);
    assert.match(String(me.json.error_description), /session was revoked/);
    const refused = await refresh(server.url, doomed.refresh_token);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'invalid_grant');
    assert.equal((await call('GET', '/v1/me', keep.access_token)).status, 200);
    assert.equal((await refresh(server.url, keep.refresh_token)).status, 200);
    const listed = await sessionsOf(keep.access_token);
    assert.equal(listed.find((session) => session.id === sid)?.revoked, 'logout');
  });

  test('someone else’s session answers 404, like one that does not exist', async () => {
    const victim = await deviceLogin(server.url, 'cy@example.com');
    const other = await deviceLogin(server.url, 'dee@example.com');
    const sid = await sidOf(victim.access_token);
    const refused = await call('POST', `/v1/sessions/${sid}/revoke`, other.access_token);
    assert.equal(refused.status, 404);
    assert.equal((await call('POST', '/v1/sessions/ses_AAAAAAAAAAAAAAAAAAAA/revoke', other.access_token)).status, 404);
    const malformed = await call('POST', `/v1/sessions/${'x'.repeat(600)}/revoke`, other.access_token);
    assert.equal(malformed.status, 400, 'a malformed id is refused before any store read');
    assert.equal((await call('GET', '/v1/me', victim.access_token)).status, 200);
    assert.equal(
      (await sessionsOf(other.access_token)).some((session) => session.id === sid),
      false,
    );
  });

  test('a device name that is not plain text is refused before the device code is spent', async () => {
    const bad = await pollToken(server.url, 'x', { device_name: '<script>' });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error_description), /device_name/);
  });
});

describe('the audit trail', () => {
  async function readTrail(org: string, bearer: string, limit: number): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    for (let after = 0, pages = 0; ; pages++) {
      assert.ok(pages < 100, 'paging ends');
      const page = AuditPage.parse((await ok(call('GET', `/v1/orgs/${org}/audit?after=${after}&limit=${limit}`, bearer))).json);
      assert.ok(page.entries.length <= limit);
      entries.push(...page.entries);
      if (page.next_after === null) return entries;
      after = page.next_after;
    }
  }

  test('a scripted sequence reads back in order as one verified chain, each entry naming its request', async () => {
    const owner = (await deviceLogin(server.url, 'owner@audit.example')).access_token;
    const expected: [string, string, string | null][] = []; // action, actor, request id
    const step = async (action: string, actor: string, answer: Promise<Answer>) => {
      expected.push([action, actor, (await ok(answer)).requestId]);
    };
    await step('org.created', 'owner@audit.example', call('POST', '/v1/orgs', owner, { slug: 'audited' }));
    await step('project.created', 'owner@audit.example', call('POST', '/v1/orgs/audited/projects', owner, { slug: 'web' }));
    // Signed in before joining: that sign-in is not the org's to audit.
    const early = await deviceLogin(server.url, 'dev@audit.example');
    const invited = await ok(call('POST', '/v1/orgs/audited/invitations', owner, { email: 'dev@audit.example', role: 'member' }));
    expected.push(['invitation.created', 'owner@audit.example', invited.requestId]);
    const accepted = await ok(call('POST', `/v1/invitations/${invited.json.id}/accept`, early.access_token));
    expected.push(
      ['invitation.accepted', 'dev@audit.example', accepted.requestId],
      ['member.changed', 'dev@audit.example', accepted.requestId],
    );
    await step(
      'member.changed',
      'owner@audit.example',
      call('PUT', '/v1/orgs/audited/members/dev@audit.example', owner, { role: 'admin' }),
    );
    // A sign-in lands in the trail of every org the person is in.
    const dev = await deviceLogin(server.url, 'dev@audit.example', { device_name: 'dev-box' });
    expected.push(['session.created', 'dev@audit.example', null]);
    const created = await ok(call('POST', '/v1/orgs/audited/keys', owner, { name: 'deploy', role: 'member', project: 'web' }));
    expected.push(['key.created', 'owner@audit.example', created.requestId]);
    const rotated = await ok(call('POST', `/v1/orgs/audited/keys/${created.json.id}/rotate`, dev.access_token, {}));
    expected.push(
      ['key.created', 'dev@audit.example', rotated.requestId],
      ['key.rotated', 'dev@audit.example', rotated.requestId],
    );
    await step(
      'key.revoked',
      'dev@audit.example',
      call('POST', `/v1/orgs/audited/keys/${rotated.json.id}/revoke`, dev.access_token),
    );

    // Replaying a spent refresh token after the grace window: the server ends the session.
    const next = await refresh(server.url, dev.refresh_token);
    assert.equal(next.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const replay = await refresh(server.url, dev.refresh_token);
    assert.equal(replay.json.error, 'invalid_grant');
    expected.push(['session.reuse_detected', 'latchkey', replay.headers.get('x-request-id')]);

    const again = await deviceLogin(server.url, 'dev@audit.example');
    expected.push(['session.created', 'dev@audit.example', null]);
    const logout = await postForm(`${server.url}/oauth/revoke`, { token: again.refresh_token, client_id: 'latchkey-cli' });
    expected.push(['session.revoked', 'dev@audit.example', logout.headers.get('x-request-id')]);
    await step('member.removed', 'owner@audit.example', call('DELETE', '/v1/orgs/audited/members/dev@audit.example', owner));

    const entries = await readTrail('audited', owner, 3);
    assert.deepEqual(
      entries.map((entry) => [entry.action, entry.actor]),
      expected.map(([action, actor]) => [action, actor]),
    );
    for (const [index, [, , requestId]] of expected.entries()) {
      if (requestId) assert.equal(entries[index]?.request_id, requestId, `entry ${index + 1} names its request`);
    }
    assert.ok(entries.every((entry) => /^req_/.test(entry.request_id)));
    const check = await verifyAuditChain(entries);
    assert.ok(check.ok, JSON.stringify(check));
    assert.equal(check.head.seq, expected.length);
    assert.equal(entries[4]?.detail, 'added as member');
    assert.equal(entries[5]?.detail, 'member -> admin');
    assert.match(String(entries[6]?.detail), /latchkey-cli from dev-box/);
    assert.equal(JSON.stringify(entries).match(/lk_(live|test|rt)_/), null, 'no secret in the trail');
  });

  test('a member cannot read the trail; paging rejects a bad cursor', async () => {
    const owner = (await deviceLogin(server.url, 'owner2@audit.example')).access_token;
    const member = (await deviceLogin(server.url, 'm@audit.example')).access_token;
    await ok(call('POST', '/v1/orgs', owner, { slug: 'audited-two' }));
    await addMember(server.url, owner, 'audited-two', 'm@audit.example', 'member', member);
    const refused = await call('GET', '/v1/orgs/audited-two/audit', member);
    assert.equal(refused.status, 403);
    assert.match(String(refused.json.error_description), /lacks audit:read/);
    for (const query of ['after=-1', 'limit=0', 'limit=1000', 'after=x', 'cursor=1']) {
      assert.equal((await call('GET', `/v1/orgs/audited-two/audit?${query}`, owner)).status, 400, query);
    }
    const page = AuditPage.parse((await ok(call('GET', '/v1/orgs/audited-two/audit?after=99', owner))).json);
    assert.deepEqual([page.entries, page.next_after], [[], null]);
  });
});
