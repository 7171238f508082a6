/**
 * Upgrading a Cloudflare deployment from the per-key layout (one Durable Object per atomic
 * key, before 0.2) as an operator would: the old Worker (prebuilt from 48d83d7,
 * test/fixtures/legacy-per-key/) signs someone in and sets up an org, then the current
 * Worker starts on the same `wrangler dev --persist-to` state with the same secrets and
 * LATCHKEY_MIGRATE_FROM=per-key, and everything the old one issued still works there. A
 * control run without the setting, on a copy of the same state, sees none of it, so a
 * migration that reads nothing would fail here too.
 *
 * workerd only (`workerd-kv`): the other targets never had the per-key layout.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AuditEntry, AuditPage, verifyAuditChain } from '../../shared/audit.ts';
import { base64url, randomBytes } from '../../worker/tokens/opaque.ts';
import { generateSigningKey } from '../../worker/tokens/signing-keys.ts';
import { apiJsonCall, ok } from '../fixtures/api-call.ts';
import { deviceLogin, refresh } from '../fixtures/oauth-client.ts';
import { freePort, testTarget } from '../fixtures/worker-server.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const LEGACY = join(ROOT, 'test/fixtures/legacy-per-key');
const OLD_REFRESH_TOKEN = /^lk_rt_[A-Za-z0-9_-]{43}$/;
const NEW_REFRESH_TOKEN = /^lk_rt_[A-Za-z0-9_-]{63}$/;
// Long enough that the upgraded Worker is up within it (a retry straddling the upgrade),
// short enough to wait out for a reuse.
const GRACE_MS = 10_000;

type Running = { url: string; logs: () => string; stop: () => Promise<void> };

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `wrangler dev` in `cwd` (its wrangler.toml) on `port`, keeping its state in `persistTo`. */
async function wranglerDev(cwd: string, port: number, persistTo: string, vars: Record<string, string>): Promise<Running> {
  const url = `http://127.0.0.1:${port}`;
  const args = [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '--ip', '127.0.0.1', '--port', String(port)];
  args.push('--inspector-port', String(await freePort()), '--persist-to', persistTo);
  args.push('--show-interactive-dev-session=false', '--log-level', 'warn');
  for (const [name, value] of Object.entries({ LATCHKEY_ISSUER: url, ...vars })) args.push('--var', `${name}:${value}`);
  const child = spawn(process.execPath, args, {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name);
    } catch {}
  };
  const stop = async () => {
    const { pid } = child;
    if (!pid) return;
    // The process group: wrangler and its workerd, which must let go of the port and the state.
    signal(pid, 'SIGTERM');
    const killer = setTimeout(() => signal(pid, 'SIGKILL'), 3000);
    await exited;
    // workerd may outlive wrangler for a moment.
    for (const deadline = Date.now() + 5000; Date.now() < deadline && groupAlive(pid); ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    clearTimeout(killer);
  };
  for (const deadline = Date.now() + 60_000; Date.now() < deadline && child.exitCode === null; ) {
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) return { url, logs: () => output, stop };
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`wrangler dev in ${cwd} did not become ready:\n${output}`);
}

