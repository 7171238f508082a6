/**
 * Introspection by an org (RFC 7662, DESIGN "/oauth/introspect" and "Tenancy"): whoever may
 * read an org's keys learns about the org's tokens (its keys, tokens narrowed into it, the
 * tokens of sessions established for it), a project key only about its project's; a
 * person's own sign-in (for no org) stays theirs. Every other answer is `active: false`,
 * exactly. The matrix (authorization-matrix.test.ts) has the principals × tenants; this has
 * what its world does not: narrowed tokens, project keys on their own project's keys, and
 * sessions as they end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { TOKEN_TYPE } from '../../shared/schemas.ts';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { addMember, CLIENT_ID, exchangeIdToken, FormBrowser, pollToken, postForm } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let server: RunningWorker;
before(async () => {
  server = await startWorker();
});
after(async () => {
  await server?.stop();
});

type Tokens = { access_token: string; refresh_token: string };
const INACTIVE = { active: false };

const call = (method: string, path: string, bearer: string, body?: Record<string, unknown>) =>
  apiCall(server.url, method, path, bearer, body);
const introspect = async (bearer: string, token: string) =>
  (await postForm(`${server.url}/oauth/introspect`, { token }, { authorization: `Bearer ${bearer}` })).json;

/** A device sign-in as `email`, established for `org` when one is named. */
async function signIn(email: string, org?: string): Promise<Tokens> {
  const { status, json } = await postForm(`${server.url}/oauth/device_authorization`, {
    client_id: CLIENT_ID,
    ...(org ? { org } : {}),
  });
  assert.equal(status, 200, JSON.stringify(json));
  await new FormBrowser(server.url).decide(String(json.user_code), 'approve', email);
  const tokens = await pollToken(server.url, String(json.device_code));
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  return tokens.json as Tokens;
}

/** RFC 8693 down-scoping of a person's token to one org's project. */
async function narrowTo(token: string, org: string, project: string): Promise<string> {
  const answer = await exchangeIdToken(server.url, token, {
    subject_token_type: TOKEN_TYPE.accessToken,
    audience: `${server.url}/orgs/${org}/projects/${project}`,
  });
  assert.equal(answer.status, 200, answer.text);
  return String(answer.json.access_token);
}

async function newKey(owner: string, org: string, role: string, project?: string) {
  const created = await ok(call('POST', `/v1/orgs/${org}/keys`, owner, { name: 'k', role, ...(project ? { project } : {}) }));
  return { id: String(created.id), key: String(created.key) };
}

describe('introspection by an org', () => {
  // ann owns north and south (each with projects web and api); cat is an admin of north
  // only; bob is a member of both.
  let ann: string;
  let cat: string;
  let bob: string;
  before(async () => {
    ann = (await signIn('ann@introspect.example')).access_token;
    cat = (await signIn('cat@introspect.example')).access_token;
    bob = (await signIn('bob@introspect.example')).access_token;
    for (const org of ['north', 'south']) {
      await ok(call('POST', '/v1/orgs', ann, { slug: org }));
      for (const project of ['web', 'api']) await ok(call('POST', `/v1/orgs/${org}/projects`, ann, { slug: project }));
      await addMember(server.url, ann, org, 'bob@introspect.example', 'member', bob);
    }
    await addMember(server.url, ann, 'north', 'cat@introspect.example', 'admin', cat);
  });

  test('an org admin learns about the sessions established for its org, never the person’s own sign-in', async () => {
    const forNorth = await signIn('bob@introspect.example', 'north');
    const own = await signIn('bob@introspect.example');
    const access = await introspect(cat, forNorth.access_token);
    assert.equal(access.active, true, JSON.stringify(access));
    assert.equal(access.token_type, 'access_token');
    assert.equal(access.sub, decodeJwt(forNorth.access_token).sub);
    assert.equal(access.kind, 'user');
    const refresh = await introspect(cat, forNorth.refresh_token);
    assert.equal(refresh.active, true, JSON.stringify(refresh));
    assert.equal(refresh.token_type, 'refresh_token');
    assert.equal(refresh.sid, access.sid);

    assert.deepEqual(await introspect(cat, own.access_token), INACTIVE);
    assert.deepEqual(await introspect(cat, own.refresh_token), INACTIVE);
    // The person still learns about all of theirs.
    assert.equal((await introspect(own.access_token, forNorth.refresh_token)).active, true);

    // Not the owner of south either, by a key of south or by a sign-in for south.
    const southKey = (await newKey(ann, 'south', 'owner')).key;
    const annForSouth = (await signIn('ann@introspect.example', 'south')).access_token;
    for (const stranger of [southKey, annForSouth]) {
      assert.deepEqual(await introspect(stranger, forNorth.access_token), INACTIVE);
      assert.deepEqual(await introspect(stranger, forNorth.refresh_token), INACTIVE);
    }

    // An ended session is inactive to the org as to anyone.
    assert.equal((await postForm(`${server.url}/oauth/revoke`, { token: forNorth.refresh_token })).status, 200);
    assert.deepEqual(await introspect(cat, forNorth.access_token), INACTIVE);
    assert.deepEqual(await introspect(cat, forNorth.refresh_token), INACTIVE);
  });

  test('a token narrowed into the org is the org’s: its admin learns about it, another org’s does not', async () => {
    const intoNorth = await narrowTo(bob, 'north', 'web');
    const intoSouth = await narrowTo(bob, 'south', 'web');
    const seen = await introspect(cat, intoNorth);
    assert.equal(seen.active, true, JSON.stringify(seen));
    assert.equal(seen.sub, decodeJwt(bob).sub);
    assert.deepEqual(await introspect(cat, intoSouth), INACTIVE);
    // A project key of north's web learns about it; one of api does not.
    assert.equal((await introspect((await newKey(ann, 'north', 'admin', 'web')).key, intoNorth)).active, true);
    assert.deepEqual(await introspect((await newKey(ann, 'north', 'admin', 'api')).key, intoNorth), INACTIVE);
    // Nor does a member of the org.
    const dan = 'dan@introspect.example';
    const member = await addMember(server.url, ann, 'north', dan, 'member');
    assert.deepEqual(await introspect(member, intoNorth), INACTIVE);
  });

  test('a project key learns only about its own project’s keys; an admin about keys of every role', async () => {
    const webKey = (await newKey(ann, 'north', 'admin', 'web')).key;
    const webMember = await newKey(ann, 'north', 'member', 'web');
    const apiMember = await newKey(ann, 'north', 'member', 'api');
    const orgOwner = await newKey(ann, 'north', 'owner');
    const seen = await introspect(webKey, webMember.key);
    assert.equal(seen.active, true, JSON.stringify(seen));
    assert.equal(seen.kind, 'api_key');
    assert.equal(seen.sub, webMember.id);
    assert.deepEqual(await introspect(webKey, apiMember.key), INACTIVE);
    assert.deepEqual(await introspect(webKey, orgOwner.key), INACTIVE);
    // A member project key has no reading of keys at all.
    assert.deepEqual(await introspect(webMember.key, webKey), INACTIVE);

    // Reading is not managing: an admin learns about an owner's key it could not revoke.
    assert.equal((await introspect(cat, orgOwner.key)).active, true);
    assert.deepEqual(await introspect(bob, orgOwner.key), INACTIVE);

    await ok(call('POST', `/v1/orgs/north/keys/${apiMember.id}/revoke`, ann));
    assert.deepEqual(await introspect(cat, apiMember.key), INACTIVE);
  });
});
