import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../worker/config.ts';
import { generateSigningKey } from '../../worker/tokens/signing-keys.ts';

const loopback = { LATCHKEY_ISSUER: 'http://127.0.0.1:8787' };
const key = await generateSigningKey();
const KEYS = JSON.stringify([key]);
/** A public deployment's secrets, so each refusal below is about the one setting it names. */
const deployed = {
  LATCHKEY_ISSUER: 'https://auth.example.com',
  LATCHKEY_SIGNING_KEYS: KEYS,
  LATCHKEY_HASH_SECRET: 'x'.repeat(32),
};

test('defaults follow DESIGN: 15 min access, 10 min CI, 30 d refresh, 7 d idle, 10 min device code, 10 min step-up, 90 d keys', () => {
  const config = parseConfig(loopback);
  assert.deepEqual(config.ttl, {
    accessToken: 900,
    ciToken: 600,
    refreshToken: 30 * 86400,
    refreshIdle: 7 * 86400,
    refreshGrace: 10,
    deviceCode: 600,
    devicePollInterval: 5,
    stepUpMaxAge: 600,
    apiKey: 90 * 86400,
    apiKeyMax: 365 * 86400,
  });
  assert.equal(config.base, 'http://127.0.0.1:8787');
  assert.equal(config.identity, 'dev');
  assert.equal(config.loopback, true);
});

test('an isolate trusts a session record for 1 s by default; 0 turns that off; at most 10 s', () => {
  assert.equal(parseConfig(loopback).sessionCacheMs, 1000);
  assert.equal(parseConfig({ ...loopback, LATCHKEY_SESSION_CACHE: '0' }).sessionCacheMs, 0);
  assert.equal(parseConfig({ ...loopback, LATCHKEY_SESSION_CACHE: '250ms' }).sessionCacheMs, 250);
  assert.equal(parseConfig({ ...loopback, LATCHKEY_SESSION_CACHE: '5s' }).sessionCacheMs, 5000);
  assert.equal(parseConfig({ ...loopback, LATCHKEY_SESSION_CACHE: '10' }).sessionCacheMs, 10_000);
});

test('durations take seconds or a unit', () => {
  const config = parseConfig({
    ...loopback,
    LATCHKEY_ACCESS_TOKEN_TTL: '90',
    LATCHKEY_REFRESH_GRACE: '2s',
    LATCHKEY_REFRESH_IDLE_TTL: '12h',
  });
  assert.equal(config.ttl.accessToken, 90);
  assert.equal(config.ttl.refreshGrace, 2);
  assert.equal(config.ttl.refreshIdle, 43200);
});

