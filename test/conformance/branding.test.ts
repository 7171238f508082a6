/**
 * A branded deployment ("Acme": its name, accent, secret prefixes and built-in client
 * `acme-cli`), over HTTP on every target: the device, sign-in and console pages say Acme in
 * Acme's accent and not latchkey; org keys are `rsk_…`, project keys `rsp_…`, refresh tokens
 * `rsr_…`, each working; a key with one character changed is refused for its checksum (the
 * in-process test/unit/branding.test.ts counts that no store call is made); a device login
 * as `acme-cli` shows "Acme CLI" on the consent and result pages.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEVICE_CODE_GRANT } from '../../shared/schemas.ts';
import { apiJsonCall, ok } from '../fixtures/api-call.ts';
import { LOOPBACK_ACME_PREFIXES } from '../fixtures/branding.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { FormBrowser, postForm } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const ACCENT = '#0f766e';
let worker: RunningWorker;
before(async () => {
  worker = await startWorker({
    LATCHKEY_PRODUCT_NAME: 'Acme',
    LATCHKEY_ACCENT: ACCENT,
    LATCHKEY_SECRET_PREFIXES: JSON.stringify(LOOPBACK_ACME_PREFIXES),
    LATCHKEY_CLI_CLIENT_ID: 'acme-cli',
    LATCHKEY_CLI_CLIENT_NAME: 'Acme CLI',
  });
});
after(() => worker?.stop());

/** The page without its stylesheet link (a route, the same everywhere): what a person reads. */
const shown = (html: string) => html.replace(/<link rel="stylesheet" href="[^"]+">/, '');

/** A device login as acme-cli, its consent page read on the way; the token response and that page. */
async function acmeLogin(email: string) {
  const started = await postForm(`${worker.url}/oauth/device_authorization`, { client_id: 'acme-cli' });
  assert.equal(started.status, 200, started.text);
  assert.match(String(started.json.device_code), /^rsd_/);
  const userCode = String(started.json.user_code);
  const browser = new FormBrowser(worker.url);
  await browser.signIn(email, userCode);
  const consent = await browser.request(`/device?user_code=${encodeURIComponent(userCode)}`);
  const result = await browser.request('/device/decision', {
    csrf: FormBrowser.field(consent.html, 'csrf'),
    user_code: userCode,
    decision: 'approve',
  });
  const token = await postForm(`${worker.url}/oauth/token`, {
    grant_type: DEVICE_CODE_GRANT,
    device_code: String(started.json.device_code),
    client_id: 'acme-cli',
  });
  assert.equal(token.status, 200, token.text);
  return { token: token.json as { access_token: string; refresh_token: string }, consent: consent.html, result: result.html };
}

test('the device, sign-in and console pages say Acme, in its accent, and not latchkey', async () => {
  const signIn = await new FormBrowser(worker.url).request('/device');
  assert.equal(signIn.status, 200);
  assert.match(signIn.html, /<title>Sign in · Acme<\/title>/);
  assert.match(signIn.html, /<p class="brand">Acme<\/p>/);
  assert.ok(!/latchkey/i.test(shown(signIn.html)), shown(signIn.html));

  const browser = new FormBrowser(worker.url);
  await browser.signIn('ada@acme.example');
  const device = await browser.request('/device');
  assert.match(device.html, /<title>Connect a device · Acme<\/title>/);
  assert.ok(!/latchkey/i.test(shown(device.html)), shown(device.html));

  const person = await consolePerson(worker.url, 'grace@acme.example');
  assert.match(person.page, /<span class="brand">Acme<\/span>/);
  assert.match(person.page, /· Acme<\/title>/);
  assert.ok(!/<title>[^<]*latchkey/i.test(person.page) && !/class="brand">latchkey/i.test(person.page));

  const href = /<link rel="stylesheet" href="([^"]+)">/.exec(device.html)?.[1] ?? '';
  const css = await fetch(`${worker.url}${href}`);
  assert.equal(css.status, 200);
  assert.match(await css.text(), new RegExp(`--accent: ${ACCENT};`));
  assert.ok(!/<style|style=/.test(device.html), 'the accent is in the stylesheet, not inline');
  const csp = (await fetch(`${worker.url}/device`)).headers.get('content-security-policy') ?? '';
  assert.match(csp, /style-src 'self';/);
  assert.ok(!csp.includes('unsafe-inline'), csp);
});

