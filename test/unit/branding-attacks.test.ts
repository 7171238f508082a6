/**
 * A branded deployment attacked through its prefixes, over HTTP against the app in this
 * process (a memory store wrapped to count its calls, one stepping clock): a damaged key
 * costs no store call on any path that reads keys; a secret of one kind presented as another
 * is refused and leaves the secret it is working; a refresh token from before the rebrand
 * still ends its session when reused; latchkey's own client cannot take over the branded
 * client's codes or sessions; prefixes that would make a kind ambiguous are refused, and
 * ones that would not are accepted; a stylesheet answered for another accent is not cached.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { serve } from '@hono/node-server';
import { DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../shared/schemas.ts';
import { createApp } from '../../worker/app.ts';
import { ConfigError, parseConfig } from '../../worker/config.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import type { Store } from '../../worker/store/store.ts';
import { apiJsonCall, ok } from '../fixtures/api-call.ts';
import { LOOPBACK_ACME_PREFIXES } from '../fixtures/branding.ts';
import { counted } from '../fixtures/counted-store.ts';
import { freePort } from '../fixtures/free-port.ts';
import { FormBrowser, postForm } from '../fixtures/oauth-client.ts';

const PREFIXES = LOOPBACK_ACME_PREFIXES;
const ACME = {
  LATCHKEY_PRODUCT_NAME: 'Acme',
  LATCHKEY_SECRET_PREFIXES: JSON.stringify(PREFIXES),
  LATCHKEY_CLI_CLIENT_ID: 'acme-cli',
};

type Served = { base: string; calls: string[]; step(ms: number): void; close(): void };

/** The app over HTTP with `vars`; its store counted; `shared` lets two configurations share one store and clock (a redeploy). */
async function serveApp(vars: Record<string, string>, shared?: { store: Store; calls: string[]; clock: { ms: number } }) {
  const clock = shared?.clock ?? { ms: Date.UTC(2026, 2, 2, 9) };
  const now = () => clock.ms;
  const { store, calls } = shared ?? counted(memoryStore({ now }));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = parseConfig({ LATCHKEY_ISSUER: base, LATCHKEY_IDENTITY: 'dev', LATCHKEY_SESSION_CACHE: '0', ...vars });
  const server = serve({ fetch: createApp(config, { store, now }).fetch, port, hostname: '127.0.0.1' });
  const served: Served = {
    base,
    calls,
    step: (ms) => {
      clock.ms += ms;
    },
    close: () => server.close(),
  };
  return { ...served, shared: { store, calls, clock } };
}

/** A device login as `clientId`, approved in a form browser: the device code and the token answer. */
async function deviceLogin(base: string, clientId: string, email = 'ada@acme.example') {
  const started = await postForm(`${base}/oauth/device_authorization`, { client_id: clientId });
  assert.equal(started.status, 200, started.text);
  await new FormBrowser(base).decide(String(started.json.user_code), 'approve', email);
  const token = await postForm(`${base}/oauth/token`, {
    grant_type: DEVICE_CODE_GRANT,
    device_code: String(started.json.device_code),
    client_id: clientId,
  });
  assert.equal(token.status, 200, token.text);
  return {
    deviceCode: String(started.json.device_code),
    access: String(token.json.access_token),
    refresh: String(token.json.refresh_token),
  };
}

const refresh = (base: string, token: string, clientId = 'acme-cli') =>
  postForm(`${base}/oauth/token`, { grant_type: 'refresh_token', refresh_token: token, client_id: clientId });

const damage = (key: string, at: number) => key.slice(0, at) + (key[at] === 'x' ? 'y' : 'x') + key.slice(at + 1);

