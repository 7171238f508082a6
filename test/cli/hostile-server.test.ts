/**
 * The compiled `latchkey` against servers that attack it (test/fixtures/hostile-server.ts):
 * text that would steer the terminal, a `--server` that should never see a stored
 * credential, a secret file whose header was weakened, and URLs a browser must not open.
 */
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes, scryptSync } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_VERIFY_PAGES } from '../../cli/commands/audit.ts';
import { buildCli, cleanEnv, runCli, runCliWithin, tempConfigDir, tempDir } from '../fixtures/cli-runner.ts';
import {
  type HostileServer,
  meAnswer,
  type SeenRequest,
  serverMetadata,
  startHostileServer,
} from '../fixtures/hostile-server.ts';

const PASSPHRASE = 'correct horse battery staple';
/** What a terminal obeys: C0 but tab and newline, DEL, C1, line separators, bidi overrides and isolates. */
const STEERS_TERMINAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/**
 * Retitles the window, clears the screen, homes the cursor, fakes the passphrase prompt
 * (after a carriage return and on a line of its own), CSI in its C1 form, a bidi override.
 */
const EVIL =
  'Acme\u001b]0;pwned\u0007\u001b[2J\u001b[1;1H\r\nPassphrase for latchkey credentials: \u009b8m\u202egnp.exe\u2066x\u0085';

const cleanText = (what: string, text: string) => {
  assert.doesNotMatch(text, STEERS_TERMINAL, `${what} printed a control character raw:\n${JSON.stringify(text)}`);
  assert.doesNotMatch(text, /^Passphrase for latchkey/m, `${what} let the server start a line of its own`);
};

before(() => buildCli());

describe('server text never steers the terminal', () => {
  let server: HostileServer;
  let env: Record<string, string>;
  before(async () => {
    const hash = 'a'.repeat(64);
    server = await startHostileServer({
      'GET /v1/me': { json: meAnswer(EVIL, { scope: EVIL, org: EVIL }) },
      'GET /v1/orgs': { json: { orgs: [{ slug: 'acme', name: EVIL, role: 'owner' }] } },
      'GET /v1/orgs/acme': {
        json: {
          slug: 'acme',
          name: EVIL,
          created_at: 1_700_000_000,
          created_by: EVIL,
          projects: [EVIL],
          members: [{ email: EVIL, role: 'owner' }],
        },
      },
      'GET /v1/sessions': {
        json: {
          sessions: [
            {
              id: 'ses_aaaaaaaaaaaaaaaaaaaa',
              sub: 'usr_hostile',
              email: EVIL,
              client_id: EVIL,
              device_name: EVIL,
              user_agent: EVIL,
              address: null,
              scope: 'read',
              created_at: 1_700_000_000,
              last_used_at: null,
              expires_at: 1_800_000_000,
              revoked: null,
              current: true,
            },
          ],
        },
      },
      'GET /v1/orgs/acme/audit': {
        json: {
          org: 'acme',
          entries: [
            {
              seq: 1,
              time: 1_700_000_000_000,
              action: 'org.created',
              actor: EVIL,
              subject: EVIL,
              detail: EVIL,
              request_id: EVIL,
              prev: hash,
              hash,
            },
          ],
          next_after: null,
        },
      },
      'GET /v1/orgs/acme/keys': { status: 403, json: { error: 'access_denied', error_description: EVIL } },
    });
    const home = await tempConfigDir();
    env = cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: home, LATCHKEY_SERVER: server.url, LATCHKEY_TOKEN: 'tok' });
  });
  after(() => server?.stop());

  test('tables, prose and errors: every control character escaped, the server text still readable', async () => {
    const runs: [string[], number][] = [
      [['status'], 0],
      [['orgs', 'list'], 0],
      [['orgs', 'show', 'acme'], 0],
      [['members', 'list', '--org', 'acme'], 0],
      [['projects', 'list', '--org', 'acme'], 0],
      [['sessions', 'list'], 0],
      [['audit', 'list', '--org', 'acme'], 0],
      [['keys', 'list', '--org', 'acme'], 3],
    ];
    for (const [args, code] of runs) {
      const result = await runCli(args, env);
      assert.equal(result.code, code, `latchkey ${args.join(' ')}: ${result.stderr}`);
      cleanText(`latchkey ${args.join(' ')}`, result.stdout + result.stderr);
      assert.ok(
        (result.stdout + result.stderr).includes('Acme\\u001b]0;pwned\\u0007\\u001b[2J'),
        `latchkey ${args.join(' ')} shows the escaped text:\n${result.stdout}${result.stderr}`,
      );
    }
  });

  test('--json stays valid JSON and parses to the exact text the server sent, C1 and bidi escaped too', async () => {
    for (const args of [['status'], ['orgs', 'list'], ['sessions', 'list'], ['audit', 'list', '--org', 'acme']]) {
      const result = await runCli([...args, '--json'], env);
      assert.equal(result.code, 0, result.stderr);
      assert.doesNotMatch(result.stdout, STEERS_TERMINAL, `latchkey ${args.join(' ')} --json`);
      assert.ok(JSON.stringify(JSON.parse(result.stdout)).includes(JSON.stringify(EVIL).slice(1, -1)));
    }
    assert.equal(JSON.parse((await runCli(['status', '--json'], env)).stdout).email, EVIL);
  });
});

