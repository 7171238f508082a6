/**
 * TOTP against RFC 6238 Appendix B (the SHA-1 column: ASCII secret "12345678901234567890",
 * 8 digits), base32 both ways (RFC 4648 §10), the verification window's edges on a stepped
 * clock, and the otpauth:// URI an authenticator app reads.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  base32Decode,
  base32Encode,
  generateTotpSecret,
  matchTotp,
  otpauthUri,
  TOTP_STEP_SECONDS,
  timeStep,
  totpCodeAt,
} from '../../worker/mfa/totp.ts';

const RFC_SECRET = new TextEncoder().encode('12345678901234567890');
const RFC_VECTORS: [number, string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('RFC 6238 Appendix B (SHA-1)', () => {
  for (const [seconds, expected] of RFC_VECTORS) {
    test(`T=${seconds}`, async () => {
      assert.equal(await totpCodeAt(RFC_SECRET, seconds * 1000, 8), expected);
      // And the same code is matched at that time (and only as that step).
      assert.equal(await matchTotp(RFC_SECRET, expected, seconds * 1000, null, 8), timeStep(seconds * 1000));
    });
  }
  test('6 digits are the last six of the 8-digit value', async () => {
    assert.equal(await totpCodeAt(RFC_SECRET, 59_000), '287082');
  });
});

describe('base32 (RFC 4648 §10)', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];
  for (const [plain, encoded] of cases) {
    test(`"${plain}"`, () => {
      assert.equal(base32Encode(new TextEncoder().encode(plain)), encoded);
      assert.equal(new TextDecoder().decode(base32Decode(encoded) ?? undefined), plain);
    });
  }
  test('decoding takes what people paste: lower case, spaces, padding; refuses the rest', () => {
    assert.deepEqual(base32Decode('mzxw 6ytb oi======'), new TextEncoder().encode('foobar'));
    assert.equal(base32Decode('MZXW1'), null);
  });
  test('a generated secret is 20 random bytes, 32 characters', () => {
    const one = generateTotpSecret();
    assert.match(one, /^[A-Z2-7]{32}$/);
    assert.equal(base32Decode(one)?.length, 20);
    assert.notEqual(one, generateTotpSecret());
  });
});

describe('the verification window', () => {
  const secret = base32Decode(generateTotpSecret()) as Uint8Array;
  const start = Date.UTC(2026, 5, 1, 9, 0, 0); // on a step boundary
  const step = TOTP_STEP_SECONDS * 1000;

  test('a code is good from one step before its own to one step after, not beyond', async () => {
    const code = await totpCodeAt(secret, start);
    const own = timeStep(start);
    assert.equal(await matchTotp(secret, code, start - step - 1, null), null, 'two steps early');
    assert.equal(await matchTotp(secret, code, start - step, null), own);
    assert.equal(await matchTotp(secret, code, start + step - 1, null), own);
    assert.equal(await matchTotp(secret, code, start + 2 * step - 1, null), own, 'last ms of the next step');
    assert.equal(await matchTotp(secret, code, start + 2 * step, null), null, 'two steps late');
  });

  test('a step at or before the last one accepted is refused, a later one taken', async () => {
    const code = await totpCodeAt(secret, start);
    const own = timeStep(start);
    assert.equal(await matchTotp(secret, code, start, own), null);
    assert.equal(await matchTotp(secret, code, start, own + 1), null);
    assert.equal(await matchTotp(secret, code, start, own - 1), own);
  });

  test('anything but six digits is no code', async () => {
    const code = await totpCodeAt(secret, start);
    for (const bad of [` ${code}`, `${code}0`, code.slice(1), 'abcdef', '']) {
      assert.equal(await matchTotp(secret, bad, start, null), null, JSON.stringify(bad));
    }
  });
});

test('the otpauth:// URI: issuer and email encoded, the parameters an app reads', () => {
  const uri = otpauthUri({ issuer: 'Acme Cloud', account: 'ada+ops@example.com', secret: 'JBSWY3DPEHPK3PXP' });
  assert.equal(
    uri,
    'otpauth://totp/Acme%20Cloud:ada%2Bops%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme%20Cloud&algorithm=SHA1&digits=6&period=30',
  );
  const hostile = otpauthUri({ issuer: 'x:y?&', account: 'a/b#c', secret: 'AA' });
  assert.ok(hostile.startsWith('otpauth://totp/x%3Ay%3F%26:a%2Fb%23c?secret=AA&issuer=x%3Ay%3F%26&'), hostile);
});