const refusals: [string, Record<string, string>, string][] = [
  ['missing issuer', {}, 'LATCHKEY_ISSUER'],
  ['issuer not a URL', { LATCHKEY_ISSUER: 'latchkey' }, 'LATCHKEY_ISSUER'],
  ['plain http off loopback', { LATCHKEY_ISSUER: 'http://auth.example.com' }, 'LATCHKEY_ISSUER'],
  ['issuer with a query', { LATCHKEY_ISSUER: 'https://auth.example.com/?x=1' }, 'LATCHKEY_ISSUER'],
  ['bad duration', { ...loopback, LATCHKEY_ACCESS_TOKEN_TTL: 'banana' }, 'LATCHKEY_ACCESS_TOKEN_TTL'],
  ['zero duration', { ...loopback, LATCHKEY_DEVICE_CODE_TTL: '0' }, 'LATCHKEY_DEVICE_CODE_TTL'],
  ['unknown store', { ...loopback, LATCHKEY_STORE: 'postgres' }, 'LATCHKEY_STORE'],
  ['unknown identity provider', { ...loopback, LATCHKEY_IDENTITY: 'ldap' }, 'LATCHKEY_IDENTITY'],
  ['short hash secret', { ...loopback, LATCHKEY_HASH_SECRET: 'short' }, 'LATCHKEY_HASH_SECRET'],
  [
    'bad email domain list',
    { ...loopback, LATCHKEY_ALLOWED_EMAIL_DOMAINS: 'example.com, not a domain' },
    'LATCHKEY_ALLOWED_EMAIL_DOMAINS',
  ],
  [
    'oidc without an upstream issuer',
    { ...loopback, LATCHKEY_IDENTITY: 'oidc', LATCHKEY_OIDC_CLIENT_ID: 'x' },
    'LATCHKEY_OIDC_ISSUER',
  ],
  [
    'oidc upstream over plain http off loopback',
    { ...loopback, LATCHKEY_IDENTITY: 'oidc', LATCHKEY_OIDC_ISSUER: 'http://idp.example.com', LATCHKEY_OIDC_CLIENT_ID: 'x' },
    'LATCHKEY_OIDC_ISSUER',
  ],
  ['github without its OAuth app', { ...loopback, LATCHKEY_IDENTITY: 'github' }, 'LATCHKEY_GITHUB_CLIENT_ID'],
  ['clients that are not JSON', { ...loopback, LATCHKEY_CLIENTS: '[{' }, 'LATCHKEY_CLIENTS'],
  ['a client with a bad id', { ...loopback, LATCHKEY_CLIENTS: '[{"id":"Bad Id","name":"x"}]' }, 'LATCHKEY_CLIENTS'],
  ['session cache over 10 s', { ...loopback, LATCHKEY_SESSION_CACHE: '11s' }, 'LATCHKEY_SESSION_CACHE'],
  ['session cache in minutes', { ...loopback, LATCHKEY_SESSION_CACHE: '1m' }, 'LATCHKEY_SESSION_CACHE'],
  ['session cache not a duration', { ...loopback, LATCHKEY_SESSION_CACHE: 'on' }, 'LATCHKEY_SESSION_CACHE'],
  ['idle longer than absolute', { ...loopback, LATCHKEY_REFRESH_IDLE_TTL: '60d' }, 'LATCHKEY_REFRESH_IDLE_TTL'],
  ['dev identity on a public issuer', { ...deployed, LATCHKEY_IDENTITY: 'dev' }, 'LATCHKEY_IDENTITY'],
  ['no identity provider named on a public issuer (no dev default)', deployed, 'LATCHKEY_IDENTITY'],
  ['no issuer at all (a bare deploy)', { LATCHKEY_IDENTITY: 'oidc' }, 'LATCHKEY_ISSUER'],
  [
    'no signing keys on a public issuer',
    { LATCHKEY_ISSUER: 'https://auth.example.com', LATCHKEY_IDENTITY: 'oidc' },
    'LATCHKEY_SIGNING_KEYS',
  ],
  [
    'no hash secret on a public issuer',
    { LATCHKEY_ISSUER: 'https://auth.example.com', LATCHKEY_IDENTITY: 'oidc', LATCHKEY_SIGNING_KEYS: KEYS },
    'LATCHKEY_HASH_SECRET',
  ],
  ['signing keys that are not JSON', { ...loopback, LATCHKEY_SIGNING_KEYS: '{not json' }, 'LATCHKEY_SIGNING_KEYS'],
  ['an empty signing key list', { ...loopback, LATCHKEY_SIGNING_KEYS: '[]' }, 'LATCHKEY_SIGNING_KEYS'],
  [
    'an RSA signing key',
    { ...loopback, LATCHKEY_SIGNING_KEYS: '[{"kty":"RSA","n":"x","e":"AQAB","d":"y"}]' },
    'LATCHKEY_SIGNING_KEYS',
  ],
  [
    'a public key with no private part',
    { ...loopback, LATCHKEY_SIGNING_KEYS: JSON.stringify([{ ...key, d: undefined }]) },
    'LATCHKEY_SIGNING_KEYS',
  ],
  [
    'a signing key with a truncated coordinate',
    { ...loopback, LATCHKEY_SIGNING_KEYS: JSON.stringify([key, { ...key, x: String(key.x).slice(0, 20) }]) },
    'LATCHKEY_SIGNING_KEYS',
  ],
  [
    'an Ed25519 key calling itself P-256',
    { ...loopback, LATCHKEY_SIGNING_KEYS: JSON.stringify([{ ...key, crv: 'P-256' }]) },
    'LATCHKEY_SIGNING_KEYS',
  ],
  [
    'a public issuer on a malformed key',
    { ...deployed, LATCHKEY_IDENTITY: 'oidc', LATCHKEY_SIGNING_KEYS: '[{"kty":"OKP"}]' },
    'LATCHKEY_SIGNING_KEYS',
  ],
  ['emails-verified not a boolean', { ...loopback, LATCHKEY_OIDC_EMAILS_VERIFIED: 'yes' }, 'LATCHKEY_OIDC_EMAILS_VERIFIED'],
  [
    'a GitHub Enterprise Server whose API is said to be api.github.com',
    {
      ...loopback,
      LATCHKEY_IDENTITY: 'github',
      LATCHKEY_GITHUB_CLIENT_ID: 'Iv1.x',
      LATCHKEY_GITHUB_CLIENT_SECRET: 'secret',
      LATCHKEY_GITHUB_URL: 'https://github.acme.example',
      LATCHKEY_GITHUB_API_URL: 'https://api.github.com',
    },
    'LATCHKEY_GITHUB_API_URL',
  ],
];

