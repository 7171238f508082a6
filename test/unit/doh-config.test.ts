/**
 * LATCHKEY_DOH_URL, the resolver domain verification asks: Cloudflare's by default, any
 * https URL, plain http only on loopback (a test's own resolver), and anything else
 * refused at start-up naming the setting.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../worker/config.ts';

const loopback = { LATCHKEY_ISSUER: 'http://127.0.0.1:8787' };

test('Cloudflare by default; an https resolver or a loopback http one as given', () => {
  assert.equal(parseConfig(loopback).dohUrl, 'https://cloudflare-dns.com/dns-query');
  assert.equal(parseConfig({ ...loopback, LATCHKEY_DOH_URL: 'https://dns.google/resolve' }).dohUrl, 'https://dns.google/resolve');
  assert.equal(
    parseConfig({ ...loopback, LATCHKEY_DOH_URL: 'http://127.0.0.1:5353/dns-query' }).dohUrl,
    'http://127.0.0.1:5353/dns-query',
  );
});

test('plain http off loopback, or not a URL, stops start-up naming LATCHKEY_DOH_URL', () => {
  for (const value of [
    'http://resolver.example/dns-query',
    'ftp://127.0.0.1/x',
    'cloudflare-dns.com',
    'http://10.0.0.53/dns-query',
  ]) {
    assert.throws(
      () => parseConfig({ ...loopback, LATCHKEY_DOH_URL: value }),
      (error: unknown) => error instanceof ConfigError && error.settings.includes('LATCHKEY_DOH_URL'),
      value,
    );
  }
});