test('a device login as acme-cli shows "Acme CLI" and issues an rsr_ refresh token that refreshes', async () => {
  const login = await acmeLogin('ada@acme.example');
  assert.match(login.consent, /<dd id="client-name">Acme CLI<\/dd>/);
  assert.match(login.result, /Acme CLI is now signed in/);
  assert.match(login.token.refresh_token, /^rsr_[\w-]{63}$/);
  const me = await ok(apiJsonCall(worker.url, 'GET', '/v1/me', login.token.access_token));
  assert.equal(me.email, 'ada@acme.example');

  const refreshed = await postForm(`${worker.url}/oauth/token`, {
    grant_type: 'refresh_token',
    refresh_token: login.token.refresh_token,
    client_id: 'acme-cli',
  });
  assert.equal(refreshed.status, 200, refreshed.text);
  assert.match(String(refreshed.json.refresh_token), /^rsr_/);
  // Another client may not refresh Acme's session, latchkey's own CLI included.
  const other = await postForm(`${worker.url}/oauth/token`, {
    grant_type: 'refresh_token',
    refresh_token: String(refreshed.json.refresh_token),
    client_id: 'latchkey-cli',
  });
  assert.equal(other.status, 400);
  assert.equal(other.json.error, 'invalid_grant');
  // A refresh token with its prefix swapped for latchkey's is another token: unknown.
  const swapped = String(refreshed.json.refresh_token).replace(/^rsr_/, 'lk_rt_');
  const refused = await postForm(`${worker.url}/oauth/token`, {
    grant_type: 'refresh_token',
    refresh_token: swapped,
    client_id: 'acme-cli',
  });
  assert.equal(refused.status, 400);
});

test('org keys start rsk_, project keys rsp_; each works; one character changed is refused for its checksum', async () => {
  const { token } = await acmeLogin('owner@acme.example');
  const owner = token.access_token;
  await ok(apiJsonCall(worker.url, 'POST', '/v1/orgs', owner, { slug: 'acme' }));
  await ok(apiJsonCall(worker.url, 'POST', '/v1/orgs/acme/projects', owner, { slug: 'web' }));
  const orgKey = String(
    (await ok(apiJsonCall(worker.url, 'POST', '/v1/orgs/acme/keys', owner, { name: 'bot', role: 'admin' }))).key,
  );
  const projectKey = String(
    (await ok(apiJsonCall(worker.url, 'POST', '/v1/orgs/acme/keys', owner, { name: 'ci', role: 'member', project: 'web' }))).key,
  );
  assert.match(orgKey, /^rsk_live_[0-9A-Za-z]{36}$/);
  assert.match(projectKey, /^rsp_live_[0-9A-Za-z]{36}$/);
  for (const key of [orgKey, projectKey]) {
    const me = await ok(apiJsonCall(worker.url, 'GET', '/v1/me', key));
    assert.equal(me.kind, 'api_key');
    assert.equal(me.org, 'acme');
    const at = 20;
    const damaged = key.slice(0, at) + (key[at] === 'x' ? 'y' : 'x') + key.slice(at + 1);
    const refused = await apiJsonCall(worker.url, 'GET', '/v1/me', damaged);
    assert.equal(refused.status, 401);
    assert.match(String(refused.json.error_description), /checksum/, 'refused before any lookup');
    // The kind's prefix is in the checksum too: an org key passed off as a project key is malformed.
    const reprefixed = key.replace(/^rs[kp]_/, key.startsWith('rsk_') ? 'rsp_' : 'rsk_');
    assert.match(String((await apiJsonCall(worker.url, 'GET', '/v1/me', reprefixed)).json.error_description), /checksum/);
  }
  // Introspection and revocation read the branded prefixes as keys too.
  const seen = await postForm(`${worker.url}/oauth/introspect`, { token: projectKey }, { authorization: `Bearer ${orgKey}` });
  assert.equal(seen.json.active, true, seen.text);
  assert.equal((await postForm(`${worker.url}/oauth/revoke`, { token: projectKey })).status, 200);
  assert.equal((await apiJsonCall(worker.url, 'GET', '/v1/me', projectKey)).status, 401);
  // At rest (every target but node-memory, whose state is only in memory), no branded secret.
  const dump = await worker.dump();
  if (dump !== null) assert.ok(!dump.includes(orgKey.slice(9, 30)) && !dump.includes(projectKey.slice(9, 30)));
});