describe('a branded deployment under attack', () => {
  let app: Served;
  let owner: { deviceCode: string; access: string; refresh: string };
  let orgKey: string;
  let projectKey: string;
  before(async () => {
    app = await serveApp(ACME);
    owner = await deviceLogin(app.base, 'acme-cli', 'owner@acme.example');
    await ok(apiJsonCall(app.base, 'POST', '/v1/orgs', owner.access, { slug: 'acme' }));
    await ok(apiJsonCall(app.base, 'POST', '/v1/orgs/acme/projects', owner.access, { slug: 'web' }));
    const make = async (body: Record<string, unknown>) =>
      String((await ok(apiJsonCall(app.base, 'POST', '/v1/orgs/acme/keys', owner.access, { name: 'k', ...body }))).key);
    orgKey = await make({ role: 'admin' });
    projectKey = await make({ role: 'member', project: 'web' });
    assert.match(orgKey, /^rsk_live_/);
    assert.match(projectKey, /^rsp_live_/);
  });
  after(() => app?.close());

  test('a damaged key costs no store call on /v1/me, introspection (as caller and as token), revocation and both token exchanges', async () => {
    // The branded kinds and latchkey's own prefix (accepted after a rebrand), each damaged three ways.
    for (const key of [orgKey, projectKey, `lk_live_${orgKey.slice(9)}`]) {
      for (const at of [10, 25, key.length - 1]) {
        const bad = damage(key, at);
        const paths: [string, () => Promise<{ status: number; json: Record<string, unknown> }>, number][] = [
          ['/v1/me', () => apiJsonCall(app.base, 'GET', '/v1/me', bad), 401],
          [
            'introspect as caller',
            () => postForm(`${app.base}/oauth/introspect`, { token: orgKey }, { authorization: `Bearer ${bad}` }),
            401,
          ],
          ['revoke', () => postForm(`${app.base}/oauth/revoke`, { token: bad }), 200],
          [
            'token exchange',
            () =>
              postForm(`${app.base}/oauth/token`, {
                grant_type: TOKEN_EXCHANGE_GRANT,
                subject_token: bad,
                subject_token_type: TOKEN_TYPE.accessToken,
              }),
            400,
          ],
          [
            'CI exchange',
            () =>
              postForm(`${app.base}/oauth/token`, {
                grant_type: TOKEN_EXCHANGE_GRANT,
                subject_token: bad,
                subject_token_type: TOKEN_TYPE.idToken,
              }),
            400,
          ],
        ];
        for (const [path, call, status] of paths) {
          app.calls.length = 0;
          const answer = await call();
          assert.equal(answer.status, status, `${path}: ${JSON.stringify(answer.json)}`);
          assert.deepEqual(app.calls, [], `${path}, ${bad.slice(0, 9)}… damaged at ${at}: no store call`);
        }
      }
    }
    // The damaged token introspected by a caller whose own check is the only store call.
    app.calls.length = 0;
    const seen = await postForm(
      `${app.base}/oauth/introspect`,
      { token: damage(projectKey, 20) },
      { authorization: `Bearer ${owner.access}` },
    );
    assert.deepEqual(seen.json, { active: false });
    const alone = [...app.calls];
    app.calls.length = 0;
    await apiJsonCall(app.base, 'GET', '/v1/me', owner.access);
    assert.deepEqual(alone, app.calls, "introspecting a damaged key reads only what the caller's own check reads");
    // Both keys still work: nothing above touched them.
    for (const key of [orgKey, projectKey]) assert.equal((await apiJsonCall(app.base, 'GET', '/v1/me', key)).status, 200);
  });

  test('a secret of one kind presented as another is refused, and the secret still works afterwards', async () => {
    const session = await deviceLogin(app.base, 'acme-cli');
    assert.match(session.refresh, /^rsr_/);
    assert.match(session.deviceCode, /^rsd_/);
    // Each as a bearer credential: only keys and access tokens are credentials.
    for (const secret of [session.refresh, session.deviceCode, `rsw_${'A'.repeat(43)}`]) {
      assert.equal((await apiJsonCall(app.base, 'GET', '/v1/me', secret)).status, 401, secret.slice(0, 5));
    }
    // A key, a device code and an access token as a refresh token (the token too long to be one).
    for (const secret of [orgKey, session.deviceCode, session.access]) {
      const answer = await refresh(app.base, secret);
      assert.equal(answer.status, 400, `${secret.slice(0, 5)}: ${answer.text}`);
      assert.ok(['invalid_grant', 'invalid_request'].includes(String(answer.json.error)), answer.text);
    }
    // A refresh token and a key as a device code: unknown, and the refresh token is not spent by it.
    for (const secret of [session.refresh, orgKey]) {
      const answer = await postForm(`${app.base}/oauth/token`, {
        grant_type: DEVICE_CODE_GRANT,
        device_code: secret,
        client_id: 'acme-cli',
      });
      assert.equal(answer.status, 400, answer.text);
    }
    // A refresh token exchanged as if it were an access token: refused, not a narrowed token.
    const exchanged = await postForm(`${app.base}/oauth/token`, {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: session.refresh,
      subject_token_type: TOKEN_TYPE.accessToken,
    });
    assert.equal(exchanged.json.error, 'invalid_grant', exchanged.text);
    // An org key introspected as a refresh token is not one; as a key it is the org's.
    const seen = await postForm(`${app.base}/oauth/introspect`, { token: orgKey }, { authorization: `Bearer ${owner.access}` });
    assert.equal(seen.json.token_type, 'access_token');
    // The refresh token, untouched by all of that, refreshes once.
    const refreshed = await refresh(app.base, session.refresh);
    assert.equal(refreshed.status, 200, refreshed.text);
  });

  test('a refresh token in the shape from before tokens named their session, under the new prefix, is refused with no store call', async () => {
    // That shape (prefix + 43 characters) was only ever issued under lk_rt_, before any brand.
    const forged = `rsr_${'A'.repeat(43)}`;
    app.calls.length = 0;
    const refused = await refresh(app.base, forged);
    assert.equal(refused.json.error, 'invalid_grant', refused.text);
    assert.equal((await postForm(`${app.base}/oauth/revoke`, { token: forged })).status, 200);
    assert.deepEqual(app.calls, [], 'refused by its shape, as a malformed token is');
    // latchkey's own prefix in that shape is still looked for where the old layout kept it.
    await refresh(app.base, `lk_rt_${'A'.repeat(43)}`);
    assert.ok(app.calls.length > 0);
  });

  test("latchkey-cli, still known, cannot poll acme-cli's device code, refresh its session, or have its own refreshed as acme-cli", async () => {
    const started = await postForm(`${app.base}/oauth/device_authorization`, { client_id: 'acme-cli' });
    await new FormBrowser(app.base).decide(String(started.json.user_code), 'approve', 'eve@acme.example');
    const stolen = await postForm(`${app.base}/oauth/token`, {
      grant_type: DEVICE_CODE_GRANT,
      device_code: String(started.json.device_code),
      client_id: 'latchkey-cli',
    });
    assert.equal(stolen.status, 400, stolen.text);
    const acme = await deviceLogin(app.base, 'acme-cli');
    assert.equal((await refresh(app.base, acme.refresh, 'latchkey-cli')).json.error, 'invalid_grant');
    const latchkey = await deviceLogin(app.base, 'latchkey-cli');
    assert.equal((await refresh(app.base, latchkey.refresh, 'acme-cli')).json.error, 'invalid_grant');
    // Each still refreshes as its own client: the refusals spent nothing.
    assert.equal((await refresh(app.base, acme.refresh, 'acme-cli')).status, 200);
    assert.equal((await refresh(app.base, latchkey.refresh, 'latchkey-cli')).status, 200);
  });
});