for (const [name, env, setting] of refusals) {
  test(`refused at start-up, naming the setting: ${name}`, () => {
    assert.throws(
      () => parseConfig(env),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.ok(error.settings.includes(setting), `${error.settings.join(',')} should include ${setting}`);
        assert.match(error.message, new RegExp(setting));
        return true;
      },
    );
  });
}

test('a refused secret is named but never echoed', () => {
  const secret = 'hunter2-not-long-enough';
  assert.throws(
    () => parseConfig({ ...loopback, LATCHKEY_HASH_SECRET: secret }),
    (error: unknown) => error instanceof ConfigError && !error.message.includes(secret),
  );
  const halfKey = JSON.stringify([{ ...key, x: String(key.x).slice(0, 20) }]);
  assert.throws(
    () => parseConfig({ ...loopback, LATCHKEY_SIGNING_KEYS: halfKey }),
    (error: unknown) =>
      error instanceof ConfigError &&
      /LATCHKEY_SIGNING_KEYS: entry 0 /.test(error.message) &&
      !error.message.includes(String(key.d)) &&
      !error.message.includes(String(key.x).slice(0, 20)),
  );
});

test('well-formed signing keys pass: a list, a JWK Set, Ed25519 and P-256', async () => {
  const { exportJWK, generateKeyPair } = await import('jose');
  const p256 = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
  assert.equal(parseConfig({ ...loopback, LATCHKEY_SIGNING_KEYS: KEYS }).signingKeys, KEYS);
  const set = JSON.stringify({ keys: [p256, key] });
  assert.equal(
    parseConfig({
      ...deployed,
      LATCHKEY_IDENTITY: 'oidc',
      LATCHKEY_OIDC_ISSUER: 'https://idp.example.com',
      LATCHKEY_OIDC_CLIENT_ID: 'x',
      LATCHKEY_SIGNING_KEYS: set,
    }).signingKeys,
    set,
  );
});

test('dev is assumed only on a loopback issuer; a public one must name its provider', () => {
  assert.equal(parseConfig(loopback).identity, 'dev');
  assert.equal(
    parseConfig({ ...deployed, LATCHKEY_IDENTITY: 'github', LATCHKEY_GITHUB_CLIENT_ID: 'a', LATCHKEY_GITHUB_CLIENT_SECRET: 'b' })
      .identity,
    'github',
  );
  assert.throws(() => parseConfig(deployed), /LATCHKEY_IDENTITY is required when the issuer is not loopback/);
});

test('wrangler.toml ships no [vars]: a plain `wrangler deploy` carries no dev sign-in and no loopback issuer', async () => {
  // Read the file the way `wrangler deploy` does, with wrangler's own reader.
  const { unstable_readConfig } = (await import('wrangler')) as unknown as {
    unstable_readConfig(options: { config: string }): { vars: Record<string, unknown> };
  };
  const shipped = unstable_readConfig({ config: new URL('../../wrangler.toml', import.meta.url).pathname }).vars;
  assert.equal(shipped.LATCHKEY_IDENTITY, undefined, 'wrangler.toml [vars] must not set LATCHKEY_IDENTITY');
  assert.equal(shipped.LATCHKEY_ISSUER, undefined, 'wrangler.toml [vars] must not set LATCHKEY_ISSUER');
  // The Worker such a deploy starts refuses to, naming the setting.
  const env = Object.fromEntries(Object.entries(shipped).map(([name, value]) => [name, String(value)]));
  assert.throws(
    () => parseConfig(env),
    (error: unknown) => error instanceof ConfigError && error.settings.includes('LATCHKEY_ISSUER'),
  );
});

test('OIDC: an address sent without email_verified counts only when the operator says the provider verifies all', () => {
  const oidc = {
    ...loopback,
    LATCHKEY_IDENTITY: 'oidc',
    LATCHKEY_OIDC_ISSUER: 'https://idp.example.com',
    LATCHKEY_OIDC_CLIENT_ID: 'x',
  };
  assert.equal(parseConfig(oidc).oidc?.emailsVerified, false);
  assert.equal(parseConfig({ ...oidc, LATCHKEY_OIDC_EMAILS_VERIFIED: 'true' }).oidc?.emailsVerified, true);
  assert.equal(parseConfig({ ...oidc, LATCHKEY_OIDC_EMAILS_VERIFIED: 'false' }).oidc?.emailsVerified, false);
});

