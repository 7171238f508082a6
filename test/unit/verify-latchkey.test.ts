/**
 * @latchkey/verify against a real latchkey (createApp over a memory store, in process, on a
 * loopback port): a person's access token and an API key accepted; a revoked key served from
 * the verifier's cache within `staleSeconds` and refused once that bound has passed, with the
 * issuer calls counted through an injected fetch; a malformed key refused with no call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createVerifier,
  DEFAULT_API_KEY_PREFIXES,
  isWellFormedApiKey,
  requireOrg,
  requireProject,
  requireRole,
  requireScope,
  type VerifyError,
} from '../../packages/verify/src/index.ts';
import { generateApiKey, isWellFormedApiKey as serverWellFormed } from '../../worker/tokens/api-key.ts';
import { apiJsonCall, ok } from '../fixtures/api-call.ts';
import { GITHUB, octoRepoPolicy } from '../fixtures/ci-claims.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin, postForm } from '../fixtures/oauth-client.ts';

let app: InProcess;
let github: FakeCiIssuer;
let owner: string;

before(async () => {
  github = await startFakeCiIssuer();
  // The fake CI issuer signs on the real clock, so the app's starts there too.
  app = await startInProcess({ LATCHKEY_CI_ISSUERS: `${github.issuer}=repository_owner_id` }, Date.now());
  owner = (await deviceLogin(app.base, 'owner@example.com')).access_token;
  await ok(apiJsonCall(app.base, 'POST', '/v1/orgs', owner, { slug: 'acme', name: 'Acme' }));
  await ok(apiJsonCall(app.base, 'POST', '/v1/orgs/acme/projects', owner, { slug: 'web' }));
});
after(async () => {
  app?.close();
  await github?.stop();
});

/** The issuer calls a verifier makes, by path. */
function countingFetch() {
  const calls: string[] = [];
  const counted: typeof fetch = (input, init) => {
    calls.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
    return fetch(input, init);
  };
  return { calls, fetch: counted };
}

async function newKey(role: 'member' | 'admin' = 'member', project?: string) {
  const made = await ok(
    apiJsonCall(app.base, 'POST', '/v1/orgs/acme/keys', owner, {
      name: `k${Math.random()}`,
      role,
      ...(project ? { project } : {}),
    }),
  );
  return { key: String(made.key), id: String(made.id) };
}

