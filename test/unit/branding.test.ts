/**
 * A deployment's brand, in process (`createApp(config, deps)` over a memory store): each
 * bad setting refused at start-up naming it; keys and refresh tokens made before a rebrand
 * still working after it (one store, two configurations); a damaged key refused with no
 * store call (the store wrapped and counted); the product name escaped on the pages; the
 * accent in the stylesheet, not inline, under the same CSP.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiKeyChecksum, isWellFormedApiKey } from '../../packages/verify/src/api-key.ts';
import { createVerifier } from '../../packages/verify/src/index.ts';
import { createApiKey } from '../../worker/accounts/api-keys.ts';
import { createApp } from '../../worker/app.ts';
import { findClient } from '../../worker/clients.ts';
import { ConfigError, parseConfig } from '../../worker/config.ts';
import { rotateRefreshToken, startFamily } from '../../worker/grants/refresh-token.ts';
import { servicesLoader } from '../../worker/services.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import type { Store } from '../../worker/store/store.ts';
import { generateSigningKey } from '../../worker/tokens/signing-keys.ts';
import { apiJsonCall, ok } from '../fixtures/api-call.ts';
import { counted } from '../fixtures/counted-store.ts';
import { startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';

const ISSUER = 'http://127.0.0.1:8787';
const source = { actor: 'ada@example.com', requestId: 'req_test' };
const ACME = {
  LATCHKEY_PRODUCT_NAME: 'Acme',
  LATCHKEY_ACCENT: '#0F766E',
  LATCHKEY_SECRET_PREFIXES: JSON.stringify({
    org_key_live: 'rsk_live_',
    org_key_test: 'rsk_test_',
    project_key_live: 'rsp_live_',
    project_key_test: 'rsp_test_',
    refresh_token: 'rsr_',
    device_code: 'rsd_',
    authorization_code: 'rsa_',
    browser_session: 'rsw_',
  }),
  LATCHKEY_CLI_CLIENT_ID: 'acme-cli',
  LATCHKEY_CLI_CLIENT_NAME: 'Acme CLI',
};

/** parseConfig's refusal: a ConfigError that names `setting`, in its list and its message. */
function refused(vars: Record<string, string>, setting: string, why?: RegExp) {
  assert.throws(
    () => parseConfig({ LATCHKEY_ISSUER: ISSUER, ...vars }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.ok(error.settings.includes(setting), `${error.settings} names ${setting}`);
      assert.match(error.message, new RegExp(setting));
      if (why) assert.match(error.message, why);
      return true;
    },
    JSON.stringify(vars),
  );
}

/** A person's sign-in as the built-in client, the session a rebrand must keep refreshing. */
const ADA_FAMILY = {
  sub: 'usr_ada',
  email: 'ada@example.com',
  clientId: 'latchkey-cli',
  scope: 'read write',
  device: { address: null, userAgent: null },
  org: null,
  deviceName: null,
  amr: ['pwd'],
  authTime: null,
  mfaAt: null,
};

test('unset, the brand is latchkey’s own', () => {
  const { branding } = parseConfig({ LATCHKEY_ISSUER: ISSUER });
  assert.equal(branding.productName, 'latchkey');
  assert.equal(branding.accent, '#2563eb');
  assert.deepEqual(branding.cliClient, { id: 'latchkey-cli', name: 'latchkey CLI' });
  assert.deepEqual(branding.accepted.apiKey, ['lk_live_', 'lk_test_']);
  assert.deepEqual(branding.accepted.refreshToken, ['lk_rt_']);
  assert.equal(branding.prefixes.device_code, 'lk_dc_');
});