test('an lk_rt_ token rotated after a rebrand, replayed after the grace window, still ends its session', async () => {
  const latchkey = await serveApp({});
  const acme = await serveApp(ACME, latchkey.shared);
  try {
    const before = await deviceLogin(latchkey.base, 'latchkey-cli');
    assert.match(before.refresh, /^lk_rt_/);
    const rotated = await refresh(acme.base, before.refresh, 'latchkey-cli');
    assert.equal(rotated.status, 200, rotated.text);
    assert.match(String(rotated.json.refresh_token), /^rsr_/);
    // Within the window a retry gets the same successor; a copy of it under the other prefix is nobody's.
    assert.equal((await refresh(acme.base, before.refresh, 'latchkey-cli')).json.refresh_token, rotated.json.refresh_token);
    const reprefixed = String(rotated.json.refresh_token).replace(/^rsr_/, 'lk_rt_');
    assert.equal((await refresh(acme.base, reprefixed, 'latchkey-cli')).json.error, 'invalid_grant');
    acme.step(11_000);
    const reused = await refresh(acme.base, before.refresh, 'latchkey-cli');
    assert.match(String(reused.json.error_description), /already used/);
    // The successor dies with its session, whichever deployment is asked.
    for (const base of [acme.base, latchkey.base]) {
      assert.equal((await refresh(base, String(rotated.json.refresh_token), 'latchkey-cli')).status, 400);
    }
    assert.equal((await apiJsonCall(acme.base, 'GET', '/v1/me', String(rotated.json.access_token))).status, 401);
  } finally {
    latchkey.close();
    acme.close();
  }
});