test('GitHub: the API URL follows the web URL — api.github.com for github.com only, /api/v3 on Enterprise Server', () => {
  const github = {
    ...deployed,
    LATCHKEY_IDENTITY: 'github',
    LATCHKEY_GITHUB_CLIENT_ID: 'Iv1.x',
    LATCHKEY_GITHUB_CLIENT_SECRET: 's',
  };
  assert.equal(parseConfig(github).github?.apiUrl, 'https://api.github.com');
  const ghes = parseConfig({ ...github, LATCHKEY_GITHUB_URL: 'https://github.acme.example' }).github;
  assert.equal(ghes?.webUrl, 'https://github.acme.example');
  assert.equal(ghes?.apiUrl, 'https://github.acme.example/api/v3');
  const explicit = parseConfig({
    ...github,
    LATCHKEY_GITHUB_URL: 'https://github.acme.example',
    LATCHKEY_GITHUB_API_URL: 'https://github-api.acme.example/',
  }).github;
  assert.equal(explicit?.apiUrl, 'https://github-api.acme.example');
});

test('CI issuers: the defaults, an empty list trusts none, plain http only on loopback', () => {
  const base = { LATCHKEY_ISSUER: 'http://127.0.0.1:8787' };
  assert.deepEqual(parseConfig(base).ciIssuers, ['https://token.actions.githubusercontent.com', 'https://gitlab.com']);
  assert.deepEqual(parseConfig({ ...base, LATCHKEY_CI_ISSUERS: '' }).ciIssuers, []);
  assert.deepEqual(parseConfig({ ...base, LATCHKEY_CI_ISSUERS: 'none' }).ciIssuers, []);
  assert.throws(
    () => parseConfig({ ...base, LATCHKEY_CI_ISSUERS: 'http://ci.example.com' }),
    /LATCHKEY_CI_ISSUERS\[0\]: expected comma-separated https/,
  );
  assert.throws(() => parseConfig({ ...base, LATCHKEY_CI_ISSUERS: 'not a url' }), /LATCHKEY_CI_ISSUERS/);
});

test('CI policies are refused at start-up with the reason and where', () => {
  const base = { LATCHKEY_ISSUER: 'http://127.0.0.1:8787' };
  const policy = {
    id: 'main',
    preset: 'github-actions',
    audience: 'https://latchkey.example.com',
    repository: 'acme/app',
    repository_id: '7',
    repository_owner_id: '3',
    grant: { project: 'web', scopes: ['read'] },
  };
  assert.equal(parseConfig({ ...base, LATCHKEY_CI_POLICIES: JSON.stringify([policy]) }).ciPolicies.length, 1);
  assert.throws(() => parseConfig({ ...base, LATCHKEY_CI_POLICIES: '{' }), /LATCHKEY_CI_POLICIES: not JSON/);
  const { audience: _, ...noAudience } = policy;
  assert.throws(
    () => parseConfig({ ...base, LATCHKEY_CI_POLICIES: JSON.stringify([noAudience]) }),
    /LATCHKEY_CI_POLICIES\[0\]\.audience: a policy needs an audience/,
  );
  assert.throws(() => parseConfig({ ...base, LATCHKEY_CI_POLICIES: JSON.stringify([policy, policy]) }), /"main" is used twice/);
  assert.throws(
    () => parseConfig({ ...base, LATCHKEY_CI_ISSUERS: 'https://gitlab.com', LATCHKEY_CI_POLICIES: JSON.stringify([policy]) }),
    /names issuer https:\/\/token\.actions\.githubusercontent\.com, which LATCHKEY_CI_ISSUERS does not trust/,
  );
});

test('LATCHKEY_STEP_UP_MAX_AGE and LATCHKEY_OIDC_TRUST_AMR: read, and refused with the setting named', () => {
  assert.equal(parseConfig({ ...loopback, LATCHKEY_STEP_UP_MAX_AGE: '30m' }).ttl.stepUpMaxAge, 1800);
  assert.throws(() => parseConfig({ ...loopback, LATCHKEY_STEP_UP_MAX_AGE: 'soon' }), /LATCHKEY_STEP_UP_MAX_AGE/);
  const oidc = {
    ...loopback,
    LATCHKEY_IDENTITY: 'oidc',
    LATCHKEY_OIDC_ISSUER: 'https://id.example',
    LATCHKEY_OIDC_CLIENT_ID: 'c',
  };
  assert.equal(parseConfig(oidc).oidc?.trustAmr, false);
  assert.equal(parseConfig({ ...oidc, LATCHKEY_OIDC_TRUST_AMR: 'true' }).oidc?.trustAmr, true);
  assert.throws(() => parseConfig({ ...oidc, LATCHKEY_OIDC_TRUST_AMR: 'yes' }), /LATCHKEY_OIDC_TRUST_AMR/);
});