test('a bad accent is refused naming LATCHKEY_ACCENT: #rrggbb only', () => {
  for (const accent of ['red', '#abc', '#12345g', '0f766e', '#0f766e;background:url(x)', '#0f766e ', 'rgb(1,2,3)']) {
    refused({ LATCHKEY_ACCENT: accent }, 'LATCHKEY_ACCENT', /#rrggbb/);
  }
  assert.equal(parseConfig({ LATCHKEY_ISSUER: ISSUER, LATCHKEY_ACCENT: '#0F766E' }).branding.accent, '#0f766e');
});

test('a product name over 40 characters, or with control characters, is refused naming LATCHKEY_PRODUCT_NAME', () => {
  refused({ LATCHKEY_PRODUCT_NAME: 'A'.repeat(41) }, 'LATCHKEY_PRODUCT_NAME', /40/);
  refused({ LATCHKEY_PRODUCT_NAME: 'Acme\nSet-Cookie: x' }, 'LATCHKEY_PRODUCT_NAME', /control/);
  refused({ LATCHKEY_PRODUCT_NAME: '   ' }, 'LATCHKEY_PRODUCT_NAME');
  assert.equal(parseConfig({ LATCHKEY_ISSUER: ISSUER, LATCHKEY_PRODUCT_NAME: 'A'.repeat(40) }).branding.productName.length, 40);
});

test('bad, unknown, duplicate and overlapping prefixes are refused naming LATCHKEY_SECRET_PREFIXES', () => {
  const prefixes = (value: unknown) => ({ LATCHKEY_SECRET_PREFIXES: JSON.stringify(value) });
  const setting = 'LATCHKEY_SECRET_PREFIXES';
  refused({ LATCHKEY_SECRET_PREFIXES: '{rsk_live_' }, setting, /not JSON/);
  refused(prefixes(['rsk_live_']), setting);
  for (const bad of ['RSK_live_', 'rsk_live', 'rs', 'r_', '_rsk_', 'rsk__live_', 'rsk-live_', 'a_very_long_prefix_', '1sk_']) {
    refused(prefixes({ org_key_live: bad }), setting);
  }
  refused(prefixes({ org_key: 'rsk_live_' }), setting); // not a kind: a typo must not fall back silently
  refused(prefixes({ org_key_live: 'rsk_live_', refresh_token: 'rsk_live_' }), setting, /both/);
  refused(prefixes({ org_key_live: 'rsk_', project_key_live: 'rsk_live_' }), setting, /ambiguous/);
  refused(prefixes({ refresh_token: 'rsk_live_', org_key_live: 'rsk_' }), setting);
  // latchkey's own prefixes stay accepted, so a new one may not start one of them or be started by one.
  refused(prefixes({ refresh_token: 'lk_' }), setting, /still accepted/);
  refused(prefixes({ org_key_live: 'lk_rt_' }), setting, /still accepted/);
  refused(prefixes({ refresh_token: 'lk_live_' }), setting, /still accepted/);
  refused(prefixes({ device_code: 'lk_rt_x_' }), setting, /still accepted/);
  // Naming latchkey's own prefix for an API-key kind is no ambiguity: API keys are one kind when presented.
  const own = parseConfig({ LATCHKEY_ISSUER: ISSUER, ...prefixes({ org_key_live: 'lk_live_' }) });
  assert.equal(own.branding.prefixes.org_key_live, 'lk_live_');
});

test('a built-in client id that is not an id, or that LATCHKEY_CLIENTS also names, is refused naming LATCHKEY_CLI_CLIENT_ID', () => {
  refused({ LATCHKEY_CLI_CLIENT_ID: 'Acme CLI' }, 'LATCHKEY_CLI_CLIENT_ID');
  refused(
    { LATCHKEY_CLI_CLIENT_ID: 'acme-cli', LATCHKEY_CLIENTS: JSON.stringify([{ id: 'acme-cli', name: 'Other' }]) },
    'LATCHKEY_CLI_CLIENT_ID',
  );
  refused({ LATCHKEY_CLI_CLIENT_NAME: 'x'.repeat(81) }, 'LATCHKEY_CLI_CLIENT_NAME');
});

test('the configured built-in client is named as configured; latchkey-cli stays known for sessions made before', () => {
  const config = parseConfig({ LATCHKEY_ISSUER: ISSUER, ...ACME });
  assert.equal(findClient(config, 'acme-cli', 'refresh_token').name, 'Acme CLI');
  assert.equal(findClient(config, 'latchkey-cli', 'refresh_token').name, 'latchkey CLI');
  const unnamed = parseConfig({ LATCHKEY_ISSUER: ISSUER, LATCHKEY_PRODUCT_NAME: 'Rensei', LATCHKEY_CLI_CLIENT_ID: 'rensei' });
  assert.equal(findClient(unnamed, 'rensei').name, 'Rensei CLI');
});

const me = (app: ReturnType<typeof createApp>, bearer: string) =>
  app.fetch(new Request(`${ISSUER}/v1/me`, { headers: { authorization: `Bearer ${bearer}` } }));

test('an lk_ key and refresh token made before a rebrand work after it; new ones carry the new prefixes', async () => {
  const store = memoryStore();
  const before = await servicesLoader(parseConfig({ LATCHKEY_ISSUER: ISSUER }), { store })();
  const { key: oldKey } = await createApiKey(
    before,
    { org: 'acme', project: null, role: 'member', name: 'old', expiresIn: 3600 },
    source,
  );
  assert.match(oldKey, /^lk_test_/);
  const old = await startFamily(before, ADA_FAMILY, source);
  assert.match(old.refreshToken, /^lk_rt_/);

  // The same store (and so the same generated hash secret and signing keys), rebranded.
  const config = parseConfig({ LATCHKEY_ISSUER: ISSUER, ...ACME });
  const app = createApp(config, { store });
  const answer = await me(app, oldKey);
  assert.equal(answer.status, 200, await answer.clone().text());
  assert.equal(((await answer.json()) as { kind: string }).kind, 'api_key');

  const after = await servicesLoader(config, { store })();
  const rotated = await rotateRefreshToken(after, old.refreshToken, { clientId: 'latchkey-cli', scope: undefined }, source);
  assert.match(rotated.refreshToken, /^rsr_/, 'a rotation after the rebrand issues the new prefix');
  const again = await rotateRefreshToken(after, rotated.refreshToken, { clientId: 'latchkey-cli', scope: undefined }, source);
  assert.match(again.refreshToken, /^rsr_/);

  const orgKey = await createApiKey(after, { org: 'acme', project: null, role: 'member', name: 'n', expiresIn: 60 }, source);
  const projectKey = await createApiKey(after, { org: 'acme', project: 'web', role: 'member', name: 'p', expiresIn: 60 }, source);
  assert.match(orgKey.key, /^rsk_test_[0-9A-Za-z]{36}$/, 'a loopback issuer makes test keys');
  assert.match(projectKey.key, /^rsp_test_[0-9A-Za-z]{36}$/);
  for (const key of [orgKey.key, projectKey.key]) assert.equal((await me(app, key)).status, 200);
  const fresh = await startFamily(after, { ...ADA_FAMILY, clientId: 'acme-cli' }, source);
  assert.match(fresh.refreshToken, /^rsr_/);

  // Rolled back to latchkey's brand, the rebranded deployment's secrets are unknown prefixes there.
  const unbranded = createApp(parseConfig({ LATCHKEY_ISSUER: ISSUER }), { store });
  assert.equal((await me(unbranded, orgKey.key)).status, 401);
});

test('a public deployment issues rsk_live_ org keys and rsp_live_ project keys, each with a working checksum', async () => {
  const config = parseConfig({
    LATCHKEY_ISSUER: 'https://auth.acme.example',
    LATCHKEY_SIGNING_KEYS: JSON.stringify([await generateSigningKey()]),
    LATCHKEY_HASH_SECRET: 'h'.repeat(32),
    LATCHKEY_IDENTITY: 'oidc',
    LATCHKEY_OIDC_ISSUER: 'https://idp.acme.example',
    LATCHKEY_OIDC_CLIENT_ID: 'latchkey',
    ...ACME,
  });
  const services = await servicesLoader(config, { store: memoryStore() })();
  const org = await createApiKey(services, { org: 'acme', project: null, role: 'admin', name: 'o', expiresIn: 60 }, source);
  const project = await createApiKey(services, { org: 'acme', project: 'web', role: 'member', name: 'p', expiresIn: 60 }, source);
  assert.match(org.key, /^rsk_live_[0-9A-Za-z]{36}$/);
  assert.match(project.key, /^rsp_live_[0-9A-Za-z]{36}$/);
  // The verifier package reads them, given the deployment's prefixes (lk_ kept for older keys).
  const prefixes = config.branding.accepted.apiKey;
  assert.ok(isWellFormedApiKey(org.key, prefixes) && isWellFormedApiKey(project.key, prefixes));
  assert.equal(isWellFormedApiKey(org.key.replace('rsk_live_', 'rsp_live_'), prefixes), false, 'the prefix is in the checksum');
  assert.equal(isWellFormedApiKey(org.key), false, 'latchkey’s defaults alone do not read a branded key');
});

test('a branded key with one character changed is refused 401 with no store call at all', async () => {
  const { store, calls } = counted(memoryStore());
  const config = parseConfig({ LATCHKEY_ISSUER: ISSUER, ...ACME });
  const services = await servicesLoader(config, { store })();
  const { key } = await createApiKey(services, { org: 'acme', project: null, role: 'member', name: 'k', expiresIn: 60 }, source);
  const app = createApp(config, { store });
  assert.equal((await me(app, key)).status, 200); // warm: the app's services are resolved
  for (const at of [9, 20, key.length - 1]) {
    const damaged = key.slice(0, at) + (key[at] === 'a' ? 'b' : 'a') + key.slice(at + 1);
    calls.length = 0;
    const answer = await me(app, damaged);
    assert.equal(answer.status, 401);
    assert.match(answer.headers.get('www-authenticate') ?? '', /invalid_token/);
    assert.deepEqual(calls, [], `position ${at}: no store call`);
  }
  // A verifier configured with the deployment's prefixes refuses it too, without asking the server.
  let asked = 0;
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: ISSUER,
    apiKeyPrefixes: config.branding.accepted.apiKey,
    fetch: async () => {
      asked++;
      return new Response('{}', { status: 500 });
    },
  });
  // The last character changed (to one it is not: a key ending in x stayed whole, 1 run in 62).
  const changed = `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`;
  await assert.rejects(verifier.verify(`Bearer ${changed}`), { code: 'malformed_token' });
  assert.equal(asked, 0);
});

