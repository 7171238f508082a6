/** The API key format: shape, checksum, and what the checksum refuses without a store. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32, DEFAULT_API_KEY_PREFIXES } from '../../packages/verify/src/api-key.ts';
import { generateApiKey, looksLikeApiKey as looksLike, isWellFormedApiKey as wellFormed } from '../../worker/tokens/api-key.ts';

const isWellFormedApiKey = (key: string) => wellFormed(key, DEFAULT_API_KEY_PREFIXES);
const looksLikeApiKey = (key: string) => looksLike(key, DEFAULT_API_KEY_PREFIXES);

// The checksum runs only on ASCII: a key's prefix and body are checked before it.
test('CRC-32 agrees with zlib on ASCII and the empty string', () => {
  for (const text of ['', 'lk_live_abc', '123456789', 'rsk_live_~!@#', 'x'.repeat(1000)]) {
    assert.equal(crc32(text), zlibCrc32(Buffer.from(text, 'utf8')), text.slice(0, 20));
  }
  assert.equal(crc32('123456789'), 0xcbf43926); // the standard check value
});

test('keys are lk_live_/lk_test_ + 30 base62 + a 6-character checksum, and all differ', () => {
  const keys = Array.from({ length: 200 }, (_, i) => generateApiKey(i % 2 ? 'lk_live_' : 'lk_test_'));
  for (const key of keys) {
    assert.match(key, /^lk_(live|test)_[0-9A-Za-z]{36}$/);
    assert.equal(isWellFormedApiKey(key), true);
    assert.equal(looksLikeApiKey(key), true);
  }
  assert.equal(new Set(keys).size, keys.length);
});

test('any one changed, dropped or added character breaks the checksum', () => {
  const key = generateApiKey('lk_live_');
  for (let i = 8; i < key.length; i++) {
    const swapped = key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);
    assert.equal(isWellFormedApiKey(swapped), false, `position ${i}`);
  }
  assert.equal(isWellFormedApiKey(key.slice(0, -1)), false);
  assert.equal(isWellFormedApiKey(`${key}0`), false);
  assert.equal(isWellFormedApiKey(key.replace('lk_live_', 'lk_test_')), false, 'the prefix is covered too');
  assert.equal(isWellFormedApiKey(` ${key}`), false);
  assert.equal(isWellFormedApiKey(''), false);
  assert.equal(looksLikeApiKey('lk_rt_x'), false);
});
