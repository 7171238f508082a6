/** cli/printable.ts: what a server says reaches the terminal with every control character escaped. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable, printableOutput } from '../../packages/client/src/printable.ts';

const CONTROLS = [
  ...Array.from({ length: 0x20 }, (_, code) => code),
  0x7f,
  ...Array.from({ length: 0x20 }, (_, code) => 0x80 + code),
  0x2028,
  0x2029,
  0x202a,
  0x202b,
  0x202c,
  0x202d,
  0x202e,
  0x2066,
  0x2067,
  0x2068,
  0x2069,
].map((code) => String.fromCharCode(code));

test('printable escapes C0 (newline and tab too), DEL, C1, separators and bidi controls as \\uXXXX', () => {
  for (const char of CONTROLS) {
    const escaped = printable(`a${char}b`);
    assert.equal(escaped, `a\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}b`);
  }
  assert.equal(printable('Ünïcode ✓ 名前 ▄▀█'), 'Ünïcode ✓ 名前 ▄▀█');
});

test('printableOutput keeps the lines and columns the CLI writes, and escapes the rest', () => {
  assert.equal(printableOutput('a\tb\nc\n'), 'a\tb\nc\n');
  assert.equal(printableOutput('\u001b[2J\r\u009b1m\u202e'), '\\u001b[2J\\u000d\\u009b1m\\u202e');
});

test('JSON through printableOutput is still JSON, and parses to the same text', () => {
  const value = { name: 'x\u001b\u0085\u202e\u2028\u007fy', list: ['\t\n'] };
  const out = printableOutput(JSON.stringify(value, null, 2));
  assert.doesNotMatch(out, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  assert.deepEqual(JSON.parse(out), value);
});
