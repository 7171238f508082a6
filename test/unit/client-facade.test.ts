/**
 * @latchkey/client's facade as a product CLI ("acme") uses it, against the in-process
 * latchkey over HTTP with a stepping clock: device login with its events (approved by a
 * person over HTTP), ACME_TOKEN over the stored token, a refresh under the lock (two
 * concurrent token() calls refresh once), status, logout, contexts, files in acme's own
 * config dir, and a hostile server refused the way the CLI refuses it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLatchkey, LatchkeyError, type LatchkeyOptions } from '../../packages/client/src/index.ts';
import { GITLAB, myProjectPolicy } from '../fixtures/ci-claims.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { type HostileServer, serverMetadata, startHostileServer } from '../fixtures/hostile-server.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';

const PASSPHRASE = 'acme test passphrase 7';
const tempDir = () => mkdtemp(join(tmpdir(), 'latchkey-client-facade-'));

let app: InProcess;
before(async () => {
  app = await startInProcess({
    LATCHKEY_CLIENTS: JSON.stringify([{ id: 'acme-cli', name: 'Acme CLI' }]),
    LATCHKEY_DEVICE_POLL_INTERVAL: '1s',
  });
});
after(() => app.close());

/** Fetch that counts the refresh-token grants it carries. */
function countingFetch() {
  const counted = { refreshes: 0 };
  const fetcher: typeof fetch = (input, init) => {
    if (String(init?.body ?? '').includes('grant_type=refresh_token')) counted.refreshes++;
    return fetch(input, init);
  };
  return { counted, fetcher };
}

/** acme as its CLI would make it, over `environment`, on the in-process server's clock. */
function acmeOver(environment: Record<string, string | undefined>, extra: Partial<LatchkeyOptions> = {}) {
  return createLatchkey({
    appName: 'acme',
    server: app.base,
    clientId: 'acme-cli',
    loginCommand: 'acme auth login',
    environment,
    now: app.now,
    ...extra,
  });
}

type Code = { userCode: string; verificationUri: string; verificationUriComplete: string | null; expiresAt: number };

/** The person's approval in flight over HTTP; the poll loop's sleep waits for it. */
let approval: Promise<unknown> | undefined;

/** Sleep that waits for nothing real: after any approval in flight, it steps the server's (and acme's) clock. */
const steppingSleep = async (ms: number) => {
  await approval;
  app.step(ms);
};

/** Device login through the facade, the code approved by `email` over HTTP; the events recorded. */
async function deviceLogin(acme: ReturnType<typeof createLatchkey>, email: string, context?: string) {
  const codes: Code[] = [];
  const ticks: number[] = [];
  const result = await acme.login({
    ...(context ? { context } : {}),
    onDeviceCode: (code) => {
      codes.push(code);
      approval = new FormBrowser(app.base).decide(code.userCode, 'approve', email);
    },
    onTick: (seconds) => ticks.push(seconds),
  });
  return { result, codes, ticks };
}

