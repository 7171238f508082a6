/**
 * @latchkey/client attacked through its facade, the way a product CLI (acme) would meet the
 * attacks: a server that redirects the token endpoint elsewhere, puts terminal escapes in
 * what the caller's UI shows, a JS caller passing no app name or colliding variables,
 * context names that are Object.prototype's keys, a config dir that cannot be written, and
 * several real processes refreshing one session at once against a server that ends a
 * session whose refresh token is used twice.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
// The package's HTTP client is an internal (its factory is not exported); its type is not part of the surface either.
// @ts-expect-error LatchkeyClient is not exported
import type { LatchkeyClient } from '../../packages/client/src/index.ts';
import { createLatchkey, LatchkeyError, type LatchkeyOptions, printable } from '../../packages/client/src/index.ts';
import { meAnswer, serverMetadata } from '../fixtures/hostile-server.ts';

type _Internal = LatchkeyClient;

const PASSPHRASE = 'acme attack passphrase 9';
const tempDir = () => mkdtemp(join(tmpdir(), 'latchkey-client-attacks-'));
/** Anything a terminal would obey: C0 (tab and newline too), DEL, C1, bidi controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** RFC 8628's device authorization answer from `base`, a code approved by nobody yet. */
const deviceAnswer = (base: string, overrides: Record<string, unknown> = {}) => ({
  device_code: 'dc_1',
  user_code: 'WDJB-MJHT',
  verification_uri: `${base}/device`,
  verification_uri_complete: `${base}/device?user_code=WDJB-MJHT`,
  expires_in: 600,
  interval: 1,
  ...overrides,
});

type Handler = (request: IncomingMessage, body: URLSearchParams, response: ServerResponse) => unknown;

/** A loopback HTTP server whose answers the test writes, counting what it was sent. */
async function startServer(handler: Handler) {
  const seen: { path: string; body: string }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ path: new URL(request.url ?? '/', 'http://x').pathname, body });
      void handler(request, new URLSearchParams(body), response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json = (response: ServerResponse, value: unknown, status = 200): void =>
  void response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));

/**
 * A latchkey-like server: device authorization approved at once, access tokens that
 * expire in 30 s (inside token()'s one-minute margin, so the next token() refreshes),
 * refresh tokens rotated with reuse detection (a used one refused: invalid_grant), and
 * `refresh` deciding how a refresh is answered.
 */
async function startIssuer(options: { refresh?: Handler; refreshDelayMs?: number } = {}) {
  let serial = 0;
  const live = new Set<string>();
  const counted = { refreshes: 0, reused: 0 };
  const issue = (response: ServerResponse, expiresIn: number) => {
    serial++;
    const refresh = `rt_${serial}`;
    live.add(refresh);
    json(response, {
      access_token: `at_${serial}`,
      token_type: 'Bearer',
      expires_in: expiresIn,
      refresh_token: refresh,
      scope: 'read',
    });
  };
  const issuer = await startServer(async (request, body, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    if (path === '/.well-known/oauth-authorization-server') return json(response, serverMetadata(issuer.url));
    if (path === '/oauth/device_authorization') {
      return json(response, deviceAnswer(issuer.url));
    }
    if (path === '/v1/me') return json(response, meAnswer('cy@example.com'));
    if (path === '/oauth/revoke') return json(response, {});
    if (path === '/oauth/token' && body.get('grant_type') === 'urn:ietf:params:oauth:grant-type:device_code') {
      return issue(response, 30);
    }
    if (path === '/oauth/token' && body.get('grant_type') === 'refresh_token') {
      counted.refreshes++;
      if (options.refresh) return options.refresh(request, body, response);
      await new Promise((resolve) => setTimeout(resolve, options.refreshDelayMs ?? 0));
      const presented = body.get('refresh_token') ?? '';
      if (!live.delete(presented)) {
        counted.reused++;
        return json(response, { error: 'invalid_grant', error_description: 'refresh token reused; session ended' }, 400);
      }
      return issue(response, 900);
    }
    json(response, { error: 'not_found', error_description: 'nothing here' }, 404);
  });
  return { ...issuer, counted };
}