describe('upgrading from the per-key layout', { skip: testTarget() !== 'workerd-kv' && 'workerd-kv only' }, () => {
  let work: string;
  let port: number;
  let vars: Record<string, string>;
  /** The state as the old Worker left it: the upgraded Worker runs on it, the control on a copy. */
  let oldState: string;
  let controlState: string;
  let server: Running | undefined;
  const old = {} as {
    accessToken: string;
    sid: string;
    spent: string;
    spentAt: number;
    live: string;
    apiKey: string;
    trail: AuditEntry[];
    /** Another person's session, its token spent just before the upgrade, for a retry. */
    retry: { spent: string; spentAt: number; successor: string };
  };

  const call = (method: string, path: string, bearer: string, body?: Record<string, unknown>) =>
    apiJsonCall(`http://127.0.0.1:${port}`, method, path, bearer, body);
  const base = () => `http://127.0.0.1:${port}`;
  async function readTrail(bearer: string): Promise<AuditEntry[]> {
    return AuditPage.parse(await ok(call('GET', '/v1/orgs/acme/audit?limit=100', bearer))).entries;
  }
  async function startCurrent(state: string, extra: Record<string, string>) {
    server = await wranglerDev(ROOT, port, state, { ...vars, ...extra });
  }
  async function stopServer() {
    await server?.stop();
    server = undefined;
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'latchkey-migration-'));
    // The prebuilt Worker runs from a copy, so its `.wrangler/` scratch lands outside the repository.
    const app = join(work, 'legacy-worker');
    await cp(join(LEGACY, 'worker.js'), join(app, 'worker.js'));
    await cp(join(LEGACY, 'wrangler.toml'), join(app, 'wrangler.toml'));
    oldState = join(work, 'state');
    // One issuer for both Workers: the old access tokens name it.
    port = await freePort();
    vars = {
      LATCHKEY_IDENTITY: 'dev',
      LATCHKEY_SIGNING_KEYS: JSON.stringify([await generateSigningKey()]),
      LATCHKEY_HASH_SECRET: base64url(randomBytes(32)),
      LATCHKEY_REFRESH_GRACE: `${GRACE_MS / 1000}s`,
    };

    server = await wranglerDev(app, port, oldState, vars);
    const login = await deviceLogin(base());
    old.sid = String((await ok(call('GET', '/v1/me', login.access_token))).session_id);
    await ok(call('POST', '/v1/orgs', login.access_token, { slug: 'acme', name: 'Acme' }));
    await ok(call('POST', '/v1/orgs/acme/projects', login.access_token, { slug: 'web' }));
    old.apiKey = String(
      (await ok(call('POST', '/v1/orgs/acme/keys', login.access_token, { name: 'deploy', role: 'admin' }))).key,
    );
    const rotated = await refresh(base(), login.refresh_token);
    assert.equal(rotated.status, 200, rotated.text);
    old.spentAt = Date.now();
    old.spent = login.refresh_token;
    old.live = String(rotated.json.refresh_token);
    old.accessToken = String(rotated.json.access_token);
    old.trail = await readTrail(old.accessToken);
    const other = await deviceLogin(base(), 'bob@example.com');
    const otherRotated = await refresh(base(), other.refresh_token);
    assert.equal(otherRotated.status, 200, otherRotated.text);
    old.retry = { spent: other.refresh_token, spentAt: Date.now(), successor: String(otherRotated.json.refresh_token) };
    // The old Worker answers a retry within the window with the same successor.
    const retried = await refresh(base(), old.retry.spent);
    assert.equal(retried.json.refresh_token, old.retry.successor, retried.text);
    await stopServer();
    controlState = join(work, 'control');
    await cp(oldState, controlState, { recursive: true });
  });
  after(async () => {
    await stopServer();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the old Worker issued old-format tokens and kept one Durable Object per key in the shared state', async () => {
    assert.match(old.spent, OLD_REFRESH_TOKEN);
    assert.match(old.live, OLD_REFRESH_TOKEN);
    assert.deepEqual(
      old.trail.map((entry) => entry.action),
      ['org.created', 'project.created', 'key.created'],
    );
    // wrangler dev keys a namespace's objects by script and class name: the same in both wrangler.toml files.
    const objects = await readdir(join(oldState, 'v3/do/latchkey-AtomicStore'));
    assert.ok(objects.filter((name) => name.endsWith('.sqlite')).length > 10, objects.join(' '));
  });

  describe('the current Worker with LATCHKEY_MIGRATE_FROM=per-key on the same state', () => {
    let latest: { access: string; refresh: string };
    before(async () => startCurrent(oldState, { LATCHKEY_MIGRATE_FROM: 'per-key' }));
    after(stopServer);

    test('a retry of the last refresh before the upgrade, within the grace window, gets the same successor', async () => {
      assert.ok(Date.now() - old.retry.spentAt < GRACE_MS, 'the upgraded Worker started within the grace window');
      const retried = await refresh(base(), old.retry.spent);
      assert.equal(retried.status, 200, retried.text);
      assert.equal(retried.json.refresh_token, old.retry.successor);
    });

    test("accepts the old Worker's access token for its session", async () => {
      const me = await ok(call('GET', '/v1/me', old.accessToken));
      assert.equal(me.session_id, old.sid);
      assert.equal(me.email, 'ada@example.com');
    });

    test('refreshes the live old refresh token into a new-format one, which refreshes again', async () => {
      const first = await refresh(base(), old.live);
      assert.equal(first.status, 200, `${first.text}\n${server?.logs()}`);
      assert.match(String(first.json.refresh_token), NEW_REFRESH_TOKEN);
      const second = await refresh(base(), String(first.json.refresh_token));
      assert.equal(second.status, 200, `${second.text}\n${server?.logs()}`);
      assert.match(String(second.json.refresh_token), NEW_REFRESH_TOKEN);
      latest = { access: String(second.json.access_token), refresh: String(second.json.refresh_token) };
      assert.equal((await ok(call('GET', '/v1/me', latest.access))).session_id, old.sid);
    });

    test('the old API key authenticates', async () => {
      const me = await ok(call('GET', '/v1/me', old.apiKey));
      assert.equal(me.kind, 'api_key');
      assert.equal(me.org, 'acme');
    });

    test('the org, its project and the session are listed', async () => {
      const orgs = await ok(call('GET', '/v1/orgs', latest.access));
      assert.deepEqual(orgs.orgs, [{ slug: 'acme', name: 'Acme', role: 'owner' }]);
      assert.deepEqual((await ok(call('GET', '/v1/orgs/acme', latest.access))).projects, ['web']);
      const { sessions } = (await ok(call('GET', '/v1/sessions', latest.access))) as { sessions: { id: string }[] };
      assert.deepEqual(
        sessions.map((session) => session.id),
        [old.sid],
      );
      await ok(call('POST', '/v1/orgs/acme/projects', latest.access, { slug: 'api' }));
    });

    test('the spent old refresh token, past the grace window, ends the session', async () => {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, old.spentAt + GRACE_MS + 100 - Date.now())));
      const reused = await refresh(base(), old.spent);
      assert.equal(reused.status, 400, reused.text);
      assert.equal(reused.json.error, 'invalid_grant');
      assert.match(String(reused.json.error_description), /already used/);
      const successor = await refresh(base(), latest.refresh);
      assert.equal(successor.status, 400, successor.text);
      assert.match(String(successor.json.error_description), /revoked/);
      assert.equal((await call('GET', '/v1/me', latest.access)).status, 401);
    });

    test('the audit trail continues the old chain', async () => {
      const trail = await readTrail(old.apiKey);
      assert.deepEqual(trail.slice(0, old.trail.length), old.trail);
      assert.deepEqual(
        trail.slice(old.trail.length).map((entry) => [entry.action, entry.subject]),
        [
          ['project.created', 'api'],
          ['session.reuse_detected', old.sid],
        ],
      );
      const check = await verifyAuditChain(trail);
      assert.ok(check.ok, JSON.stringify(check));
      assert.equal(check.head.seq, old.trail.length + 2);
    });
  });

  describe('control: the current Worker without LATCHKEY_MIGRATE_FROM', () => {
    before(async () => startCurrent(controlState, {}));
    after(stopServer);

    test('sees none of the old state', async () => {
      const refreshed = await refresh(base(), old.live);
      assert.equal(refreshed.status, 400, refreshed.text);
      assert.equal(refreshed.json.error, 'invalid_grant');
      assert.equal((await call('GET', '/v1/me', old.apiKey)).status, 401);
      assert.equal((await call('GET', '/v1/me', old.accessToken)).status, 401);
    });
  });
});
