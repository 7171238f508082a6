import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { USER_CODE_ALPHABET, UserCodeInput } from '../../shared/schemas.ts';
import { generateUserCode } from '../../worker/grants/device-code.ts';
import { narrowScope } from '../../worker/grants/issue.ts';
import { signAccessToken, verifyAccessToken } from '../../worker/tokens/access-token.ts';
import { base64url, constantTimeEqual, createHasher, fromBase64url, randomBytes } from '../../worker/tokens/opaque.ts';
import { buildKeySet, generateSigningKey, parseSigningKeys } from '../../worker/tokens/signing-keys.ts';

const NOW = Date.UTC(2026, 10, 23);
const claims = {
  sub: 'usr_1',
  jti: 'j1',
  scope: 'read',
  org: null,
  project: null,
  kind: 'user' as const,
  sid: null,
  client_id: 'latchkey-cli',
};
const options = { issuer: 'https://auth.example.com', audience: 'https://auth.example.com', ttlSeconds: 900, now: NOW };

test('ES256 keys from configuration sign; the previous key still verifies after rotation', async () => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const es256 = await exportJWK(privateKey);
  const old = await buildKeySet(parseSigningKeys(JSON.stringify({ keys: [es256] })));
  const { token } = await signAccessToken(old, claims, options);

  const rotated = await buildKeySet([await generateSigningKey(), ...parseSigningKeys(JSON.stringify([es256]))]);
  assert.equal(rotated.current.alg, 'EdDSA');
  assert.equal(rotated.jwks.keys.length, 2);
  const verified = await verifyAccessToken(rotated, token, options);
  assert.equal(verified.sub, 'usr_1');
  for (const key of rotated.jwks.keys) assert.equal((key as { d?: string }).d, undefined);
});

test('tokens are refused when expired, for another audience, or signed by an unknown key', async () => {
  const keys = await buildKeySet([await generateSigningKey()]);
  const { token } = await signAccessToken(keys, claims, options);
  await assert.rejects(verifyAccessToken(keys, token, { ...options, now: NOW + 906_000 }), /expired/);
  await assert.rejects(verifyAccessToken(keys, token, { ...options, audience: 'https://other.example.com' }), /"aud"/);
  const stranger = await buildKeySet([await generateSigningKey()]);
  await assert.rejects(verifyAccessToken(stranger, token, options), /unknown key/);
});

// The isolate remembers tokens it verified (their signature needs no second check), but
// nothing else is taken from memory: expiry, issuer, audience and the token's exact text.
test('a token verified once is still refused once expired, for another audience, or altered by one character', async () => {
  const keys = await buildKeySet([await generateSigningKey()]);
  const { token } = await signAccessToken(keys, claims, options);
  assert.equal((await verifyAccessToken(keys, token, options)).sub, 'usr_1');
  assert.equal((await verifyAccessToken(keys, token, options)).sub, 'usr_1');
  await assert.rejects(verifyAccessToken(keys, token, { ...options, now: NOW + 906_000 }), /expired/);
  await assert.rejects(verifyAccessToken(keys, token, { ...options, audience: 'https://other.example.com' }), /"aud"/);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const flipped = `${signature.slice(0, -2)}${signature.at(-2) === 'A' ? 'B' : 'A'}${signature.at(-1)}`;
  await assert.rejects(verifyAccessToken(keys, `${header}.${payload}.${flipped}`, options), /signature/);
  const stranger = await buildKeySet([await generateSigningKey()]);
  await assert.rejects(verifyAccessToken(stranger, token, options), /unknown key/);
});

test('signing keys that are not private JWKs are refused with the setting named', () => {
  assert.throws(() => parseSigningKeys('nope'), /LATCHKEY_SIGNING_KEYS/);
  assert.throws(() => parseSigningKeys('[{"kty":"RSA","n":"x","e":"AQAB"}]'), /LATCHKEY_SIGNING_KEYS/);
});

test('user codes: XXXX-XXXX, 20 consonants, every letter used, typed any way', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const code = generateUserCode();
    assert.match(code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    for (const letter of code.replace('-', '')) seen.add(letter);
  }
  assert.equal(seen.size, USER_CODE_ALPHABET.length);
  assert.ok(Math.log2(USER_CODE_ALPHABET.length ** 8) >= 34);
  assert.equal(UserCodeInput.parse('bcdf-ghjk'), 'BCDFGHJK');
  assert.equal(UserCodeInput.parse(' bcdfghjk '), 'BCDFGHJK');
  assert.equal(UserCodeInput.safeParse('BCDF-GHJA').success, false);
});

test('a refresh may narrow the scope but never widen it', () => {
  assert.equal(narrowScope('read write', undefined), 'read write');
  assert.equal(narrowScope('read write', 'read'), 'read');
  assert.equal(narrowScope('read', 'read write'), null);
});

test('keyed hashes differ by label and by secret; sealing opens only with the right secret', async () => {
  const a = await createHasher('a'.repeat(32));
  const b = await createHasher('b'.repeat(32));
  assert.notEqual(await a.hash('rt', 'x'), await a.hash('dc', 'x'));
  assert.notEqual(await a.hash('rt', 'x'), await b.hash('rt', 'x'));
  const secret = randomBytes(32);
  const sealed = await a.seal('lk_rt_old', secret);
  assert.deepEqual(await a.open('lk_rt_old', sealed), secret);
  assert.notDeepEqual(await a.open('lk_rt_other', sealed), secret);
  assert.notDeepEqual(await b.open('lk_rt_old', sealed), secret);
  assert.equal(sealed.includes(base64url(secret)), false);
  assert.equal(await a.open('lk_rt_old', `${sealed}A`), null);
  await assert.rejects(a.seal('lk_rt_old', randomBytes(31)), RangeError);
  // What the per-key layout sealed (AES-256-GCM under the same HMAC) still opens, for a
  // refresh retried across the upgrade.
  const iv = randomBytes(12);
  const aes = await crypto.subtle.importKey('raw', fromBase64url(await a.hash('seal', 'lk_rt_old')), 'AES-GCM', false, [
    'encrypt',
  ]);
  const old = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, aes, new TextEncoder().encode('lk_rt_next')));
  const legacySealed = `${base64url(iv)}.${base64url(old)}`;
  assert.equal(await a.openLegacy('lk_rt_old', legacySealed), 'lk_rt_next');
  assert.equal(await a.openLegacy('lk_rt_other', legacySealed), null);
  assert.equal(await a.openLegacy('lk_rt_old', 'not sealed'), null);
});

test('constant-time comparison is still a comparison', () => {
  assert.equal(constantTimeEqual('abc', 'abc'), true);
  assert.equal(constantTimeEqual('abc', 'abd'), false);
  assert.equal(constantTimeEqual('abc', 'abcd'), false);
  assert.equal(constantTimeEqual('', ''), true);
});

test('base64url matches RFC 4648 §5 unpadded (as Node encodes it) for every length remainder, and round-trips', () => {
  for (let length = 0; length <= 70; length++) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    const text = base64url(bytes);
    assert.equal(text, Buffer.from(bytes).toString('base64url'), `length ${length}`);
    assert.deepEqual(fromBase64url(text), bytes);
  }
  assert.equal(base64url(new Uint8Array([0xfb, 0xff, 0xbf])), '-_-_');
});