describe('verify: a real latchkey', () => {
  test("a person's access token is accepted offline, the JWKS fetched once", async () => {
    const { calls, fetch } = countingFetch();
    const verifier = createVerifier({ issuer: app.base, audience: app.base, fetch, now: app.now });
    const principal = await verifier.verify(new Request('http://api.test/', { headers: { authorization: `Bearer ${owner}` } }));
    assert.equal(principal.kind, 'user');
    assert.equal(principal.email, 'owner@example.com');
    assert.ok(principal.scope.length > 0);
    assert.ok(principal.exp * 1000 > app.now());
    await verifier.verify(`Bearer ${owner}`);
    assert.deepEqual(calls, ['/.well-known/jwks.json']);
  });

  test('a CI token from the token exchange: kind ci, confined to its project, with its scope', async () => {
    await ok(
      apiJsonCall(
        app.base,
        'POST',
        '/v1/orgs/acme/trust-policies',
        owner,
        octoRepoPolicy(github.issuer, `${app.base}/orgs/acme`, { id: 'deploy-web', grant: { project: 'web', scopes: ['read'] } }),
      ),
    );
    const exchanged = await postForm(`${app.base}/oauth/token`, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: await github.sign(GITHUB.branchPush, { audience: `${app.base}/orgs/acme` }),
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      audience: `${app.base}/orgs/acme/projects/web`,
    });
    assert.equal(exchanged.status, 200, exchanged.text);
    const verifier = createVerifier({ issuer: app.base, audience: app.base, now: app.now });
    const principal = await verifier.verify(`Bearer ${exchanged.json.access_token}`);
    assert.deepEqual([principal.kind, principal.org, principal.project, principal.scope], ['ci', 'acme', 'web', ['read']]);
    requireProject(principal, 'web', 'acme');
    assert.throws(() => requireProject(principal, 'api', 'acme'), { code: 'wrong_project' });
    assert.throws(() => requireScope(principal, 'write'), { code: 'insufficient_scope' });
  });

  test('the token is refused once expired, by the injected clock', async () => {
    const late = app.now() + 16 * 60_000;
    const verifier = createVerifier({ issuer: app.base, audience: app.base, now: () => late });
    await assert.rejects(verifier.verify(`Bearer ${owner}`), { code: 'expired_token', status: 401 });
  });

  test('an API key is accepted with its org and role, and answered from the cache after the first call', async () => {
    const { key } = await newKey('admin');
    assert.ok(isWellFormedApiKey(key), 'the package reads the server key shape');
    const { calls, fetch } = countingFetch();
    const verifier = createVerifier({ issuer: app.base, audience: app.base, fetch, now: app.now });
    const principal = await verifier.verify(`Bearer ${key}`);
    assert.deepEqual([principal.kind, principal.org, principal.project, principal.role], ['api_key', 'acme', null, 'admin']);
    requireOrg(principal, 'acme');
    requireRole(principal, 'admin');
    assert.throws(() => requireRole(principal, 'owner'), { code: 'insufficient_role', status: 403 });
    await Promise.all([verifier.verify(`Bearer ${key}`), verifier.verify(`Bearer ${key}`)]);
    assert.deepEqual(calls, ['/v1/me']);
  });

  test('concurrent first checks of one key make one call', async () => {
    const { key } = await newKey();
    const { calls, fetch } = countingFetch();
    const verifier = createVerifier({ issuer: app.base, audience: app.base, fetch, now: app.now });
    await Promise.all(Array.from({ length: 10 }, () => verifier.verify(`Bearer ${key}`)));
    assert.deepEqual(calls, ['/v1/me']);
  });

  test('a revoked key: accepted from the cache within staleSeconds, refused once it has passed', async () => {
    const { key, id } = await newKey();
    const { calls, fetch } = countingFetch();
    let clock = app.now();
    const verifier = createVerifier({
      issuer: app.base,
      audience: app.base,
      fetch,
      now: () => clock,
      apiKeyCache: { maxEntries: 10, staleSeconds: 20 },
    });
    assert.equal((await verifier.verify(`Bearer ${key}`)).kind, 'api_key');
    await ok(apiJsonCall(app.base, 'POST', `/v1/orgs/acme/keys/${id}/revoke`, owner));

    clock += 19_999;
    assert.equal((await verifier.verify(`Bearer ${key}`)).kind, 'api_key', 'within the documented bound');
    assert.equal(calls.length, 1);

    clock += 1;
    await assert.rejects(verifier.verify(`Bearer ${key}`), (error: VerifyError) => {
      assert.equal(error.code, 'revoked_token');
      assert.equal(error.status, 401);
      assert.match(error.challenge, /^Bearer realm="[^"]+", error="invalid_token", error_description="[^"]+"$/);
      return true;
    });
    assert.equal(calls.length, 2);
    // The refusal is cached briefly too: no call for the next try.
    await assert.rejects(verifier.verify(`Bearer ${key}`), { code: 'revoked_token' });
    assert.equal(calls.length, 2);
    clock += 5_000;
    await assert.rejects(verifier.verify(`Bearer ${key}`), { code: 'revoked_token' });
    assert.equal(calls.length, 3);
  });

  test('the cache is bounded: the least recently used key is asked about again', async () => {
    const keys = [await newKey(), await newKey(), await newKey()];
    const { calls, fetch } = countingFetch();
    const verifier = createVerifier({
      issuer: app.base,
      audience: app.base,
      fetch,
      now: app.now,
      apiKeyCache: { maxEntries: 2 },
    });
    for (const { key } of keys) await verifier.verify(`Bearer ${key}`);
    await verifier.verify(`Bearer ${keys[2]?.key}`);
    assert.equal(calls.length, 3);
    await verifier.verify(`Bearer ${keys[0]?.key}`);
    assert.equal(calls.length, 4);
  });

  test('a malformed key, an unknown shape and a missing header are refused with no network call', async () => {
    const { key } = await newKey();
    const broken = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    const { calls, fetch } = countingFetch();
    const verifier = createVerifier({ issuer: app.base, audience: app.base, fetch, now: app.now });
    await assert.rejects(verifier.verify(`Bearer ${broken}`), { code: 'malformed_token', status: 401 });
    await assert.rejects(verifier.verify(`Bearer ${key.slice(0, -2)}`), { code: 'malformed_token' });
    await assert.rejects(verifier.verify('Bearer lk_rt_abcdef'), { code: 'malformed_token' });
    await assert.rejects(verifier.verify('Bearer hello'), { code: 'malformed_token' });
    await assert.rejects(verifier.verify(undefined), (error: VerifyError) => {
      assert.equal(error.code, 'missing_token');
      assert.equal(error.challenge, `Bearer realm="${app.base}"`, 'RFC 6750 §3.1: no error code without a credential');
      return true;
    });
    await assert.rejects(verifier.verify('Basic YTpi'), { code: 'missing_token' });
    await assert.rejects(verifier.verify('Bearer a b'), { code: 'invalid_request', status: 400 });
    assert.deepEqual(calls, []);
  });

  test('an unreachable issuer is a 503 and not cached', async () => {
    const { key } = await newKey();
    let down = true;
    const verifier = createVerifier({
      issuer: app.base,
      audience: app.base,
      now: app.now,
      fetch: (input, init) => (down ? Promise.reject(new TypeError('connect ECONNREFUSED')) : fetch(input, init)),
    });
    await assert.rejects(verifier.verify(`Bearer ${key}`), { code: 'server_unavailable', status: 503 });
    down = false;
    assert.equal((await verifier.verify(`Bearer ${key}`)).kind, 'api_key');
  });

  test('introspection: false refuses keys; RFC 7662 with an admin key as the credential accepts them', async () => {
    const { key } = await newKey();
    const { key: adminKey } = await newKey('admin');
    const closed = createVerifier({ issuer: app.base, audience: app.base, now: app.now, introspection: false });
    await assert.rejects(closed.verify(`Bearer ${key}`), { code: 'invalid_token' });
    const { calls, fetch } = countingFetch();
    const introspecting = createVerifier({
      issuer: app.base,
      audience: app.base,
      now: app.now,
      fetch,
      introspection: { credential: adminKey },
    });
    const principal = await introspecting.verify(`Bearer ${key}`);
    assert.equal(principal.kind, 'api_key');
    assert.deepEqual(calls, ['/oauth/introspect']);
  });
});

test("the package's key check agrees with the server's on generated and damaged keys", () => {
  for (let i = 0; i < 200; i++) {
    const key = generateApiKey(i % 2 ? 'lk_live_' : 'lk_test_');
    assert.ok(isWellFormedApiKey(key));
    const damaged = key.slice(0, 10 + (i % 20)) + (key[10 + (i % 20)] === 'x' ? 'y' : 'x') + key.slice(11 + (i % 20));
    assert.equal(isWellFormedApiKey(damaged), serverWellFormed(damaged, DEFAULT_API_KEY_PREFIXES));
  }
  // A branded deployment's verifier knows only its own prefixes.
  assert.equal(isWellFormedApiKey(generateApiKey('lk_live_'), ['rsk_live_']), false);
});