describe('@latchkey/client facade against the in-process latchkey', () => {
  test('device login: events (code, URIs on the server, countdown), approval over HTTP, files in ACME_CONFIG_DIR only', async () => {
    const home = await tempDir();
    const dir = join(home, 'acme-config');
    const env = { HOME: home, ACME_CONFIG_DIR: dir, ACME_SECRET_PASSPHRASE: PASSPHRASE };
    const acme = acmeOver(env, { sleep: steppingSleep });
    const { result, codes, ticks } = await deviceLogin(acme, 'ada@example.com');

    assert.equal(result.context, 'default');
    assert.equal(result.server, app.base);
    assert.equal(result.user.email, 'ada@example.com');
    assert.equal(result.user.client_id, 'acme-cli');
    assert.equal(codes.length, 1);
    const [code] = codes;
    assert.match(code?.userCode ?? '', /^[A-Z]{4}-[A-Z]{4}$/);
    assert.ok(code?.verificationUri.startsWith(`${app.base}/`));
    assert.ok(code?.verificationUriComplete?.startsWith(`${app.base}/device?user_code=`));
    assert.equal(code?.expiresAt, app.now() - ticks.length * 1000 + 600_000);
    // The countdown starts at the code's lifetime and counts down a second per tick.
    assert.equal(ticks[0], 600);
    assert.deepEqual(
      ticks,
      ticks.map((_, index) => 600 - index),
    );

    // Files where acme keeps them, and nothing of latchkey's.
    assert.equal(acme.configDir, dir);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.equal(config.current, 'default');
    assert.equal(config.contexts.default.clientId, 'acme-cli');
    assert.equal(config.contexts.default.secretStore, 'encrypted-file');
    assert.match(config.contexts.default.secretStoreReason, /ACME_SECRET_PASSPHRASE is set/);
    assert.deepEqual(await readdir(join(dir, 'secrets')), ['default.enc']);
    assert.ok(!existsSync(join(home, '.config')), 'nothing under ~/.config');
  });

  test('XDG_CONFIG_HOME/acme, not …/latchkey; LATCHKEY_TOKEN is not acme’s variable, ACME_TOKEN is and wins', async () => {
    const home = await tempDir();
    const xdg = join(home, 'xdg');
    const env = { HOME: home, XDG_CONFIG_HOME: xdg, ACME_SECRET_PASSPHRASE: PASSPHRASE, LATCHKEY_TOKEN: 'latchkeys-own-token' };
    const acme = acmeOver(env, { sleep: steppingSleep });
    await deviceLogin(acme, 'bea@example.com');
    assert.equal(acme.configDir, join(xdg, 'acme'));
    assert.ok(existsSync(join(xdg, 'acme', 'config.json')));
    assert.ok(existsSync(join(xdg, 'acme', 'secrets', 'default.enc')));
    assert.ok(!existsSync(join(xdg, 'latchkey')));

    // LATCHKEY_TOKEN means nothing to acme: the stored token, which the server takes.
    const stored = await acme.token();
    assert.notEqual(stored, 'latchkeys-own-token');
    const status = await acme.status();
    assert.equal(status.source, 'stored');
    assert.equal(status.context, 'default');
    assert.equal(status.user.email, 'bea@example.com');

    // ACME_TOKEN goes first, over the stored login.
    const withEnv = acmeOver({ ...env, ACME_TOKEN: stored });
    assert.equal(await withEnv.token(), stored);
    assert.equal((await withEnv.status()).source, 'env');
    assert.equal(await acmeOver({ ...env, ACME_TOKEN: 'from-acme-token' }).token(), 'from-acme-token');
  });

  test('token() refreshes a token about to expire (stepped clock); two concurrent calls refresh once (the lock)', async () => {
    const home = await tempDir();
    const env = { HOME: home, ACME_CONFIG_DIR: join(home, 'acme'), ACME_SECRET_PASSPHRASE: PASSPHRASE };
    const { counted, fetcher } = countingFetch();
    const acme = acmeOver(env, { sleep: steppingSleep, fetch: fetcher });
    await deviceLogin(acme, 'cy@example.com');
    const first = await acme.token();
    assert.equal(await acme.token(), first, 'a fresh token is not refreshed');
    assert.equal(counted.refreshes, 0);

    // 15 minutes of access token; 30 s before the end it is inside the one-minute margin.
    app.step(15 * 60_000 - 30_000);
    const [a, b] = await Promise.all([acme.token(), acme.token()]);
    assert.equal(counted.refreshes, 1, 'one refresh for two concurrent calls');
    assert.equal(a, b);
    assert.notEqual(a, first);
    assert.equal((await acme.status()).user.email, 'cy@example.com', 'the refreshed token is taken');
    assert.equal(await acme.token(), a);
    assert.equal(counted.refreshes, 1);
  });

  test('contexts list/use/remove; logout revokes at the server and forgets; messages name acme auth login, never latchkey', async () => {
    const home = await tempDir();
    const env = { HOME: home, ACME_CONFIG_DIR: join(home, 'acme'), ACME_SECRET_PASSPHRASE: PASSPHRASE };
    const acme = acmeOver(env, { sleep: steppingSleep });
    await deviceLogin(acme, 'di@example.com');
    await deviceLogin(acme, 'di@example.com', 'work');
    assert.deepEqual(
      (await acme.contexts.list()).map(({ name, current, server }) => ({ name, current, server })),
      [
        { name: 'default', current: false, server: app.base },
        { name: 'work', current: true, server: app.base },
      ],
    );
    await acme.contexts.use('default');
    assert.equal((await acme.status()).context, 'default');
    const unknown = await acme.contexts.use('nope').catch((error: unknown) => error);
    assert.ok(unknown instanceof LatchkeyError && unknown.code === 'not_logged_in');
    assert.match(unknown.message, /acme auth login --name nope/);

    await acme.contexts.remove('work');
    assert.deepEqual(
      (await acme.contexts.list()).map(({ name }) => name),
      ['default'],
    );
    assert.ok(!existsSync(join(home, 'acme', 'secrets', 'work.enc')));

    // A stored credential goes only to its own server, and the refusal speaks acme.
    const mismatch = await acmeOver({ ...env, ACME_SERVER: 'http://127.0.0.1:9' })
      .token()
      .catch((error: unknown) => error);
    assert.ok(mismatch instanceof LatchkeyError && mismatch.code === 'server_mismatch');
    assert.match(mismatch.message, /acme auth login --server http:\/\/127\.0\.0\.1:9/);
    assert.match(mismatch.message, /ACME_TOKEN/);
    assert.doesNotMatch(mismatch.message, /latchkey|LATCHKEY/i);

    const token = await acme.token();
    const out = await acme.logout();
    assert.deepEqual(out, { context: 'default', revoked: true, warning: null });
    // Revoked at the server: the token is refused there.
    const me = await fetch(`${app.base}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 401);
    assert.deepEqual(await acme.contexts.list(), []);
    assert.deepEqual(await readdir(join(home, 'acme', 'secrets')), []);

    const error = await acme.token().catch((caught: unknown) => caught);
    assert.ok(error instanceof LatchkeyError);
    assert.equal(error.code, 'not_logged_in');
    assert.match(error.message, /acme auth login/);
    assert.doesNotMatch(error.message, /latchkey/i);
  });

  test('browser login: openBrowser gets the authorize URL; the loopback answer page is acme’s; events in order', async () => {
    const home = await tempDir();
    const env = { HOME: home, ACME_CONFIG_DIR: join(home, 'acme'), ACME_SECRET_PASSPHRASE: PASSPHRASE };
    const acme = acmeOver(env);
    const events: string[] = [];
    let person: Promise<{ status: number; html: string }> | undefined;
    const result = await acme.login({
      openBrowser: async (url) => {
        events.push('openBrowser');
        // The person's browser: sign in, approve, and follow the redirect to the loopback port.
        person = (async () => {
          const browser = new FormBrowser(app.base);
          const signInPage = await browser.request(url);
          const signedIn = await browser.submitSignIn(signInPage.html, 'eve@example.com');
          const consent = await browser.request(signedIn.headers.get('location') ?? '');
          const answered = await browser.request('/oauth/authorize/decision', {
            csrf: FormBrowser.field(consent.html, 'csrf'),
            request: FormBrowser.field(consent.html, 'request'),
            decision: 'approve',
          });
          return browser.request(answered.headers.get('location') ?? '');
        })();
        const authorize = new URL(url);
        assert.equal(authorize.origin, app.base);
        assert.equal(authorize.searchParams.get('client_id'), 'acme-cli');
        assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
        assert.match(authorize.searchParams.get('redirect_uri') ?? '', /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
        return true;
      },
      onBrowserEvent: (event) => events.push(event.type),
      onDeviceCode: () => assert.fail('no device code when the browser opened'),
    });
    const page = await person;
    assert.deepEqual(events, ['openBrowser', 'opened', 'waiting']);
    assert.equal(result.user.email, 'eve@example.com');
    assert.equal(result.user.client_id, 'acme-cli');
    assert.equal(page?.status, 200);
    assert.match(page?.html ?? '', /<title>Signed in · acme<\/title>/);
    assert.match(page?.html ?? '', /<p class="brand">acme<\/p>/);
    assert.doesNotMatch(page?.html ?? '', /latchkey/);
    assert.equal((await acme.status()).user.email, 'eve@example.com');
  });

  test('a browser that does not open falls back to the device flow, saying why', async () => {
    const home = await tempDir();
    const env = { HOME: home, ACME_CONFIG_DIR: join(home, 'acme'), ACME_SECRET_PASSPHRASE: PASSPHRASE };
    const acme = acmeOver(env, { sleep: steppingSleep });
    const fallbacks: (string | null)[] = [];
    const result = await acme.login({
      openBrowser: async () => 'no display',
      onFallback: (reason) => fallbacks.push(reason),
      onDeviceCode: (code) => {
        approval = new FormBrowser(app.base).decide(code.userCode, 'approve', 'fay@example.com');
      },
    });
    assert.deepEqual(fallbacks, ['no display']);
    assert.equal(result.user.email, 'fay@example.com');
  });

  test('a keychain that answers the probe but is locked at the write fails closed: no fallback to a file, nothing kept', async () => {
    const home = await tempDir();
    const dir = join(home, 'acme');
    const acme = acmeOver(
      { HOME: home, ACME_CONFIG_DIR: dir, ACME_SECRET_PASSPHRASE: PASSPHRASE },
      {
        sleep: steppingSleep,
        keychain: {
          probe: async () => ({ available: true }),
          fileKey: async () => {
            throw new LatchkeyError('keychain_locked', 'the keychain is locked or waiting for a prompt; unlock it and retry');
          },
        },
      },
    );
    const error = await deviceLogin(acme, 'gus@example.com').catch((caught: unknown) => caught);
    assert.ok(error instanceof LatchkeyError);
    assert.equal(error.code, 'keychain_locked');
    assert.ok(!existsSync(join(dir, 'config.json')));
    assert.ok(!existsSync(join(dir, 'secrets', 'default.enc')), 'not sealed with the passphrase instead');
  });

  test('a login cancelled through its signal while waiting keeps nothing', async () => {
    const home = await tempDir();
    const dir = join(home, 'acme');
    const acme = acmeOver({ HOME: home, ACME_CONFIG_DIR: dir, ACME_SECRET_PASSPHRASE: PASSPHRASE });
    const controller = new AbortController();
    const error = await acme
      .login({ signal: controller.signal, onDeviceCode: () => controller.abort() })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof LatchkeyError);
    assert.equal(error.code, 'cancelled');
    assert.ok(!existsSync(join(dir, 'config.json')));
    assert.ok(!existsSync(join(dir, 'secrets', 'default.enc')));
  });

  test('a login with no safe place for the token is refused before any sign-in, in acme’s words', async () => {
    const home = await tempDir();
    const acme = acmeOver({ HOME: home, ACME_CONFIG_DIR: join(home, 'acme') });
    const error = await acme
      .login({ onDeviceCode: () => assert.fail('no code is asked for') })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof LatchkeyError);
    assert.equal(error.code, 'secret_store_unavailable');
    assert.match(error.message, /ACME_SECRET_PASSPHRASE/);
    assert.match(error.message, /ACME_TOKEN/);
    assert.doesNotMatch(error.message, /LATCHKEY/);
  });
});

describe('@latchkey/client facade against a hostile server', () => {
  let hostile: HostileServer;
  before(async () => {
    hostile = await startHostileServer();
  });
  after(() => hostile.stop());

  const deviceAnswer = (overrides: Record<string, unknown> = {}) => ({
    json: {
      device_code: 'dev_code',
      user_code: 'ABCD-EFGH',
      verification_uri: `${hostile.url}/device`,
      verification_uri_complete: `${hostile.url}/device?user_code=ABCD-EFGH`,
      expires_in: 600,
      interval: 1,
      ...overrides,
    },
  });

  async function hostileLogin() {
    const home = await tempDir();
    const dir = join(home, 'acme');
    const shown: unknown[] = [];
    const acme = createLatchkey({
      appName: 'acme',
      server: hostile.url,
      loginCommand: 'acme auth login',
      environment: { HOME: home, ACME_CONFIG_DIR: dir, ACME_SECRET_PASSPHRASE: PASSPHRASE },
      sleep: async () => {},
    });
    const error = await acme.login({ onDeviceCode: (code) => shown.push(code) }).catch((caught: unknown) => caught);
    assert.ok(error instanceof LatchkeyError, `a LatchkeyError, not ${String(error)}`);
    return { error, shown, dir };
  }

  test('a verification URI that is not http(s) is neither shown nor kept', async () => {
    hostile.route('GET /.well-known/oauth-authorization-server', { json: serverMetadata(hostile.url) });
    hostile.route('POST /oauth/device_authorization', deviceAnswer({ verification_uri_complete: 'javascript:alert(1)' }));
    const { error, shown, dir } = await hostileLogin();
    assert.equal(error.code, 'server_error');
    assert.match(error.message, /points to javascript:, not to an http\(s\) page of/);
    assert.doesNotMatch(error.message, /alert/);
    assert.match(error.message, /acme neither opens nor shows it/);
    assert.deepEqual(shown, []);
    assert.ok(!existsSync(join(dir, 'config.json')));
  });

  test('a token holding a line break is never sent on nor stored', async () => {
    hostile.route('POST /oauth/device_authorization', deviceAnswer());
    hostile.route('POST /oauth/token', {
      json: { access_token: 'zq7\nX-Injected: 1', token_type: 'Bearer', expires_in: 900, refresh_token: 'rt_1', scope: 'read' },
    });
    const before = hostile.requests.length;
    const { error, shown, dir } = await hostileLogin();
    assert.equal(error.code, 'invalid_credential');
    assert.doesNotMatch(error.message, /zq7|Injected/);
    assert.equal(shown.length, 1);
    assert.ok(!hostile.requests.slice(before).some((request) => request.path === '/v1/me'), 'the token was not sent');
    assert.ok(!existsSync(join(dir, 'config.json')));
    assert.ok(!existsSync(join(dir, 'secrets', 'default.enc')));
  });

  test('an answer over 4 MiB is refused without reading it all', async () => {
    hostile.route('POST /oauth/device_authorization', { json: { padding: 'x'.repeat(5 * 1024 * 1024) } });
    const { error, shown } = await hostileLogin();
    assert.equal(error.code, 'server_error');
    assert.match(error.message, /answered with more than 4194304 bytes/);
    assert.deepEqual(shown, []);
  });
});

describe('@latchkey/client facade: the CI exchange', () => {
  const AUDIENCE = 'https://latchkey.test';
  let gitlab: FakeCiIssuer;
  let ci: InProcess;
  before(async () => {
    gitlab = await startFakeCiIssuer();
    // The fake issuer signs on the real clock, so this server's starts there too.
    ci = await startInProcess(
      {
        LATCHKEY_CI_ISSUERS: `${gitlab.issuer}=namespace_id`,
        LATCHKEY_CI_POLICIES: JSON.stringify([
          myProjectPolicy(gitlab.issuer, AUDIENCE, {
            id: 'gitlab-main',
            ref_protected: true,
            grant: { project: 'web', scopes: ['read'] },
          }),
        ]),
      },
      Date.now(),
    );
  });
  after(async () => {
    ci?.close();
    await gitlab?.stop();
  });

  test('GitLab: the ID token from ACME_ID_TOKEN (not LATCHKEY_ID_TOKEN), both tokens handed to onSecret first, nothing stored', async () => {
    const home = await tempDir();
    const idToken = await gitlab.sign(GITLAB.protectedBranch);
    const acme = createLatchkey({
      appName: 'acme',
      environment: {
        HOME: home,
        ACME_CONFIG_DIR: join(home, 'acme'),
        ACME_SERVER: ci.base,
        GITLAB_CI: 'true',
        ACME_ID_TOKEN: idToken,
        LATCHKEY_ID_TOKEN: 'not.acmes.token',
      },
    });
    const secrets: string[] = [];
    const result = await acme.exchangeCi({ project: 'web', onSecret: (secret) => secrets.push(secret) });
    assert.equal(result.source, 'gitlab');
    assert.equal(result.server, ci.base);
    assert.deepEqual(secrets, [idToken, result.access_token]);
    const me = await fetch(`${ci.base}/v1/me`, { headers: { authorization: `Bearer ${result.access_token}` } });
    const who = (await me.json()) as Record<string, unknown>;
    assert.deepEqual([who.kind, who.project, who.scope], ['ci', 'web', 'read']);
    assert.ok(!existsSync(join(home, 'acme')), 'nothing written');

    // An ID token handed in goes first; one that is not a JWT is refused before anything is sent.
    const given = await acme.exchangeCi({ project: 'web', idToken: await gitlab.sign(GITLAB.protectedBranch) });
    assert.equal(given.source, 'stdin');
    const refused = await acme.exchangeCi({ idToken: 'not a jwt' }).catch((caught: unknown) => caught);
    assert.ok(refused instanceof LatchkeyError && refused.code === 'usage');
  });
});