test('a verifier given prefixes where one starts another still reads each key', () => {
  // A key under `rsk_live_`, checked against a list that also holds the shorter `rsk_` first.
  const body = `rsk_live_${'A'.repeat(30)}`;
  const key = body + apiKeyChecksum(body);
  assert.ok(isWellFormedApiKey(key, ['rsk_live_']));
  assert.ok(isWellFormedApiKey(key, ['rsk_', 'rsk_live_']));
});

/** The pages of an in-process app, as a loopback browser asks for them. */
function pages(vars: Record<string, string>) {
  const app = createApp(parseConfig({ LATCHKEY_ISSUER: ISSUER, ...vars }), {
    store: memoryStore(),
    clientAddress: () => '127.0.0.1',
  });
  return async (path: string) => {
    const response = await app.fetch(new Request(`${ISSUER}${path}`));
    return { status: response.status, headers: response.headers, text: await response.text() };
  };
}

test('the product name is text on every page: <script> in it is escaped, in the title and the wordmark', async () => {
  const get = pages({ LATCHKEY_PRODUCT_NAME: '<script>alert(1)</script>' });
  for (const path of ['/device', '/console', '/device?user_code=BCDF-GHJK', '/console/nowhere']) {
    const page = await get(path);
    assert.ok(!page.text.includes('<script>alert'), `${path}: ${page.text.slice(0, 300)}`);
    assert.match(page.text, /<title>[^<]* · &lt;script&gt;alert\(1\)&lt;\/script&gt;<\/title>/, path);
    assert.match(page.text, /class="brand">&lt;script&gt;alert\(1\)&lt;\/script&gt;</, path);
  }
});