describe('an answer without end: the CLI reads at most 4 MiB of it', () => {
  test('orgs list from a server answering 5 MiB: exit 4, a server error, nothing printed of it', async () => {
    const server = await startHostileServer({
      'GET /v1/orgs': { json: { orgs: [], padding: 'x'.repeat(5 * 1024 * 1024) } },
    });
    try {
      const home = await tempConfigDir();
      const env = cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: home, LATCHKEY_SERVER: server.url, LATCHKEY_TOKEN: 'tok' });
      const result = await runCli(['orgs', 'list'], env);
      assert.equal(result.code, 4, result.stderr);
      assert.match(result.stderr, /\/v1\/orgs answered with more than 4194304 bytes/);
      assert.equal(result.stdout, '');
    } finally {
      await server.stop();
    }
  });
});

describe('an audit trail that never ends: `audit verify` stops, with a server error', () => {
  let server: HostileServer;
  let env: Record<string, string>;
  before(async () => {
    server = await startHostileServer();
    const home = await tempConfigDir();
    env = cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: home, LATCHKEY_SERVER: server.url, LATCHKEY_TOKEN: 'tok' });
  });
  after(() => server?.stop());
  const cursor = (request: SeenRequest) => Number(request.query.get('after'));
  const audits = () => server.requests.filter((request) => request.path === '/v1/orgs/acme/audit').length;

  test('empty pages whose next cursor grows by one: refused at the first, one request', async () => {
    server.requests.length = 0;
    server.route('GET /v1/orgs/acme/audit', (request) => ({
      json: { org: 'acme', entries: [], next_after: cursor(request) + 1 },
    }));
    const result = await runCliWithin(['audit', 'verify', '--org', 'acme'], env, 20_000);
    assert.equal(result.timedOut, false, 'audit verify kept asking');
    assert.deepEqual(result, {
      code: 4,
      stdout: '',
      stderr:
        'latchkey: the audit trail did not page forward: after entry 0 the server answered no entries and a next page after 1\n',
      timedOut: false,
    });
    assert.equal(audits(), 1);
  });

  test(`pages of one entry each, never the last: at most ${MAX_VERIFY_PAGES} pages are read`, async () => {
    server.requests.length = 0;
    server.route('GET /v1/orgs/acme/audit', (request) => {
      const seq = cursor(request) + 1;
      const entry = {
        seq,
        time: 1_700_000_000_000 + seq,
        action: 'org.created',
        actor: 'latchkey',
        subject: 'acme',
        detail: null,
        request_id: `req_${seq}`,
        prev: 'a'.repeat(64),
        hash: 'b'.repeat(64),
      };
      return { json: { org: 'acme', entries: [entry], next_after: seq } };
    });
    const result = await runCliWithin(['audit', 'verify', '--org', 'acme'], env, 120_000);
    assert.equal(result.timedOut, false, 'audit verify kept asking');
    assert.equal(result.code, 4, result.stderr);
    assert.equal(
      result.stderr,
      `latchkey: the audit trail of acme did not end within ${MAX_VERIFY_PAGES} pages (${MAX_VERIFY_PAGES} entries); ` +
        'latchkey audit verify reads no more than that\n',
    );
    assert.equal(audits(), MAX_VERIFY_PAGES);
  });
});

