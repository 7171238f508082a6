/**
 * @latchkey/verify's one-line checks, RFC 6750 challenges, the Hono middleware on a tiny app
 * and RFC 9728 protected-resource metadata.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Hono } from 'hono';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { latchkey } from '../../packages/verify/src/hono.ts';
import {
  bearerChallenge,
  createVerifier,
  type Principal,
  protectedResourceMetadata,
  protectedResourceMetadataUrl,
  ROLE_ORDER,
  requireOrg,
  requireProject,
  requireRole,
  requireScope,
  VerifyError,
} from '../../packages/verify/src/index.ts';
import { ROLES } from '../../shared/schemas.ts';

const ISSUER = 'https://auth.acme.test';
const API = 'https://api.acme.test';
const METADATA = protectedResourceMetadataUrl(API);
const START = Date.UTC(2026, 2, 2, 9);

const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' };
const verifier = createVerifier({
  issuer: ISSUER,
  audience: ISSUER,
  realm: 'acme-api',
  resourceMetadata: METADATA,
  now: () => START,
  fetch: async () => Response.json({ keys: [jwk] }),
});

const token = (claims: Record<string, unknown> = {}) =>
  new SignJWT({ kind: 'user', sub: 'usr_1', scope: 'read', org: 'acme', project: null, client_id: 'latchkey-cli', ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(ISSUER)
    .setExpirationTime(Math.floor(START / 1000) + 600)
    .sign(privateKey);

const principal = (overrides: Partial<Principal> = {}): Principal => ({
  kind: 'api_key',
  sub: 'key_1',
  email: null,
  org: 'acme',
  project: null,
  role: 'admin',
  scope: ['read', 'write'],
  exp: 2_000_000_000,
  client_id: null,
  ...overrides,
});

describe('verify: checks', () => {
  test("the package's role order is latchkey's ROLES", () => {
    assert.deepEqual([...ROLE_ORDER], [...ROLES]);
  });

  test('insufficient_scope: 403 and the challenge exactly as RFC 6750 §3 writes it', async () => {
    const reader = await verifier.verify(`Bearer ${await token()}`);
    assert.equal(requireScope(reader, 'read'), reader);
    assert.throws(
      () => requireScope(reader, 'write'),
      (error: VerifyError) => {
        assert.ok(error instanceof VerifyError);
        assert.equal(error.code, 'insufficient_scope');
        assert.equal(error.status, 403);
        assert.deepEqual(error.scope, ['write']);
        assert.equal(
          error.challenge,
          'Bearer realm="acme-api", error="insufficient_scope", ' +
            'error_description="the request requires higher privileges than provided by the access token", ' +
            'scope="write", resource_metadata="https://api.acme.test/.well-known/oauth-protected-resource"',
        );
        return true;
      },
    );
    assert.throws(
      () => requireScope(reader, 'read', 'write', 'admin'),
      (error: VerifyError) => {
        assert.match(error.challenge, / scope="read write admin", /);
        return true;
      },
    );
  });

  test('org, project and role as one-liners', () => {
    const orgKey = principal();
    const webKey = principal({ project: 'web', role: 'member' });
    requireOrg(orgKey, 'acme');
    assert.throws(() => requireOrg(orgKey, 'globex'), { code: 'wrong_org', status: 403 });
    assert.throws(() => requireOrg(principal({ org: null }), 'acme'), { code: 'wrong_org' });
    requireProject(orgKey, 'web', 'acme');
    requireProject(webKey, 'web');
    assert.throws(() => requireProject(webKey, 'api'), { code: 'wrong_project', status: 403 });
    assert.throws(() => requireProject(orgKey, 'web', 'globex'), { code: 'wrong_org' });
    assert.throws(() => requireProject(principal({ org: null }), 'web'), { code: 'wrong_project' });
    requireRole(orgKey, 'member');
    requireRole(orgKey, 'admin');
    assert.throws(() => requireRole(orgKey, 'owner'), { code: 'insufficient_role', status: 403 });
    assert.throws(() => requireRole(webKey, 'admin'), { code: 'insufficient_role' });
    assert.throws(() => requireRole(principal({ kind: 'user', role: null }), 'member'), { code: 'insufficient_role' });
  });

  test('challenge values drop what a quoted-string cannot hold', () => {
    assert.equal(
      bearerChallenge({ realm: 'a"b\\c\r\nd', error: 'invalid_token', description: 'naïve "x"' }),
      'Bearer realm="abcd", error="invalid_token", error_description="nave x"',
    );
    assert.equal(new VerifyError('expired_token', 'gone').challenge, 'Bearer error="invalid_token", error_description="gone"');
  });

  test('a step-up challenge (RFC 9470): acr_values quoted, max_age a whole number of seconds or left out', () => {
    assert.equal(
      bearerChallenge({ error: 'insufficient_user_authentication', acrValues: ['urn:x:mfa', 'p"hr'], maxAge: 600 }),
      'Bearer error="insufficient_user_authentication", acr_values="urn:x:mfa phr", max_age=600',
    );
    for (const maxAge of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.equal(
        bearerChallenge({ error: 'insufficient_user_authentication', maxAge }),
        'Bearer error="insufficient_user_authentication"',
      );
    }
  });
});

describe('verify: the Hono middleware on a tiny app', () => {
  const app = new Hono()
    .get('/.well-known/oauth-protected-resource', (c) =>
      c.json(protectedResourceMetadata({ resource: API, issuer: ISSUER, scopes: ['read', 'write'] })),
    )
    .get('/things', latchkey(verifier), (c) => c.json({ sub: c.var.principal.sub }))
    .post('/things', latchkey(verifier, { scope: 'write' }), (c) => c.json({ made: true }, 201));
  const call = (method: string, authorization?: string) =>
    app.request(`${API}/things`, { method, headers: authorization ? { authorization } : {} });

  test('a valid token reaches the handler with c.var.principal', async () => {
    const response = await call('GET', `Bearer ${await token()}`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { sub: 'usr_1' });
    assert.equal((await call('POST', `Bearer ${await token({ scope: 'read write' })}`)).status, 201);
  });

  test('no token: 401 with a bare challenge', async () => {
    const response = await call('GET');
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), `Bearer realm="acme-api", resource_metadata="${METADATA}"`);
    assert.deepEqual(await response.json(), { error: 'missing_token', error_description: 'no Bearer credential was presented' });
  });

  test('a bad token: 401 invalid_token; too little scope: 403 insufficient_scope', async () => {
    const bad = await call('GET', `Bearer ${(await token()).slice(0, -4)}AAAA`);
    assert.equal(bad.status, 401);
    assert.match(String(bad.headers.get('www-authenticate')), /^Bearer realm="acme-api", error="invalid_token", /);
    assert.equal(((await bad.json()) as { error: string }).error, 'invalid_token');

    const narrow = await call('POST', `Bearer ${await token()}`);
    assert.equal(narrow.status, 403);
    assert.equal(
      narrow.headers.get('www-authenticate'),
      'Bearer realm="acme-api", error="insufficient_scope", ' +
        'error_description="the request requires higher privileges than provided by the access token", ' +
        `scope="write", resource_metadata="${METADATA}"`,
    );
    assert.equal(narrow.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await narrow.json(), {
      error: 'insufficient_scope',
      error_description: 'the request requires higher privileges than provided by the access token',
    });
  });

  test('the protected-resource metadata object (RFC 9728 §2) and its URL (§3.1)', async () => {
    const response = await app.request(`${API}/.well-known/oauth-protected-resource`);
    assert.deepEqual(await response.json(), {
      resource: API,
      authorization_servers: [ISSUER],
      scopes_supported: ['read', 'write'],
      bearer_methods_supported: ['header'],
    });
    assert.equal(METADATA, 'https://api.acme.test/.well-known/oauth-protected-resource');
    assert.equal(
      protectedResourceMetadataUrl('https://api.acme.test/v2/'),
      'https://api.acme.test/.well-known/oauth-protected-resource/v2',
    );
  });
});
