/**
 * @latchkey/verify against forged tokens, with the issuer's JWKS served by an injected fetch
 * that counts: each forgery refused, and a flood of invented `kid`s costs at most one JWKS
 * fetch per cooldown.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from 'jose';
import { createVerifier, type VerifyError } from '../../packages/verify/src/index.ts';

const ISSUER = 'https://auth.acme.test';
const START = Date.UTC(2026, 2, 2, 9);

const signing = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
const publicJwk: JWK = { ...(await exportJWK(signing.publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' };
const other = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
const es = await generateKeyPair('ES256', { extractable: true });
const esJwk: JWK = { ...(await exportJWK(es.publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' };

const claims = (overrides: Record<string, unknown> = {}) => ({
  sub: 'usr_1',
  kind: 'user',
  email: 'ada@example.com',
  org: 'acme',
  project: null,
  scope: 'read write',
  jti: 'jti_1',
  sid: 'sid_1',
  client_id: 'latchkey-cli',
  ...overrides,
});

async function sign(
  options: { key?: CryptoKey; kid?: string; alg?: string; typ?: string; iss?: string; aud?: string; exp?: number } = {},
  overrides: Record<string, unknown> = {},
) {
  const iat = Math.floor(START / 1000);
  return new SignJWT(claims(overrides))
    .setProtectedHeader({ alg: options.alg ?? 'EdDSA', kid: options.kid ?? 'k1', typ: options.typ ?? 'at+jwt' })
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(options.aud ?? ISSUER)
    .setIssuedAt(iat)
    .setExpirationTime(options.exp ?? iat + 900)
    .sign(options.key ?? signing.privateKey);
}

function setUp(keys: JWK[] = [publicJwk, esJwk], cooldownSeconds = 30) {
  let clock = START;
  const fetched: string[] = [];
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: ISSUER,
    now: () => clock,
    jwks: { cooldownSeconds },
    fetch: async (input) => {
      fetched.push(String(input));
      return Response.json({ keys });
    },
  });
  return { verifier, fetched, step: (ms: number) => (clock += ms) };
}

const refused = (code: string) => (error: VerifyError) => {
  assert.equal(error.name, 'VerifyError');
  assert.equal(error.code, code);
  assert.equal(error.status, 401);
  assert.match(error.challenge, /^Bearer realm="https:\/\/auth\.acme\.test", error="invalid_token", error_description="[^"]+"$/);
  return true;
};

describe('verify: forged tokens', () => {
  test('a genuine token passes, EdDSA and ES256, on one JWKS fetch', async () => {
    const { verifier, fetched } = setUp();
    const principal = await verifier.verify(`Bearer ${await sign()}`);
    assert.deepEqual(principal, {
      kind: 'user',
      sub: 'usr_1',
      email: 'ada@example.com',
      org: 'acme',
      project: null,
      role: null,
      scope: ['read', 'write'],
      exp: Math.floor(START / 1000) + 900,
      client_id: 'latchkey-cli',
    });
    await verifier.verify(`Bearer ${await sign({ key: es.privateKey, kid: 'k2', alg: 'ES256' })}`);
    assert.deepEqual(fetched, [`${ISSUER}/.well-known/jwks.json`]);
  });

  test('another issuer', async () => {
    const { verifier } = setUp();
    await assert.rejects(verifier.verify(`Bearer ${await sign({ iss: 'https://evil.test' })}`), (error: VerifyError) => {
      assert.equal(error.message, "the token's iss claim check failed");
      return refused('invalid_token')(error);
    });
  });

  test('alg: none', async () => {
    const { verifier } = setUp();
    const unsecured = new UnsecuredJWT(claims()).setIssuer(ISSUER).setAudience(ISSUER).setExpirationTime('10m').encode();
    // Its empty signature part is no JWS shape at all.
    await assert.rejects(verifier.verify(`Bearer ${unsecured}`), refused('malformed_token'));
    // The same with a kid and typ in the header, and the empty signature part replaced by one character.
    const [, body] = unsecured.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1', typ: 'at+jwt' })).toString('base64url');
    await assert.rejects(verifier.verify(`Bearer ${header}.${body}.A`), refused('invalid_token'));
  });

  test('HS256 signed with the public key as the secret', async () => {
    const { verifier } = setUp();
    for (const secret of [
      new TextEncoder().encode(JSON.stringify(publicJwk)),
      Buffer.from(String(publicJwk.x), 'base64url'),
      new TextEncoder().encode(String(publicJwk.x)),
    ]) {
      const forged = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setAudience(ISSUER)
        .setExpirationTime(Math.floor(START / 1000) + 900)
        .sign(secret);
      await assert.rejects(verifier.verify(`Bearer ${forged}`), refused('invalid_token'));
    }
  });

  test('an ES256 header on the EdDSA key, and a token signed by a key the issuer does not publish', async () => {
    const { verifier } = setUp();
    await assert.rejects(verifier.verify(`Bearer ${await sign({ key: es.privateKey, alg: 'ES256' })}`), refused('invalid_token'));
    await assert.rejects(verifier.verify(`Bearer ${await sign({ key: other.privateKey })}`), refused('invalid_token'));
  });

  test('expired, beyond the 5 s tolerance', async () => {
    const { verifier, step } = setUp();
    const token = await sign({ exp: Math.floor(START / 1000) + 60 });
    step(64_000);
    await verifier.verify(`Bearer ${token}`);
    step(2_000);
    await assert.rejects(verifier.verify(`Bearer ${token}`), refused('expired_token'));
  });

  test('wrong audience', async () => {
    const { verifier } = setUp();
    await assert.rejects(verifier.verify(`Bearer ${await sign({ aud: 'https://other-api.test' })}`), refused('invalid_token'));
  });

  test('a token of another type (an ID token, typ JWT) and one with claims latchkey never signs', async () => {
    const { verifier } = setUp();
    await assert.rejects(verifier.verify(`Bearer ${await sign({ typ: 'JWT' })}`), refused('invalid_token'));
    await assert.rejects(verifier.verify(`Bearer ${await sign({}, { kind: 'admin' })}`), refused('invalid_token'));
    await assert.rejects(verifier.verify(`Bearer ${await sign({}, { scope: ['write'] })}`), refused('invalid_token'));
  });

  test('a flood of 100 unknown kids costs at most one JWKS refetch per cooldown', async () => {
    const { verifier, fetched, step } = setUp();
    await verifier.verify(`Bearer ${await sign()}`);
    assert.equal(fetched.length, 1);
    step(30_000); // the cooldown since the first fetch has passed: one refetch is allowed
    const flood = await Promise.all(Array.from({ length: 100 }, (_, i) => sign({ kid: `invented-${i}` })));
    const results = await Promise.allSettled(flood.map((token) => verifier.verify(`Bearer ${token}`)));
    assert.ok(results.every((result) => result.status === 'rejected' && (result.reason as VerifyError).code === 'invalid_token'));
    assert.equal(fetched.length, 2, 'one refetch for the whole flood');
    step(29_999);
    await Promise.allSettled(flood.map((token) => verifier.verify(`Bearer ${token}`)));
    assert.equal(fetched.length, 2, 'none within the cooldown');
    step(1);
    await Promise.allSettled(flood.map((token) => verifier.verify(`Bearer ${token}`)));
    assert.equal(fetched.length, 3, 'one more after it');
    await verifier.verify(`Bearer ${await sign()}`); // the real key still works throughout
  });

  test('a rotated-in key is found by one refetch on its unknown kid', async () => {
    const keys: JWK[] = [publicJwk];
    const { verifier, fetched, step } = setUp(keys);
    await verifier.verify(`Bearer ${await sign()}`);
    keys.push(esJwk);
    step(30_000);
    await verifier.verify(`Bearer ${await sign({ key: es.privateKey, kid: 'k2', alg: 'ES256' })}`);
    assert.equal(fetched.length, 2);
  });

  test('a JWKS down: 503 asked again only after the cooldown, and keys already held still serve when a refresh fails', async () => {
    let clock = START;
    let up = false;
    let fetches = 0;
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: ISSUER,
      now: () => clock,
      jwks: { cooldownSeconds: 30, maxAgeSeconds: 60 },
      fetch: async () => {
        fetches++;
        return up ? Response.json({ keys: [publicJwk] }) : new Response('no', { status: 502 });
      },
    });
    const token = await sign({ exp: Math.floor(START / 1000) + 3600 });
    await assert.rejects(verifier.verify(`Bearer ${token}`), {
      code: 'server_unavailable',
      status: 503,
      challenge: `Bearer realm="${ISSUER}"`,
    });
    up = true;
    await assert.rejects(verifier.verify(`Bearer ${token}`), { code: 'server_unavailable' });
    assert.equal(fetches, 1, 'not asked again within the cooldown');
    clock += 30_000;
    await verifier.verify(`Bearer ${token}`);
    assert.equal(fetches, 2);
    up = false;
    clock += 60_000; // past maxAge: a refresh is due, and fails
    await verifier.verify(`Bearer ${token}`);
    assert.equal(fetches, 3);
  });

  test('a JWKS that cannot be fetched is a 503, and an HS or private key in it is ignored', async () => {
    const down = createVerifier({
      issuer: ISSUER,
      audience: ISSUER,
      now: () => START,
      fetch: async () => new Response('no', { status: 502 }),
    });
    await assert.rejects(down.verify(`Bearer ${await sign()}`), { code: 'server_unavailable', status: 503 });
    const octet: JWK = { kty: 'oct', k: Buffer.from('secret').toString('base64url'), kid: 'k3', alg: 'HS256' };
    const { verifier } = setUp([octet]);
    const forged = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256', kid: 'k3', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(ISSUER)
      .setExpirationTime(Math.floor(START / 1000) + 900)
      .sign(new TextEncoder().encode('secret'));
    await assert.rejects(verifier.verify(`Bearer ${forged}`), refused('invalid_token'));
  });
});