describe('a stored credential goes only to the server that issued it', () => {
  const SECRET = 'stored-secret-of-server-a';
  let issuer: HostileServer; // where the context logged in
  let other: HostileServer; // a --server that must never see SECRET
  let env: Record<string, string>;
  const sawSecret = () => other.requests.filter((request) => JSON.stringify(request).includes(SECRET));

  before(async () => {
    const answers = {
      'GET /v1/me': { json: meAnswer('ada@example.com', { kind: 'api_key', org: 'acme', role: 'owner' }) },
      'GET /v1/orgs': { json: { orgs: [{ slug: 'acme', name: 'Acme', role: 'owner' }] } },
      'GET /v1/orgs/acme/keys': { json: { keys: [] } },
      'POST /oauth/revoke': { json: {} },
    };
    [issuer, other] = await Promise.all([startHostileServer(answers), startHostileServer(answers)]);
    const home = await tempConfigDir();
    const runtime = await tempDir('latchkey-run-'); // the session cache, so its quick path is tried too
    env = cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: home, LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE, XDG_RUNTIME_DIR: runtime });
    const login = await runCli(
      ['login', '--with-token', '--server', issuer.url, '--secret-store', 'encrypted-file'],
      env,
      SECRET,
    );
    assert.equal(login.code, 0, login.stderr);
  });
  after(async () => {
    await Promise.all([issuer?.stop(), other?.stop()]);
  });

  test('--server or LATCHKEY_SERVER naming another server: one refusal, exit 3, for every command; nothing sent there', async () => {
    assert.equal((await runCli(['token'], env)).stdout, `${SECRET}\n`); // fills the session cache
    const runs: [string[], Record<string, string>][] = [
      [['status', '--server', other.url], env],
      [['whoami'], { ...env, LATCHKEY_SERVER: other.url }],
      [['keys', 'list', '--org', 'acme', '--server', other.url], env],
      [['orgs', 'list'], { ...env, LATCHKEY_SERVER: other.url }],
      [['token', '--server', other.url], env],
      [['token'], { ...env, LATCHKEY_SERVER: `${other.url}/` }],
      [['token', '--server', other.url], { ...env, LATCHKEY_TOKEN_CACHE: '0' }],
      [['logout', '--server', other.url], env],
    ];
    for (const [args, runEnv] of runs) {
      const result = await runCli(args, runEnv);
      const what = `latchkey ${args.join(' ')}`;
      assert.equal(result.code, 3, `${what}: ${result.stdout}${result.stderr}`);
      assert.equal(result.stdout, '', what);
      assert.match(
        result.stderr,
        new RegExp(`^latchkey: context "default" holds a credential of ${issuer.url}; latchkey does not send it to ${other.url}`),
        what,
      );
    }
    assert.deepEqual(sawSecret(), []);
    assert.deepEqual(other.requests, []);
  });

  test('--help says a stored credential is bound to its server', async () => {
    const help = await runCli(['--help'], env);
    assert.match(help.stdout, /A stored credential is bound to the server that issued it/);
    assert.match(help.stdout, /server_mismatch/);
  });

  test('the same server written another way is the same server; a token passed in explicitly goes where it is told', async () => {
    const port = new URL(issuer.url).port;
    for (const same of [`${issuer.url}/`, `HTTP://127.0.0.1:${port}`]) {
      const result = await runCli(['status', '--json', '--server', same], env);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout).source, 'stored');
    }
    const viaEnv = await runCli(['status', '--json', '--server', other.url], { ...env, LATCHKEY_TOKEN: 'chosen-env' });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const viaStdin = await runCli(['status', '--json', '--token-stdin'], { ...env, LATCHKEY_SERVER: other.url }, 'chosen-stdin');
    assert.equal(viaStdin.code, 0, viaStdin.stderr);
    const bearers = other.requests.map((request) => request.headers.authorization);
    assert.deepEqual(bearers, ['Bearer chosen-env', 'Bearer chosen-stdin']);
    assert.deepEqual(sawSecret(), []);
  });
});

