/**
 * Time windows with the clock in the test's hand, instead of sleeps over HTTP: the app built
 * in process (`createApp(config, deps)` over a memory store, both on a stepping clock),
 * served on a loopback port so the ordinary HTTP fixtures drive it. The refresh grace
 * window, a device code's life, an API key's expiry and a rotation's grace are stepped over
 * to the millisecond on each side. (The windows are the app's arithmetic on the clock it is
 * given; a store's own expiry of records is the store contract's, on every adapter.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiCall } from '../fixtures/api-call.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin, FormBrowser, pollToken, refresh, startDeviceLogin } from '../fixtures/oauth-client.ts';

let app: InProcess;
let base: string;

before(async () => {
  app = await startInProcess({ LATCHKEY_REFRESH_GRACE: '10s', LATCHKEY_DEVICE_CODE_TTL: '600s' }, Date.UTC(2026, 2, 2, 9));
  base = app.base;
});
after(() => app?.close());

const me = (token: string) => apiCall(base, 'GET', '/v1/me', token);

describe('the refresh grace window', () => {
  test('within it the spent token gets the same successor; just after, reuse ends the whole family', async () => {
    const login = await deviceLogin(base, 'grace@time.example');
    const rotated = await refresh(base, login.refresh_token);
    assert.equal(rotated.status, 200);
    const successor = String(rotated.json.refresh_token);

    app.step(10_000 - 1);
    const retried = await refresh(base, login.refresh_token);
    assert.equal(retried.status, 200, 'at the edge of the window');
    assert.equal(retried.json.refresh_token, successor);

    app.step(2);
    const reuse = await refresh(base, login.refresh_token);
    assert.equal(reuse.status, 400);
    assert.equal(reuse.json.error, 'invalid_grant');
    assert.match(String(reuse.json.error_description), /already used/);
    assert.equal((await refresh(base, successor)).json.error, 'invalid_grant', 'the successor went with the family');
    assert.equal((await me(String(rotated.json.access_token))).status, 401, 'and its access token');
  });
});

describe('a device code', () => {
  test('unapproved at the end of its life: expired_token, and its user code no longer opens a page', async () => {
    const started = await startDeviceLogin(base);
    app.step(600_000 - 1);
    assert.equal((await pollToken(base, started.device_code)).json.error, 'authorization_pending');
    app.step(1);
    assert.equal((await pollToken(base, started.device_code)).json.error, 'expired_token');
    const browser = new FormBrowser(base);
    await browser.signIn('late@time.example');
    assert.equal((await browser.request(`/device?user_code=${started.user_code}`)).status, 400);
  });
});

describe('API keys', () => {
  let owner: string;
  before(async () => {
    owner = (await deviceLogin(base, 'owner@keys-time.example')).access_token;
    assert.equal((await apiCall(base, 'POST', '/v1/orgs', owner, { slug: 'timekeys' })).status, 201);
  });
  const create = async (body: Record<string, unknown>) => {
    // A fresh sign-in each time: the clock has moved past the last one's access token.
    owner = (await deviceLogin(base, 'owner@keys-time.example')).access_token;
    const made = await apiCall(base, 'POST', '/v1/orgs/timekeys/keys', owner, body);
    assert.equal(made.status, 201, JSON.stringify(made.json));
    return made.json as { id: string; key: string };
  };

  test('a key works until its expiry and is refused as expired from then on', async () => {
    const { key } = await create({ name: 'short', role: 'member', expires_in: 3600 });
    app.step(3600_000 - 1);
    assert.equal((await me(key)).status, 200);
    app.step(1);
    const expired = await me(key);
    assert.equal(expired.status, 401);
    assert.match(String(expired.json.error_description), /expired/);
  });

  test('rotated with a grace period, the old key works for exactly that long', async () => {
    const first = await create({ name: 'rot', role: 'member' });
    const rotated = await apiCall(base, 'POST', `/v1/orgs/timekeys/keys/${first.id}/rotate`, owner, { grace_seconds: 60 });
    assert.equal(rotated.status, 201, JSON.stringify(rotated.json));
    app.step(60_000 - 1);
    assert.equal((await me(first.key)).status, 200, 'within the grace period');
    app.step(1);
    assert.equal((await me(first.key)).status, 401, 'after it');
    assert.equal((await me(String(rotated.json.key))).status, 200);
  });
});