test('the accent is in the stylesheet (made once), never inline; the CSP is unchanged', async () => {
  const get = pages({ LATCHKEY_PRODUCT_NAME: 'Acme', LATCHKEY_ACCENT: '#FDE047' });
  const page = await get('/device');
  assert.equal(page.status, 200);
  // The stylesheet's address is a route, the same on every deployment; nothing else says latchkey.
  const shown = page.text.replace(/<link rel="stylesheet" href="[^"]+">/, '');
  assert.ok(!/latchkey/i.test(shown), `no "latchkey" on the page:\n${shown}`);
  assert.match(page.text, /<title>Sign in · Acme<\/title>/);
  assert.ok(!/style[=>]/.test(page.text), 'no inline style');
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /style-src 'self';/);
  assert.ok(!csp.includes('unsafe-inline'));
  const href = /<link rel="stylesheet" href="([^"]+)">/.exec(page.text)?.[1] ?? '';
  assert.equal(href, '/assets/latchkey.css?v=fde047', 'the accent busts a cached stylesheet');
  const css = await get(href);
  assert.match(css.text, /--accent: #fde047;/);
  assert.match(css.text, /--on-accent: #111827;/, 'dark text on a light accent');
  // Text never in a colour it cannot be read in: the wordmark and current tab in the page's text colour.
  assert.match(css.text, /--accent-text: CanvasText;/);
  for (const rule of ['.brand', 'nav.top a[aria-current=page]', 'nav.tabs a[aria-current=page]']) {
    const body = css.text.split('\n').find((line) => line.startsWith(`${rule} {`)) ?? '';
    assert.match(body, /[{;] color: var\(--accent-text\)/, rule);
  }
  assert.equal((await get(href)).text, css.text);

  const plain = await pages({})('/assets/latchkey.css');
  assert.match(
    plain.text,
    /--accent: #2563eb; --on-accent: #fff; --accent-text: #2563eb;/,
    'latchkey’s blue: white button text, blue wordmark',
  );
});

/** A browser against in-process apps: keeps cookies across them, as one browser across a redeploy. */
function browserOf() {
  const cookies = new Map<string, string>();
  return async (app: ReturnType<typeof createApp>, path: string, form?: Record<string, string>) => {
    const response = await app.fetch(
      new Request(`${ISSUER}${path}`, {
        method: form ? 'POST' : 'GET',
        headers: {
          cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(form ? { body: new URLSearchParams(form) } : {}),
      }),
    );
    for (const line of response.headers.getSetCookie()) {
      const [name, ...value] = (line.split(';')[0] ?? '').split('=');
      if (name) cookies.set(name.trim(), value.join('='));
    }
    return { status: response.status, text: await response.text(), cookies };
  };
}

test('a browser signed in before a rebrand stays signed in after it; one signed in after gets the new prefix', async () => {
  const store = memoryStore();
  const deps = { store, clientAddress: () => '127.0.0.1' };
  const latchkey = createApp(parseConfig({ LATCHKEY_ISSUER: ISSUER }), deps);
  const acme = createApp(parseConfig({ LATCHKEY_ISSUER: ISSUER, ...ACME }), deps);
  const field = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';

  for (const [signedInAt, prefix] of [
    [latchkey, /^lk_ws_/],
    [acme, /^rsw_/],
  ] as const) {
    const browse = browserOf();
    const form = await browse(signedInAt, '/device');
    const signedIn = await browse(signedInAt, '/signin', {
      csrf: field(form.text, 'csrf'),
      return_to: '/device',
      email: 'ada@example.com',
    });
    assert.equal(signedIn.status, 303, signedIn.text);
    assert.match(signedIn.cookies.get('lk_session') ?? '', prefix);
    const after = await browse(acme, '/device');
    assert.match(after.text, /<title>Connect a device · Acme<\/title>/, 'still signed in, on Acme’s pages');
  }
});

test('a refresh retried within the grace window across a rebrand gets the successor that was stored', async () => {
  const store = memoryStore();
  const before = await servicesLoader(parseConfig({ LATCHKEY_ISSUER: ISSUER }), { store })();
  const after = await servicesLoader(parseConfig({ LATCHKEY_ISSUER: ISSUER, ...ACME }), { store })();
  const request = { clientId: 'latchkey-cli', scope: undefined };
  const { refreshToken } = await startFamily(before, ADA_FAMILY, source);
  const rotated = await rotateRefreshToken(before, refreshToken, request, source); // its answer lost in the deploy
  const retried = await rotateRefreshToken(after, refreshToken, request, source);
  assert.equal(retried.refreshToken, rotated.refreshToken, 'the lk_rt_ successor the old deployment stored');
  assert.match((await rotateRefreshToken(after, retried.refreshToken, request, source)).refreshToken, /^rsr_/);

  // Within one branded deployment a retry gets its rsr_ successor back as before.
  const branded = await startFamily(after, ADA_FAMILY, source);
  const first = await rotateRefreshToken(after, branded.refreshToken, request, source);
  assert.equal((await rotateRefreshToken(after, branded.refreshToken, request, source)).refreshToken, first.refreshToken);
  assert.match((await rotateRefreshToken(after, first.refreshToken, request, source)).refreshToken, /^rsr_/);
});

test('@latchkey/verify given the deployment’s per-kind prefixes accepts its org and project keys; without them, refuses with no call', async () => {
  const app = await startInProcess(ACME);
  try {
    const owner = (await deviceLogin(app.base, 'owner@acme.example')).access_token;
    await ok(apiJsonCall(app.base, 'POST', '/v1/orgs', owner, { slug: 'acme' }));
    await ok(apiJsonCall(app.base, 'POST', '/v1/orgs/acme/projects', owner, { slug: 'web' }));
    const make = async (body: Record<string, unknown>) =>
      String((await ok(apiJsonCall(app.base, 'POST', '/v1/orgs/acme/keys', owner, { name: 'k', ...body }))).key);
    const orgKey = await make({ role: 'admin' });
    const projectKey = await make({ role: 'member', project: 'web' });
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const options = { issuer: app.base, audience: app.base, fetch: counting, now: app.now };
    const branded = createVerifier({ ...options, apiKeyPrefixes: ['rsk_test_', 'rsp_test_', 'lk_live_', 'lk_test_'] });
    const org = await branded.verify(`Bearer ${orgKey}`);
    const project = await branded.verify(`Bearer ${projectKey}`);
    assert.deepEqual([org.kind, org.org, org.project, org.role], ['api_key', 'acme', null, 'admin']);
    assert.deepEqual([project.kind, project.org, project.project], ['api_key', 'acme', 'web']);
    assert.equal(calls, 2);
    await assert.rejects(createVerifier(options).verify(`Bearer ${orgKey}`), { code: 'malformed_token' });
    assert.equal(calls, 2, 'a verifier that does not know the prefix asks nobody');
  } finally {
    app.close();
  }
});