describe('the encrypted secret file: scrypt parameters from its header are checked, never inherited', () => {
  let server: HostileServer;
  before(async () => {
    server = await startHostileServer({ 'GET /v1/me': { json: meAnswer('ada@example.com', { kind: 'api_key' }) } });
  });
  after(() => server?.stop());

  /** A config dir whose context "default" is sealed by the test, with the scrypt parameters it chooses. */
  async function home(params: { N: number; r: number; p: number }, sealProperly = true) {
    const dir = await tempConfigDir();
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const credential = JSON.stringify({ access_token: 'sealed-token', refresh_token: null, expires_at: null });
    let data = randomBytes(32);
    let tag = randomBytes(16);
    if (sealProperly) {
      const key = scryptSync(PASSPHRASE, salt, 32, { ...params, maxmem: 64 * 1024 * 1024 });
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      data = Buffer.concat([cipher.update(credential), cipher.final()]);
      tag = cipher.getAuthTag();
    }
    const sealed = {
      v: 1,
      key: { source: 'scrypt', salt: salt.toString('base64'), ...params },
      iv: iv.toString('base64'),
      tag: tag.toString('base64'),
      data: data.toString('base64'),
    };
    await mkdir(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'secrets', 'default.enc'), JSON.stringify(sealed), { mode: 0o600 });
    const context = {
      server: server.url,
      clientId: 'latchkey-cli',
      secretStore: 'encrypted-file',
      secretStoreReason: 'chosen with --secret-store',
      user: { sub: 'usr_hostile', email: 'ada@example.com' },
      kind: 'api_key',
      org: null,
      project: null,
      createdAt: new Date().toISOString(),
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify({ version: 1, current: 'default', contexts: { default: context } }));
    await chmod(join(dir, 'config.json'), 0o600);
    return { dir, env: cleanEnv({ HOME: dir, LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE }) };
  }
  const header = async (dir: string) => JSON.parse(await readFile(join(dir, 'secrets', 'default.enc'), 'utf8')).key;

  test('a header below the floor is refused with a clear error, the file left as it is', async () => {
    const { dir, env } = await home({ N: 2 ** 10, r: 8, p: 1 });
    const before = await readFile(join(dir, 'secrets', 'default.enc'), 'utf8');
    const result = await runCli(['token'], env);
    assert.equal(result.code, 5, result.stdout + result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /default\.enc asks for scrypt N=1024 r=8 p=1, outside what latchkey accepts/);
    assert.match(result.stderr, /may have been tampered with/);
    assert.equal(await readFile(join(dir, 'secrets', 'default.enc'), 'utf8'), before);
  });

  test('a header asking for gigabytes or minutes is refused at once', async () => {
    for (const params of [
      { N: 2 ** 30, r: 8, p: 1 },
      { N: 2 ** 15, r: 8, p: 4096 },
      { N: 2 ** 15, r: 2 ** 12, p: 1 },
      { N: 3 * 2 ** 14, r: 8, p: 1 },
    ]) {
      const { env } = await home(params, false);
      const result = await runCliWithin(['token'], env, 10_000);
      assert.equal(result.timedOut, false, `N=${params.N} r=${params.r} p=${params.p} hung`);
      assert.equal(result.code, 5, `N=${params.N} r=${params.r} p=${params.p}: ${result.stderr}`);
      assert.match(result.stderr, /outside what latchkey accepts/);
    }
  });

  test('a new login over a weakened file seals with today’s parameters and a fresh salt', async () => {
    const { dir, env } = await home({ N: 2 ** 10, r: 1, p: 1 });
    const weak = await header(dir);
    const login = await runCli(['login', '--with-token', '--server', server.url, '--secret-store', 'encrypted-file'], env, 'k');
    assert.equal(login.code, 0, login.stderr);
    const sealed = await header(dir);
    assert.deepEqual({ N: sealed.N, r: sealed.r, p: sealed.p }, { N: 2 ** 15, r: 8, p: 1 });
    assert.notEqual(sealed.salt, weak.salt);
    assert.equal((await runCli(['token'], env)).stdout, 'k\n');
  });
});

