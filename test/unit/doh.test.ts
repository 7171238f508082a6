/**
 * worker/dns/doh.ts against a loopback resolver (test/fixtures/doh-resolver.ts): TXT
 * records in Cloudflare's quoted form and Google's bare one, split records joined as RFC
 * 7208 reads them, "no such name" as an empty answer, and every hostile answer (huge,
 * stalled, half sent, not JSON, the wrong shape, an HTTP error, nobody listening) a
 * DohError with its code, in bounded time and memory.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DohError, joinCharacterStrings, lookupTxt } from '../../worker/dns/doh.ts';
import { type DohResolver, startDohResolver } from '../fixtures/doh-resolver.ts';
import { freePort } from '../fixtures/free-port.ts';

let resolver: DohResolver;
before(async () => {
  resolver = await startDohResolver();
});
after(() => resolver?.stop());

const lookup = (name: string, options = {}) => lookupTxt(fetch, resolver.url, name, options);
const failsWith = async (promise: Promise<unknown>, code: string) =>
  assert.rejects(promise, (error: unknown) => error instanceof DohError && error.code === code);

describe('TXT lookups over DoH', () => {
  test('records in quoted form, split ones joined with nothing between; the name asked as given', async () => {
    resolver.set('_c.split.example', { txt: [['v=spf1 -all'], ['latchkey-domain-', 'verification=abc'], ['']] });
    assert.deepEqual(await lookup('_c.split.example'), ['v=spf1 -all', 'latchkey-domain-verification=abc', '']);
    assert.equal(resolver.asked().at(-1), '_c.split.example');
  });

  test("Google's bare form is taken as it is", async () => {
    resolver.set('_c.bare.example', { txt: [['latchkey-domain-verification=', 'xyz']], bare: true });
    assert.deepEqual(await lookup('_c.bare.example'), ['latchkey-domain-verification=xyz']);
  });

  test('no such name, or no TXT there: an empty answer, not an error', async () => {
    resolver.set('_c.none.example', { status: 3 });
    resolver.set('_c.empty.example', { txt: [] });
    assert.deepEqual(await lookup('_c.none.example'), []);
    assert.deepEqual(await lookup('_c.empty.example'), []);
  });

  test('CNAMEs on the way are skipped; the TXT at their end counts', async () => {
    resolver.set('_c.cname.example', {
      raw: JSON.stringify({
        Status: 0,
        Answer: [
          { name: '_c.cname.example.', type: 5, TTL: 60, data: 'elsewhere.example.' },
          { name: 'elsewhere.example.', type: 16, TTL: 60, data: '"value"' },
        ],
      }),
    });
    assert.deepEqual(await lookup('_c.cname.example'), ['value']);
  });

  test('a DNS failure (SERVFAIL) is an error, not "no record"', async () => {
    resolver.set('_c.servfail.example', { status: 2 });
    await failsWith(lookup('_c.servfail.example'), 'failed');
  });

  test('not JSON, or JSON of another shape: malformed', async () => {
    for (const [name, raw] of [
      ['_c.html.example', '<html>captive portal</html>'],
      ['_c.shape.example', '{"Status":"0","Answer":"x"}'],
      ['_c.array.example', '[1,2,3]'],
      ['_c.answers.example', '{"Status":0,"Answer":[{"name":"x","type":16,"data":5}]}'],
      ['_c.proto.example', '{"__proto__":{"Status":0}}'],
    ] as const) {
      resolver.set(name, { raw });
      await failsWith(lookup(name), 'malformed');
    }
  });

  test('a huge answer is not read past the bound, declared or streamed', async () => {
    resolver.set('_c.huge.example', { huge: 4 * 1024 * 1024, declared: true });
    resolver.set('_c.stream.example', { huge: 4 * 1024 * 1024, declared: false });
    await failsWith(lookup('_c.huge.example'), 'too_large');
    await failsWith(lookup('_c.stream.example'), 'too_large');
    // Under the bound, the same answer is read.
    resolver.set('_c.fits.example', { huge: 2000, declared: false });
    assert.ok((await lookup('_c.fits.example', { maxBytes: 64 * 1024 })).length > 0);
  });

  test('a resolver that never answers, or stops halfway through the body, times out', async () => {
    resolver.set('_c.stall.example', { stall: 'all' });
    resolver.set('_c.half.example', { stall: 'body' });
    const started = performance.now();
    await failsWith(lookup('_c.stall.example', { timeoutMs: 150 }), 'timeout');
    await failsWith(lookup('_c.half.example', { timeoutMs: 150 }), 'timeout');
    assert.ok(performance.now() - started < 2000, 'each within its deadline');
  });

  test('an HTTP error and nobody listening', async () => {
    resolver.set('_c.http.example', { http: 503 });
    await failsWith(lookup('_c.http.example'), 'refused');
    const closed = `http://127.0.0.1:${await freePort()}/dns-query`;
    await failsWith(lookupTxt(fetch, closed, '_c.x.example'), 'unreachable');
  });
});

describe('character-strings', () => {
  test('escapes: \\" and \\\\ and \\DDD', () => {
    assert.equal(joinCharacterStrings('"a\\"b" "c\\\\d" "\\065\\066"'), 'a"bc\\dAB');
  });
  test('unterminated or stray text: null (the record is skipped)', () => {
    for (const data of ['"abc', '"abc" x', '"a\\', '"\\999"']) assert.equal(joinCharacterStrings(data), null, data);
  });
});
