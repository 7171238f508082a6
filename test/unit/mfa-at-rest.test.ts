/**
 * What a second factor leaves in the store: a TOTP secret sealed (AES-GCM under a key
 * derived from the hash secret, bound to its owner and factor id, so a copy moved to
 * another person or factor does not open), and recovery codes in one normal form; and the
 * QR code the enrollment page draws, with its finder patterns where a scanner looks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { qrModules, qrSvg } from '../../worker/mfa/qr-svg.ts';
import { generateRecoveryCodes, normalizeRecoveryCode, RECOVERY_CODE_COUNT } from '../../worker/mfa/recovery-codes.ts';
import { generateTotpSecret } from '../../worker/mfa/totp.ts';
import { createHasher, type SecretHasher } from '../../worker/tokens/opaque.ts';
import { openSecret, sealSecret } from '../../worker/tokens/sealed.ts';

const sealTotpSecret = (hasher: SecretHasher, owner: string, id: string, secret: string) =>
  sealSecret(hasher, 'totp-secret', [owner, id], secret);
const openTotpSecret = (hasher: SecretHasher, owner: string, id: string, sealed: string) =>
  openSecret(hasher, 'totp-secret', [owner, id], sealed);

test('a sealed TOTP secret opens only for its owner, factor and hash secret, and holds no plain text', async () => {
  const hasher = await createHasher('one hash secret of the deployment');
  const secret = generateTotpSecret();
  const sealed = await sealTotpSecret(hasher, 'ada@example.com', 'mfa_aaaaaaaaaaaaaaaaaaaa', secret);
  assert.ok(!sealed.includes(secret));
  assert.match(sealed, /^v1\.[\w-]{16}\.[\w-]+$/);
  assert.notEqual(
    sealed,
    await sealTotpSecret(hasher, 'ada@example.com', 'mfa_aaaaaaaaaaaaaaaaaaaa', secret),
    'a fresh IV each time',
  );
  assert.equal(await openTotpSecret(hasher, 'ada@example.com', 'mfa_aaaaaaaaaaaaaaaaaaaa', sealed), secret);
  assert.equal(await openTotpSecret(hasher, 'eve@example.com', 'mfa_aaaaaaaaaaaaaaaaaaaa', sealed), null, 'another owner');
  assert.equal(await openTotpSecret(hasher, 'ada@example.com', 'mfa_bbbbbbbbbbbbbbbbbbbb', sealed), null, 'another factor');
  const other = await createHasher('another deployment');
  assert.equal(await openTotpSecret(other, 'ada@example.com', 'mfa_aaaaaaaaaaaaaaaaaaaa', sealed), null, 'another hash secret');
  const [v, iv, body = ''] = sealed.split('.');
  const flipped = `${v}.${iv}.${body.slice(0, -2)}${body.endsWith('A') ? 'B' : 'A'}${body.slice(-1)}`;
  assert.equal(await openTotpSecret(hasher, 'ada@example.com', 'mfa_aaaaaaaaaaaaaaaaaaaa', flipped), null, 'tampered');
  assert.equal(await openTotpSecret(hasher, 'ada@example.com', 'mfa_aaaaaaaaaaaaaaaaaaaa', 'garbage'), null);
});

test('recovery codes: ten distinct, 50 bits each, read back in any case and spacing', () => {
  const codes = generateRecoveryCodes();
  assert.equal(codes.length, RECOVERY_CODE_COUNT);
  assert.equal(new Set(codes).size, RECOVERY_CODE_COUNT);
  for (const code of codes) assert.match(code, /^[a-z2-7]{5}-[a-z2-7]{5}$/);
  const [first = ''] = codes;
  const plain = first.replace('-', '');
  assert.equal(normalizeRecoveryCode(first), plain);
  assert.equal(normalizeRecoveryCode(` ${first.toUpperCase().replace('-', ' ')} `), plain);
  for (const bad of ['123456', 'abcde-fghi1', 'abcde-fghijk', '']) assert.equal(normalizeRecoveryCode(bad), null, bad);
});

test('the QR code: finder patterns in three corners, a light quiet zone, only printable ASCII encoded', () => {
  const uri =
    'otpauth://totp/latchkey:ada%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=latchkey&algorithm=SHA1&digits=6&period=30';
  const modules = qrModules(uri);
  const size = modules.length;
  assert.equal((size - 17) % 4, 0, 'a QR version is 17 + 4n modules wide');
  const finderAt = (top: number, left: number) => {
    for (let y = 0; y < 7; y++) {
      for (let x = 0; x < 7; x++) {
        const ring = y === 0 || y === 6 || x === 0 || x === 6;
        const core = y >= 2 && y <= 4 && x >= 2 && x <= 4;
        assert.equal(modules[top + y]?.[left + x], ring || core, `finder at ${top},${left}: ${y},${x}`);
      }
    }
  };
  finderAt(0, 0);
  finderAt(0, size - 7);
  finderAt(size - 7, 0);
  const svg = qrSvg(uri, 'Scan <me> & "you"');
  assert.match(svg, /^<svg [^>]*role="img" aria-label="Scan &#60;me&#62; &#38; &#34;you&#34;"/);
  assert.ok(!svg.includes('style='), 'no inline style: the CSP allows none');
  assert.throws(() => qrModules('naïve'), RangeError);
});

test('a TOTP secret sealed before the seals were one module (mfa/seal.ts) still opens, and only as a TOTP secret', async () => {
  const hasher = await createHasher('one hash secret of the deployment');
  // Written by worker/mfa/seal.ts at 8b447bb for ada's factor mfa_aaaa…, secret JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP.
  const before = 'v1.KJiJSW3H1Vn3T3sO.EEkchD1m1le1R41W5VKLo3Zvcj4U-tNDz4DqRYmth-hYlu9B-d3LYrH2ujv30xi7';
  assert.equal(
    await openTotpSecret(hasher, 'ada@example.com', 'mfa_aaaaaaaaaaaaaaaaaaaa', before),
    'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
  );
  assert.equal(await openSecret(hasher, 'sso-client-secret', ['ada@example.com', 'mfa_aaaaaaaaaaaaaaaaaaaa'], before), null);
});