describe('LATCHKEY_SECRET_PREFIXES: ambiguity refused, sharing within API keys accepted', () => {
  const parse = (prefixes: Record<string, string>) =>
    parseConfig({ LATCHKEY_ISSUER: 'http://127.0.0.1:8787', LATCHKEY_SECRET_PREFIXES: JSON.stringify(prefixes) });

  test("latchkey's own prefixes written out are accepted as they are", () => {
    const defaults = {
      org_key_live: 'lk_live_',
      org_key_test: 'lk_test_',
      project_key_live: 'lk_live_',
      project_key_test: 'lk_test_',
      refresh_token: 'lk_rt_',
      device_code: 'lk_dc_',
      authorization_code: 'lk_ac_',
      browser_session: 'lk_ws_',
    };
    assert.deepEqual(parse(defaults).branding, parseConfig({ LATCHKEY_ISSUER: 'http://127.0.0.1:8787' }).branding);
  });

  test('one prefix for every API key (rbtk_sk_) is accepted: a presented key is one kind, its record says org or project', async () => {
    const all = {
      org_key_live: 'rbtk_sk_',
      org_key_test: 'rbtk_sk_',
      project_key_live: 'rbtk_sk_',
      project_key_test: 'rbtk_sk_',
    };
    assert.deepEqual(parse(all).branding.accepted.apiKey, ['rbtk_sk_', 'lk_live_', 'lk_test_']);
    const app = await serveApp({ LATCHKEY_SECRET_PREFIXES: JSON.stringify(all) });
    try {
      const { access } = await deviceLogin(app.base, 'latchkey-cli', 'owner@rbtk.example');
      await ok(apiJsonCall(app.base, 'POST', '/v1/orgs', access, { slug: 'rbtk' }));
      await ok(apiJsonCall(app.base, 'POST', '/v1/orgs/rbtk/projects', access, { slug: 'arm' }));
      for (const project of [undefined, 'arm']) {
        const { key } = await ok(
          apiJsonCall(app.base, 'POST', '/v1/orgs/rbtk/keys', access, { name: 'k', role: 'member', project }),
        );
        assert.match(String(key), /^rbtk_sk_[0-9A-Za-z]{36}$/);
        const me = await ok(apiJsonCall(app.base, 'GET', '/v1/me', String(key)));
        assert.equal(me.project, project ?? null);
      }
    } finally {
      app.close();
    }
  });

  test('LATCHKEY_CLIENTS cannot name latchkey-cli: the built-in would answer instead, with every grant', () => {
    const restricted = JSON.stringify([{ id: 'latchkey-cli', name: 'Restricted', grants: [DEVICE_CODE_GRANT] }]);
    for (const brand of [{}, { LATCHKEY_CLI_CLIENT_ID: 'acme-cli' }]) {
      assert.throws(
        () => parseConfig({ LATCHKEY_ISSUER: 'http://127.0.0.1:8787', LATCHKEY_CLIENTS: restricted, ...brand }),
        (error: unknown) =>
          error instanceof ConfigError && error.settings.includes('LATCHKEY_CLIENTS') && /latchkey-cli/.test(error.message),
      );
    }
  });

  test('a prefix shared across kinds, or one starting another across kinds, is still refused', () => {
    const ambiguous: Record<string, string>[] = [
      { org_key_live: 'rsk_', refresh_token: 'rsk_' },
      { project_key_live: 'rsk_', browser_session: 'rsk_ws_' },
      { org_key_live: 'rsk_', project_key_live: 'rsk_live_' },
      { device_code: 'rsd_', authorization_code: 'rsd_' },
      { org_key_test: 'lk_rt_' },
    ];
    for (const prefixes of ambiguous) {
      assert.throws(() => parse(prefixes), ConfigError, JSON.stringify(prefixes));
    }
  });
});

test('the stylesheet asked for under another accent is not kept by any cache', async () => {
  const app = await serveApp({ LATCHKEY_ACCENT: '#0f766e' });
  try {
    const current = await fetch(`${app.base}/assets/latchkey.css?v=0f766e`);
    assert.match(current.headers.get('cache-control') ?? '', /max-age=3600/);
    // An isolate still on the old accent, asked for a page's new address (or anyone guessing it
    // ahead): its answer must not sit in caches under that address for an hour.
    const other = await fetch(`${app.base}/assets/latchkey.css?v=fde047`);
    assert.equal(other.status, 200);
    assert.match(await other.text(), /--accent: #0f766e;/);
    assert.equal(other.headers.get('cache-control'), 'no-store');
  } finally {
    app.close();
  }
});