async function acmeLoggedIn(server: string, extra: Partial<LatchkeyOptions> = {}) {
  const home = await tempDir();
  const environment = { HOME: home, ACME_CONFIG_DIR: join(home, 'acme'), ACME_SECRET_PASSPHRASE: PASSPHRASE };
  const acme = createLatchkey({
    appName: 'acme',
    server,
    clientId: 'acme-cli',
    loginCommand: 'acme auth login',
    environment,
    sleep: async () => {},
    ...extra,
  });
  await acme.login({});
  return { acme, home, environment };
}

describe('@latchkey/client attacked through its facade', () => {
  test('createLatchkey refuses, as a LatchkeyError, what a JS caller can pass: no app name, variables empty or shared, a server that is no http(s) URL', async () => {
    const refused = (options: unknown, pattern: RegExp) =>
      assert.throws(
        () => createLatchkey(options as LatchkeyOptions),
        (error: unknown) => error instanceof LatchkeyError && error.code === 'usage' && pattern.test(error.message),
      );
    refused({}, /appName/);
    refused({ appName: null }, /appName/);
    refused({ appName: 42 }, /appName/);
    refused({ appName: '../latchkey' }, /appName/);
    refused({ appName: '' }, /appName/);
    // ACME_SERVER read as the token: a URL would go out as a Bearer credential.
    refused({ appName: 'acme', env: { token: 'ACME_SERVER' } }, /ACME_SERVER.*both/);
    refused({ appName: 'acme', env: { passphrase: '' } }, /env\.passphrase/);
    refused({ appName: 'acme', env: { token: 7 } }, /env\.token/);

    // A server that is no http(s) URL is the caller's mistake, refused before anything is sent (fetch reads data: URLs).
    const noServer = createLatchkey({ appName: 'acme', environment: { ACME_SECRET_PASSPHRASE: PASSPHRASE } });
    for (const [what, call] of [
      ['discover', () => noServer.discover('data:application/json,{}')],
      ['discover', () => noServer.discover('not a url')],
      ['exchangeCi', () => noServer.exchangeCi({ server: 'data:text/plain,x', idToken: 'a.b.c' })],
      ['login', () => noServer.login({ server: 'http://[::1' })],
    ] as const) {
      const error = await (call as () => Promise<unknown>)().catch((caught: unknown) => caught);
      assert.ok(error instanceof LatchkeyError && error.code === 'usage', `${what}: ${String(error)}`);
    }

    // What a product reads is fixed at creation: its names cannot be pointed at another's variables later.
    const acme = createLatchkey({ appName: 'acme', environment: {} });
    assert.throws(() => {
      (acme.product.env as { token: string }).token = 'LATCHKEY_TOKEN';
    }, TypeError);
    assert.equal(acme.product.env.token, 'ACME_TOKEN');
  });

  test('context names that are Object.prototype keys are no contexts: refused as LatchkeyErrors, config.json untouched', async () => {
    const issuer = await startIssuer();
    try {
      const { acme, environment } = await acmeLoggedIn(issuer.url);
      const configPath = join(environment.ACME_CONFIG_DIR, 'config.json');
      const before = await readFile(configPath, 'utf8');
      for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
        for (const [what, call] of [
          ['use', () => acme.contexts.use(name)],
          ['remove', () => acme.contexts.remove(name)],
          ['token', () => acme.token({ context: name })],
          ['status', () => acme.status({ context: name })],
          ['logout', () => acme.logout({ context: name })],
        ] as const) {
          const error = await (call as () => Promise<unknown>)().then(
            () => null,
            (caught: unknown) => caught,
          );
          assert.ok(error instanceof LatchkeyError, `${what} ${name}: a LatchkeyError, not ${String(error)}`);
          assert.equal(error.code, 'not_logged_in', `${what} ${name}`);
        }
      }
      assert.equal(await readFile(configPath, 'utf8'), before, 'no prototype key made current');
      assert.match(await acme.token(), /^at_\d+$/, 'the real context still answers');
    } finally {
      await issuer.stop();
    }
  });

  test('a refresh redirected to another origin is not followed: the refresh token goes nowhere else', async () => {
    const elsewhere = await startServer((_request, _body, response) =>
      json(response, { error: 'x', error_description: 'y' }, 400),
    );
    const issuer = await startIssuer({
      refresh: (_request, _body, response) => {
        response.writeHead(307, { location: `${elsewhere.url}/steal` }).end();
      },
    });
    try {
      const { acme } = await acmeLoggedIn(issuer.url);
      const error = await acme.token().catch((caught: unknown) => caught);
      assert.equal(issuer.counted.refreshes, 1);
      assert.deepEqual(elsewhere.seen, [], 'nothing reached the other origin');
      assert.ok(error instanceof LatchkeyError, `a LatchkeyError, not ${String(error)}`);
      assert.equal(error.code, 'server_error');
      assert.match(error.message, /redirect/);
      assert.doesNotMatch(error.message, /steal|rt_/);
    } finally {
      await issuer.stop();
      await elsewhere.stop();
    }
  });

  test('server text reaches the caller with no terminal controls: error descriptions, the user code, the URIs', async () => {
    let mode: 'description' | 'user-code' | 'uri' = 'description';
    const evil = '\u001b]0;pwned\u0007\u001b[2J\nacme: Signed in as root\u202e';
    const server = await startServer((request, _body, response) => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      if (path !== '/oauth/device_authorization') return json(response, { error: 'nope', error_description: 'nope' }, 404);
      if (mode === 'description') return json(response, { error: `bad${evil}`, error_description: evil }, 400);
      if (mode === 'user-code') return json(response, deviceAnswer(server.url, { user_code: `WDJB${evil}` }));
      return json(
        response,
        deviceAnswer(server.url, {
          verification_uri: `${server.url}/device\u001b[2J\u202e`,
          verification_uri_complete: `${server.url}/device?user_code=WDJB\u001b]0;x\u0007`,
        }),
      );
    });
    try {
      const home = await tempDir();
      const acme = createLatchkey({
        appName: 'acme',
        server: server.url,
        environment: { HOME: home, ACME_CONFIG_DIR: join(home, 'acme'), ACME_SECRET_PASSPHRASE: PASSPHRASE },
        sleep: async () => {},
      });
      const shown: string[] = [];
      const attempt = () =>
        acme
          .login({
            onDeviceCode: (code) =>
              shown.push(code.userCode, code.verificationUri, code.verificationUriComplete ?? '', String(code.expiresAt)),
          })
          .catch((caught: unknown) => caught);

      const described = await attempt();
      assert.ok(described instanceof LatchkeyError);
      assert.equal(described.code, 'server_error');
      assert.doesNotMatch(described.message, CONTROL, 'the message is safe to print as it is');
      assert.match(described.message, /\\u001b\]0;pwned/, 'the server’s words are still there, escaped');

      mode = 'user-code';
      const coded = await attempt();
      assert.ok(coded instanceof LatchkeyError);
      assert.equal(coded.code, 'server_error');
      assert.match(coded.message, /user code/);
      assert.deepEqual(shown, [], 'a user code with controls is never shown');

      mode = 'uri';
      await attempt();
      assert.equal(shown.length, 4, 'the URIs parse; they are handed over as URLs, escapes percent-encoded');
      for (const text of shown) assert.doesNotMatch(text, CONTROL);
      assert.equal(shown[1], `${server.url}/device%1B[2J%E2%80%AE`);

      // What the library hands back as data (an email, an org) is the server's exact text: printable is exported for the UI.
      assert.equal(printable(`cy${evil}`), 'cy\\u001b]0;pwned\\u0007\\u001b[2J\\u000aacme: Signed in as root\\u202e');
    } finally {
      await server.stop();
    }
  });

  test('a config dir that cannot be written fails the login as a LatchkeyError, nothing half-kept', async () => {
    const issuer = await startIssuer();
    try {
      const home = await tempDir();
      await writeFile(join(home, 'a-file'), 'not a directory');
      const acme = createLatchkey({
        appName: 'acme',
        server: issuer.url,
        environment: { HOME: home, ACME_CONFIG_DIR: join(home, 'a-file', 'acme'), ACME_SECRET_PASSPHRASE: PASSPHRASE },
        sleep: async () => {},
      });
      const error = await acme.login({}).catch((caught: unknown) => caught);
      assert.ok(error instanceof LatchkeyError, `a LatchkeyError, not ${String(error)}`);
      assert.equal(error.code, 'failed');
      assert.match(error.message, /ENOTDIR/);
    } finally {
      await issuer.stop();
    }
  });

  test('a poll interval longer than the code lives does not hold the login past the code’s expiry', async () => {
    const server = await startServer((request, _body, response) => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      if (path === '/oauth/device_authorization') {
        return json(response, deviceAnswer(server.url, { expires_in: 5, interval: 3600 }));
      }
      return json(response, { error: 'authorization_pending', error_description: 'waiting' }, 400);
    });
    try {
      const home = await tempDir();
      let clock = 1_000_000;
      const ticks: number[] = [];
      const acme = createLatchkey({
        appName: 'acme',
        server: server.url,
        environment: { HOME: home, ACME_CONFIG_DIR: join(home, 'acme'), ACME_SECRET_PASSPHRASE: PASSPHRASE },
        now: () => clock,
        sleep: async (ms) => {
          clock += ms;
        },
      });
      const error = await acme.login({ onTick: (seconds) => ticks.push(seconds) }).catch((caught: unknown) => caught);
      assert.ok(error instanceof LatchkeyError && error.code === 'timed_out', String(error));
      assert.deepEqual(ticks, [5, 4, 3, 2, 1], 'the countdown ends with the code, not an hour later');
    } finally {
      await server.stop();
    }
  });

  test('secret store none or env: the login is refused before any sign-in, in acme’s words (no latchkey flag)', async () => {
    const home = await tempDir();
    for (const store of ['none', 'env']) {
      const acme = createLatchkey({ appName: 'acme', environment: { HOME: home, ACME_SECRET_STORE: store } });
      const error = await acme.login({ server: 'http://127.0.0.1:9' }).catch((caught: unknown) => caught);
      assert.ok(error instanceof LatchkeyError && error.code === 'usage', String(error));
      assert.match(error.message, /keeps no token; set ACME_TOKEN instead/);
      assert.doesNotMatch(error.message, /--secret-store|latchkey/);
    }
    // No keychain (a fake that does not answer) and no passphrase: refused, and the way out named in acme's words.
    const nowhere = createLatchkey({
      appName: 'acme',
      environment: { HOME: home },
      keychain: {
        probe: async () => ({ available: false, reason: 'no keychain here' }),
        fileKey: async () => assert.fail('no key is asked of a keychain that is not there'),
      },
    });
    const error = await nowhere.login({ server: 'http://127.0.0.1:9' }).catch((caught: unknown) => caught);
    assert.ok(error instanceof LatchkeyError && error.code === 'secret_store_unavailable', String(error));
    assert.match(error.message, /ACME_SECRET_PASSPHRASE/);
    assert.doesNotMatch(error.message, /--secret-store|latchkey/);
  });

  test('a login cancelled while the server holds a request ends at once as cancelled, not at the time limit as unreachable', async () => {
    const cancel = new AbortController();
    const server = await startServer((request, _body, response) => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      if (path === '/oauth/device_authorization') {
        return json(response, deviceAnswer(server.url));
      }
      // The poll is held open; the person gives up meanwhile.
      cancel.abort();
    });
    try {
      const home = await tempDir();
      const acme = createLatchkey({
        appName: 'acme',
        server: server.url,
        environment: { HOME: home, ACME_CONFIG_DIR: join(home, 'acme'), ACME_SECRET_PASSPHRASE: PASSPHRASE },
        sleep: async () => {},
      });
      const error = await acme.login({ signal: cancel.signal }).catch((caught: unknown) => caught);
      assert.ok(error instanceof LatchkeyError, String(error));
      assert.equal(error.code, 'cancelled');
      assert.ok(!existsSync(join(home, 'acme', 'config.json')));
    } finally {
      await server.stop();
    }
  });

  test('held: ACME_SERVER naming another origin never receives the stored credential; LATCHKEY_TOKEN is not acme’s', async () => {
    const elsewhere = await startServer((_request, _body, response) => json(response, meAnswer('mallory@example.com')));
    const issuer = await startIssuer();
    try {
      const { environment } = await acmeLoggedIn(issuer.url);
      const acme = createLatchkey({
        appName: 'acme',
        server: issuer.url,
        environment: { ...environment, ACME_SERVER: elsewhere.url, LATCHKEY_TOKEN: 'latchkeys_own_token' },
      });
      for (const call of [() => acme.token(), () => acme.status(), () => acme.logout()]) {
        const error = await call().catch((caught: unknown) => caught);
        assert.ok(error instanceof LatchkeyError && error.code === 'server_mismatch', String(error));
      }
      assert.deepEqual(elsewhere.seen, []);
      const own = createLatchkey({ appName: 'acme', server: issuer.url, environment: { ...environment, LATCHKEY_TOKEN: 'x' } });
      assert.notEqual(await own.token(), 'x');
    } finally {
      await issuer.stop();
      await elsewhere.stop();
    }
  });

  test('held: acme’s files are its own: 0700 directories, 0600 files, no token in config.json, nothing under latchkey’s names', async () => {
    const issuer = await startIssuer();
    try {
      const { acme, home, environment } = await acmeLoggedIn(issuer.url);
      const token = await acme.token();
      const dir = environment.ACME_CONFIG_DIR;
      const mode = async (path: string) => (await stat(path)).mode & 0o777;
      assert.equal(await mode(dir), 0o700);
      assert.equal(await mode(join(dir, 'secrets')), 0o700);
      assert.equal(await mode(join(dir, 'config.json')), 0o600);
      assert.equal(await mode(join(dir, 'secrets', 'default.enc')), 0o600);
      const config = await readFile(join(dir, 'config.json'), 'utf8');
      assert.ok(!config.includes(token) && !/rt_\d/.test(config), 'no token in config.json');
      assert.ok(!existsSync(join(home, '.config', 'latchkey')));
    } finally {
      await issuer.stop();
    }
  });

  test('held: a token response with an absurd expires_in (negative, text, fractional, not a number) keeps nothing', async () => {
    for (const expiresIn of [-1, 0, '900', 1.5, 1e400, null]) {
      const server = await startServer((request, _body, response) => {
        const path = new URL(request.url ?? '/', 'http://x').pathname;
        if (path === '/oauth/device_authorization') {
          return json(response, deviceAnswer(server.url));
        }
        if (path === '/oauth/token') return json(response, { access_token: 'at', token_type: 'Bearer', expires_in: expiresIn });
        return json(response, meAnswer('cy@example.com'));
      });
      try {
        const home = await tempDir();
        const dir = join(home, 'acme');
        const acme = createLatchkey({
          appName: 'acme',
          server: server.url,
          environment: { HOME: home, ACME_CONFIG_DIR: dir, ACME_SECRET_PASSPHRASE: PASSPHRASE },
          sleep: async () => {},
        });
        const error = await acme.login({}).catch((caught: unknown) => caught);
        assert.ok(error instanceof LatchkeyError && error.code === 'server_error', `${expiresIn}: ${String(error)}`);
        assert.ok(!existsSync(join(dir, 'config.json')));
      } finally {
        await server.stop();
      }
    }
  });

  test('held: four processes refreshing one session at once refresh it once (the lock), all with the same token', async () => {
    // A slow refresh: a process that did not wait for the lock would present the same refresh token again.
    const issuer = await startIssuer({ refreshDelayMs: 400 });
    try {
      const { environment } = await acmeLoggedIn(issuer.url);
      const script = [
        `import { createLatchkey } from ${JSON.stringify(join(import.meta.dirname, '../../packages/client/src/index.ts'))};`,
        `const acme = createLatchkey({ appName: 'acme', server: ${JSON.stringify(issuer.url)}, clientId: 'acme-cli' });`,
        'process.stdout.write(await acme.token());',
      ].join('\n');
      const run = () =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const child = spawn(process.execPath, ['--input-type=module', '--eval', script], {
            env: { PATH: process.env.PATH, ...environment },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (chunk) => {
            out += chunk;
          });
          child.stderr.on('data', (chunk) => {
            err += chunk;
          });
          child.on('close', (code) => resolve({ code, out, err }));
        });
      const results = await Promise.all([run(), run(), run(), run()]);
      for (const result of results) assert.equal(result.code, 0, result.err);
      assert.equal(issuer.counted.refreshes, 1, 'one refresh for four processes');
      assert.equal(issuer.counted.reused, 0);
      assert.deepEqual(
        results.map((result) => result.out),
        ['at_2', 'at_2', 'at_2', 'at_2'],
      );
      assert.ok(!existsSync(join(environment.ACME_CONFIG_DIR, 'refresh-default.lock')), 'the lock is gone');
    } finally {
      await issuer.stop();
    }
  });
});
