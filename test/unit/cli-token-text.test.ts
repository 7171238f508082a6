/**
 * The small pieces the CLI's commands share (one place each): a token read as text
 * (cli/token-text.ts) by the helpers' expiry and logout's session id, the RFC 3339 bound
 * (cli/rfc3339.ts), and the shell word (cli/shell-word.ts), read back by a real sh.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { tokenExpiry } from '../../cli/bound-hosts.ts';
import { isoTime, LAST_RFC3339_SECOND } from '../../cli/rfc3339.ts';
import { shellWord } from '../../cli/shell-word.ts';
import { sessionIdOf } from '../../packages/client/src/logout.ts';
import { isVisibleAscii, unverifiedClaim } from '../../packages/client/src/token-text.ts';

const jwt = (payload: unknown) => `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2ln`;

test('a claim of a JWT is read without verifying; anything else has none', () => {
  assert.equal(unverifiedClaim(jwt({ sid: 'ses_1', exp: 5 }), 'sid'), 'ses_1');
  assert.equal(unverifiedClaim(jwt({ sid: 'ses_1' }), 'exp'), undefined);
  for (const token of ['lk_opaque_api_key', 'a.b', 'a.b.c.d', 'x.%%%.y', jwt([1, 2]), jwt(null), jwt('sid')]) {
    assert.equal(unverifiedClaim(token, 'sid'), undefined, token);
  }
  // Prototype names are not claims a payload lacks.
  assert.equal(unverifiedClaim(jwt({}), 'constructor'), undefined);
});

test('the helpers’ expiry and logout’s session id come from it, each with its own bounds', () => {
  assert.equal(tokenExpiry(jwt({ exp: 1_900_000_000 })), 1_900_000_000);
  assert.equal(tokenExpiry(jwt({ exp: LAST_RFC3339_SECOND })), LAST_RFC3339_SECOND);
  assert.equal(isoTime(LAST_RFC3339_SECOND), '9999-12-31T23:59:59Z');
  for (const exp of [LAST_RFC3339_SECOND + 1, 0, -1, 1.5, '1900000000', null]) {
    assert.equal(tokenExpiry(jwt({ exp })), null, String(exp));
  }
  assert.throws(() => isoTime(LAST_RFC3339_SECOND + 1), /a time out of range/);
  assert.equal(sessionIdOf(jwt({ sid: 'ses_abc-1' })), 'ses_abc-1');
  for (const sid of ['ses 1', 'x'.repeat(65), 'ses\n1', 7]) assert.equal(sessionIdOf(jwt({ sid })), null, String(sid));
  assert.equal(sessionIdOf('lk_opaque_api_key'), null);
});

test('a token that is one line of visible ASCII, and nothing else, passes', () => {
  assert.equal(isVisibleAscii(jwt({ exp: 1 })), true);
  assert.equal(isVisibleAscii('!~'), true);
  for (const text of ['', 'a b', 'a\nb', 'a\r', 'a\tb', 'é', 'a\u007f', 'a\u0085']) {
    assert.equal(isVisibleAscii(text), false, JSON.stringify(text));
  }
});

test('a shell word reads back as the very word in sh, quotes, spaces, $ and newlines included', () => {
  for (const word of ["it's", 'a b', '$HOME `id` $(id)', "'", "''\\'", 'line\nbreak', '', '-n']) {
    const ran = spawnSync('/bin/sh', ['-c', `printf '%s' ${shellWord(word)}`], { encoding: 'utf8' });
    assert.equal(ran.stdout, word, JSON.stringify(word));
  }
});