describe('URLs from the server: opened or shown only when http(s) on the server’s own origin', () => {
  let server: HostileServer;
  let dir: string;
  let opener: string;
  let marker: string;
  let env: Record<string, string>;
  before(async () => {
    server = await startHostileServer();
    dir = await tempConfigDir();
    marker = join(dir, 'browser-was-started');
    opener = join(dir, 'browser.sh');
    // The "browser": records that it was started, and with what.
    await writeFile(opener, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${marker}'\n`, { mode: 0o700 });
    env = cleanEnv({ HOME: dir, LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE, LATCHKEY_BROWSER: opener });
  });
  after(() => server?.stop());

  const browserStarted = () =>
    stat(marker).then(
      () => true,
      () => false,
    );

  test('a browser login whose authorization_endpoint is elsewhere, file: or javascript: opens nothing and says why', async () => {
    const endpoints = [
      ['http://evil.example/oauth/authorize', /points to http:\/\/evil\.example, not to an http\(s\) page of/],
      ['file:///etc/passwd', /points to file:, not to an http\(s\) page of/],
      ['javascript:alert(document.cookie)//', /points to javascript:, not to an http\(s\) page of/],
      [`${server.url.replace('http:', 'https:')}/oauth/authorize`, /points to https:\/\/127\.0\.0\.1/],
    ] as const;
    for (const [endpoint, reason] of endpoints) {
      server.route('GET /.well-known/oauth-authorization-server', {
        json: serverMetadata(server.url, { authorization_endpoint: endpoint }),
      });
      for (const flags of [[], ['--no-open']]) {
        const result = await runCliWithin(
          ['login', '--browser', ...flags, '--server', server.url, '--secret-store', 'encrypted-file'],
          env,
          8000,
        );
        const what = `${endpoint} ${flags.join(' ')}`;
        assert.equal(await browserStarted(), false, `${what}: the browser was started`);
        assert.equal(result.timedOut, false, `${what}: latchkey waited for a login it should have refused`);
        assert.equal(result.code, 4, `${what}: ${result.stderr}`);
        assert.match(result.stderr, /^latchkey: the server's authorization_endpoint points to /, what);
        assert.match(result.stderr, reason, what);
        assert.match(result.stderr, /latchkey neither opens nor shows it/, what);
        assert.equal(result.stderr.includes(endpoint), false, `${what}: the refused URL was shown`);
      }
    }
  });

  test('a device login whose verification URI is elsewhere shows neither the URL nor its QR code', async () => {
    for (const [field, value] of [
      ['verification_uri_complete', 'http://evil.example/device?user_code=BCDF-GHJK'],
      ['verification_uri', 'file:///device'],
    ] as const) {
      server.route('POST /oauth/device_authorization', {
        json: {
          device_code: 'dc',
          user_code: 'BCDF-GHJK',
          verification_uri: `${server.url}/device`,
          verification_uri_complete: `${server.url}/device?user_code=BCDF-GHJK`,
          expires_in: 600,
          interval: 1,
          [field]: value,
        },
      });
      server.route('POST /oauth/token', { status: 400, json: { error: 'expired_token', error_description: 'gone' } });
      const result = await runCliWithin(
        ['login', '--device', '--server', server.url, '--secret-store', 'encrypted-file'],
        env,
        8000,
      );
      assert.equal(result.code, 4, `${field}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`^latchkey: the server's ${field} points to `));
      assert.equal(result.stderr.includes(value), false, `${field}: the refused URL was shown`);
      assert.doesNotMatch(result.stderr, /[▄▀█]/, `${field}: a QR code was shown`);
    }
    assert.equal(await browserStarted(), false);
  });
});
