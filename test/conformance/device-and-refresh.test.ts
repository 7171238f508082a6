/**
 * The device login and everything after it, driven over HTTP against the server that
 * LATCHKEY_TEST_TARGET names (by default `wrangler dev`: real workerd, local KV + Durable
 * Object state).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { CLIENT_ID, deviceLogin, FormBrowser, pollToken, postForm, refresh, startDeviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const GRACE_SECONDS = 2;
let server: RunningWorker;
let base: string;

before(async () => {
  server = await startWorker({ LATCHKEY_REFRESH_GRACE: `${GRACE_SECONDS}s` });
  base = server.url;
});
after(async () => {
  await server?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const me = (token: string) => fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${token}` } });

describe('discovery', () => {
  test('both well-known paths publish the same RFC 8414 metadata', async () => {
    const [oauth, oidc] = await Promise.all(
      ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'].map(async (path) => {
        const response = await fetch(`${base}${path}`);
        assert.equal(response.status, 200);
        return (await response.json()) as { issuer: string; token_endpoint: string; [field: string]: unknown };
      }),
    );
    assert.ok(oauth && oidc);
    assert.deepEqual(oauth, oidc);
    assert.equal(oauth.issuer, base);
    assert.equal(oauth.token_endpoint, `${base}/oauth/token`);
    assert.equal(oauth.device_authorization_endpoint, `${base}/oauth/device_authorization`);
    assert.equal(oauth.jwks_uri, `${base}/.well-known/jwks.json`);
    const grants = oauth.grant_types_supported as string[];
    assert.ok(grants.includes('urn:ietf:params:oauth:grant-type:device_code'));
    assert.ok(grants.includes('refresh_token'));
    assert.deepEqual(oauth.code_challenge_methods_supported, ['S256']);
  });

  test('JWKS holds public keys only', async () => {
    const jwks = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: Record<string, string>[] };
    assert.ok(jwks.keys.length >= 1);
    for (const key of jwks.keys) {
      assert.equal(key.d, undefined);
      assert.ok(['EdDSA', 'ES256'].includes(String(key.alg)));
      assert.ok(key.kid);
    }
  });
});

describe('device login (RFC 8628)', () => {
  test('user codes are XXXX-XXXX from 20 consonants; verification URIs point at /device', async () => {
    const started = await startDeviceLogin(base);
    assert.match(started.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.match(started.device_code, /^lk_dc_/);
    assert.equal(started.verification_uri_complete, `${base}/device?user_code=${started.user_code}`);
    assert.equal(started.interval, 5);
  });

  test('pending, then slow_down when polling faster than the interval', async () => {
    const started = await startDeviceLogin(base);
    const first = await pollToken(base, started.device_code);
    assert.equal(first.status, 400);
    assert.equal(first.json.error, 'authorization_pending');
    const second = await pollToken(base, started.device_code);
    assert.equal(second.json.error, 'slow_down');
    assert.match(String(second.json.error_description), /10 seconds/);
    const third = await pollToken(base, started.device_code);
    assert.equal(third.json.error, 'slow_down');
    assert.match(String(third.json.error_description), /15 seconds/);
  });

  test('approve, redeem once, verify the access token offline against the JWKS', async () => {
    const started = await startDeviceLogin(base);
    const decided = await new FormBrowser(base).decide(started.user_code, 'approve', 'grace@example.com');
    assert.equal(decided.status, 200);
    const { status, json } = await pollToken(base, started.device_code);
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.token_type, 'Bearer');
    assert.equal(json.expires_in, 900);
    assert.equal(json.scope, 'read write');
    assert.match(String(json.refresh_token), /^lk_rt_/);

    const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(String(json.access_token), jwks, { issuer: base, audience: base });
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.match(String(payload.sub), /^usr_/);
    assert.equal(payload.email, 'grace@example.com');
    assert.equal(payload.kind, 'user');
    assert.equal(payload.client_id, CLIENT_ID);
    assert.match(String(payload.sid), /^ses_/);
    assert.ok(payload.jti);
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 900);

    const again = await pollToken(base, started.device_code);
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_grant');
  });

  test('the same person gets the same subject on every login', async () => {
    const a = decodeJwt((await deviceLogin(base, 'same@example.com')).access_token);
    const b = decodeJwt((await deviceLogin(base, 'SAME@example.com')).access_token);
    assert.equal(a.sub, b.sub);
    assert.notEqual(a.sid, b.sid);
  });

  test('deny -> access_denied', async () => {
    const started = await startDeviceLogin(base);
    const denied = await new FormBrowser(base).decide(started.user_code, 'deny');
    assert.equal(denied.status, 200);
    assert.match(denied.html, /not signed in/);
    const { json } = await pollToken(base, started.device_code);
    assert.equal(json.error, 'access_denied');
  });

  test('a decided code cannot be typed in again', async () => {
    const started = await startDeviceLogin(base);
    const browser = new FormBrowser(base);
    await browser.decide(started.user_code, 'approve');
    const page = await browser.request(`/device?user_code=${started.user_code}`);
    assert.equal(page.status, 400);
    assert.match(page.html, /wrong or has expired/);
  });

  test('20 simultaneous redemptions of one approved device code: exactly one succeeds', async () => {
    const started = await startDeviceLogin(base);
    await new FormBrowser(base).decide(started.user_code, 'approve');
    const results = await Promise.all(Array.from({ length: 20 }, () => pollToken(base, started.device_code)));
    const ok = results.filter((result) => result.status === 200);
    assert.equal(ok.length, 1, JSON.stringify(results.map((result) => result.json.error ?? 'ok')));
    for (const result of results) assert.ok(result.status === 200 || result.status === 400);
  });

  test('wrong codes are limited per browser session (5), then refused even when right', async () => {
    const started = await startDeviceLogin(base);
    const browser = new FormBrowser(base);
    await browser.signIn('guesser@example.com');
    for (let i = 0; i < 5; i++) {
      const wrong = await browser.request('/device?user_code=BBBB-BBBB');
      assert.equal(wrong.status, 400);
    }
    const blocked = await browser.request(`/device?user_code=${started.user_code}`);
    assert.equal(blocked.status, 429);
    assert.match(blocked.html, /Too many wrong codes/);
  });
});

describe('refresh tokens', () => {
  test('rotation returns a new refresh token; a retry within the grace window gets the same successor', async () => {
    const login = await deviceLogin(base);
    const first = await refresh(base, login.refresh_token);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.notEqual(first.json.refresh_token, login.refresh_token);
    const retry = await refresh(base, login.refresh_token);
    assert.equal(retry.status, 200);
    assert.equal(retry.json.refresh_token, first.json.refresh_token);
    const next = await refresh(base, String(first.json.refresh_token));
    assert.equal(next.status, 200);
  });

  // A refresh token names its session (lk_rt_ + 20 of the session id + 43 of secret), so
  // the name routes it: one person's secret under another's session id is nobody's token,
  // and presenting it touches neither session.
  test("a refresh token re-addressed to another person's session is refused, and both sessions go on", async () => {
    const [ada, bob] = [await deviceLogin(base, 'ada@example.com'), await deviceLogin(base, 'bob@example.com')];
    const prefix = 'lk_rt_';
    assert.match(ada.refresh_token, /^lk_rt_[\w-]{63}$/);
    const bobSession = bob.refresh_token.slice(prefix.length, prefix.length + 20);
    const adaSecret = ada.refresh_token.slice(-43);
    const forged = await refresh(base, `${prefix}${bobSession}${adaSecret}`);
    assert.equal(forged.status, 400);
    assert.equal(forged.json.error, 'invalid_grant');
    for (const token of [bob.refresh_token, ada.refresh_token]) {
      const next = await refresh(base, token);
      assert.equal(next.status, 200, JSON.stringify(next.json));
    }
  });

  test('a refresh may narrow the scope, never widen it', async () => {
    const login = await deviceLogin(base);
    const narrowed = await refresh(base, login.refresh_token, { scope: 'read' });
    assert.equal(narrowed.status, 200);
    assert.equal(narrowed.json.scope, 'read');
    const widened = await refresh(base, String(narrowed.json.refresh_token), { scope: 'read write admin' });
    assert.equal(widened.status, 400);
    assert.equal(widened.json.error, 'invalid_scope');
  });

  test('20 simultaneous refreshes of one token: every success carries the same successor', async () => {
    const login = await deviceLogin(base);
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(base, login.refresh_token)));
    const successes = results.filter((result) => result.status === 200);
    assert.ok(successes.length >= 1);
    const successors = new Set(successes.map((result) => result.json.refresh_token));
    assert.equal(successors.size, 1, `distinct successors: ${successors.size}`);
    for (const result of results) assert.notEqual(result.status >= 500, true, JSON.stringify(result.json));
    const successor = String([...successors][0]);
    assert.equal((await refresh(base, successor)).status, 200);
  });

  test('reuse after the grace window revokes the whole family', async () => {
    const login = await deviceLogin(base);
    const rotated = await refresh(base, login.refresh_token);
    assert.equal(rotated.status, 200);
    const successor = String(rotated.json.refresh_token);
    const access = String(rotated.json.access_token);
    assert.equal((await me(access)).status, 200);

    await sleep(GRACE_SECONDS * 1000 + 1200);
    const reuse = await refresh(base, login.refresh_token);
    assert.equal(reuse.status, 400);
    assert.equal(reuse.json.error, 'invalid_grant');
    assert.match(String(reuse.json.error_description), /already used/);

    const afterReuse = await refresh(base, successor);
    assert.equal(afterReuse.json.error, 'invalid_grant');
    const refused = await me(access);
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { error: string }).error, 'invalid_token');
  });
});

describe('revoke, introspect, /v1/me', () => {
  test('/v1/me describes the credential', async () => {
    const login = await deviceLogin(base, 'me@example.com');
    const response = await me(login.access_token);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const body = (await response.json()) as Record<string, string>;
    assert.match(String(body.sub), /^usr_/);
    assert.equal(body.kind, 'user');
    assert.equal(body.email, 'me@example.com');
    assert.equal(body.scope, 'read write');
    assert.equal(body.org, null);
    assert.match(String(body.session_id), /^ses_/);
    assert.equal(typeof body.exp, 'number');
    const anonymous = await fetch(`${base}/v1/me`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
  });

  test('revoking a refresh token ends its session: refresh and the session’s access tokens fail', async () => {
    const login = await deviceLogin(base);
    const revoked = await postForm(`${base}/oauth/revoke`, { token: login.refresh_token, token_type_hint: 'refresh_token' });
    assert.equal(revoked.status, 200);
    assert.equal((await refresh(base, login.refresh_token)).json.error, 'invalid_grant');
    assert.equal((await me(login.access_token)).status, 401);
  });

  test('revoking an access token refuses it from the next request; the session lives on', async () => {
    const login = await deviceLogin(base);
    assert.equal((await me(login.access_token)).status, 200);
    assert.equal((await postForm(`${base}/oauth/revoke`, { token: login.access_token })).status, 200);
    assert.equal((await me(login.access_token)).status, 401);
    const next = await refresh(base, login.refresh_token);
    assert.equal(next.status, 200);
    assert.equal((await me(String(next.json.access_token))).status, 200, 'the session’s new token works');
    assert.equal((await me(login.access_token)).status, 401, 'the revoked one stays refused');
  });

  test('revoking an unknown token is a 200 that reveals nothing', async () => {
    const response = await postForm(`${base}/oauth/revoke`, { token: 'lk_rt_nonsense' });
    assert.equal(response.status, 200);
  });

  test('introspection answers only about the caller’s own tokens', async () => {
    const ada = await deviceLogin(base, 'ada@example.com');
    const bob = await deviceLogin(base, 'bob@example.com');
    const introspect = (caller: string, token: string) =>
      postForm(`${base}/oauth/introspect`, { token }, { authorization: `Bearer ${caller}` });

    const own = await introspect(ada.access_token, ada.access_token);
    assert.equal(own.status, 200);
    assert.equal(own.json.active, true);
    assert.equal(own.json.token_type, 'access_token');
    assert.equal(own.json.sub, decodeJwt(ada.access_token).sub);

    const ownRefresh = await introspect(ada.access_token, ada.refresh_token);
    assert.equal(ownRefresh.json.active, true);
    assert.equal(ownRefresh.json.token_type, 'refresh_token');

    assert.deepEqual((await introspect(ada.access_token, bob.access_token)).json, { active: false });
    assert.deepEqual((await introspect(ada.access_token, bob.refresh_token)).json, { active: false });
    assert.deepEqual((await introspect(ada.access_token, 'garbage')).json, { active: false });

    const unauthenticated = await postForm(`${base}/oauth/introspect`, { token: ada.access_token });
    assert.equal(unauthenticated.status, 401);

    await postForm(`${base}/oauth/revoke`, { token: ada.refresh_token });
    const afterRevoke = await introspect(bob.access_token, bob.refresh_token);
    assert.equal(afterRevoke.json.active, true);
    assert.equal((await introspect(ada.access_token, ada.access_token)).status, 401);
  });
});

describe('state at rest', () => {
  test('a dump of the store after logins holds no token that works', async (t) => {
    const login = await deviceLogin(base, 'dump@example.com');
    const rotated = await refresh(base, login.refresh_token);
    const live = [login.access_token, String(rotated.json.access_token), String(rotated.json.refresh_token)];

    const dump = await server.dump();
    if (dump === null) return t.skip(`${server.target} keeps its state in the server's memory: nothing at rest`);
    assert.ok(dump.length > 0, 'persisted state is empty');
    for (const token of live) assert.equal(dump.includes(token), false, 'an issued token is stored in the clear');

    // Anything in the dump shaped like one of our tokens must be useless.
    const candidates = new Set([
      ...(dump.match(/lk_[a-z]{2}_[\w-]{20,}/g) ?? []),
      ...(dump.match(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/g) ?? []),
    ]);
    for (const candidate of candidates) {
      assert.notEqual((await refresh(base, candidate)).status, 200);
      assert.notEqual((await me(candidate)).status, 200);
      assert.notEqual((await pollToken(base, candidate)).status, 200);
    }
  });
});
