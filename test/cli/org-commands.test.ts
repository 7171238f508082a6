/**
 * The org commands of the compiled `latchkey` binary — orgs, projects, members, keys,
 * sessions, audit — run as a script would run them, against the running Worker (real
 * workerd, state in a real Redis). The tamper test edits one audit entry in Redis by hand,
 * past the Worker, and `audit verify` must point at it.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AuditEntry, auditEntryHash } from '../../shared/audit.ts';
import { buildCli, cleanEnv, cliDeviceLogin, runCli, tempConfigDir } from '../fixtures/cli-runner.ts';
import { addMember, deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let owner: Record<string, string>;
let home: string;

before(async () => {
  buildCli();
  worker = await startWorker({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s' }, { target: 'workerd-redis' });
  home = await tempConfigDir();
  const token = (await deviceLogin(worker.url, 'owner@cli.example')).access_token;
  owner = cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: home, LATCHKEY_SERVER: worker.url, LATCHKEY_TOKEN: token });
});
after(async () => {
  await worker?.stop();
});

async function ok(args: string[], env = owner) {
  const result = await runCli(args, env);
  assert.equal(result.code, 0, `latchkey ${args.join(' ')}: ${result.stderr}`);
  return result;
}
const json = async (args: string[], env = owner) => JSON.parse((await ok([...args, '--json'], env)).stdout);

describe('orgs, projects and members', () => {
  test('create an org, a project and a member; the only org is the default', async () => {
    await ok(['orgs', 'create', 'acme', '--name', 'Acme Corp']);
    assert.deepEqual(await json(['orgs', 'list']), [{ slug: 'acme', name: 'Acme Corp', role: 'owner' }]);
    const project = await ok(['projects', 'create', 'web']);
    assert.match(project.stderr, /Created project acme\/web/);
    assert.equal((await ok(['projects', 'list'])).stdout, 'web\n');
    const notYet = await runCli(['members', 'set', 'dev@cli.example', 'admin'], owner);
    assert.equal(notYet.code, 1, 'set changes only an existing member');
    assert.match(notYet.stderr, /not a member .*invite/);

    const invited = await json(['members', 'invite', 'dev@cli.example', '--role', 'admin', '--expires', '2d']);
    assert.match(invited.id, /^inv_/);
    const lifetime = (Date.parse(invited.expires_at) - Date.parse(invited.created_at)) / 1000;
    assert.deepEqual([invited.org, invited.role, lifetime], ['acme', 'admin', 2 * 86400]);
    const pending = (await ok(['members', 'invitations'])).stdout;
    assert.match(pending, /^ID\s+EMAIL\s+ROLE\s+INVITED BY\s+EXPIRES\n/);
    assert.match(pending, new RegExp(`${invited.id}\\s+dev@cli\\.example\\s+admin\\s+owner@cli\\.example`));
    assert.doesNotMatch((await ok(['members', 'list'])).stdout, /dev@cli/, 'invited is not a member');

    const dev = cleanEnv({
      HOME: home,
      LATCHKEY_SERVER: worker.url,
      LATCHKEY_TOKEN: (await deviceLogin(worker.url, 'dev@cli.example')).access_token,
    });
    const mine = await ok(['invitations', 'list'], dev);
    assert.match(mine.stdout, /^ID\s+ORG\s+ROLE\s+INVITED BY\s+EXPIRES\n/);
    assert.match(mine.stdout, new RegExp(`${invited.id}\\s+acme \\(Acme Corp\\)\\s+admin`));
    assert.deepEqual(
      (await json(['invitations', 'list'], dev)).map((item: { id: string }) => item.id),
      [invited.id],
    );
    const accepted = await ok(['invitations', 'accept', invited.id], dev);
    assert.match(accepted.stderr, /You joined acme \(Acme Corp\) as admin/);
    assert.equal((await runCli(['invitations', 'accept', invited.id], dev)).code, 1, 'used once');
    const table = (await ok(['members', 'list'])).stdout;
    assert.match(table, /^MEMBER\s+ROLE\n/);
    assert.match(table, /dev@cli\.example\s+admin/);
    const shown = await json(['orgs', 'show', 'acme']);
    assert.deepEqual(shown.projects, ['web']);
  });

  test('bad input is a usage error (exit 2) before anything is sent; a refusal is exit 3 in the server’s words', async () => {
    const badRole = await runCli(['members', 'set', 'x@cli.example', 'emperor'], owner);
    assert.equal(badRole.code, 2);
    assert.match(badRole.stderr, /member\|admin\|owner/);
    const stranger = cleanEnv({
      HOME: home,
      LATCHKEY_SERVER: worker.url,
      LATCHKEY_TOKEN: (await deviceLogin(worker.url, 'plain@cli.example')).access_token,
    });
    await addMember(worker.url, owner.LATCHKEY_TOKEN as string, 'acme', 'plain@cli.example', 'member', stranger.LATCHKEY_TOKEN);
    const refused = await runCli(['keys', 'list', '--org', 'acme'], stranger);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /lacks keys:read/);
    const missing = await runCli(['orgs', 'show', 'nope'], owner);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no org "nope"/);
  });
});

describe('invitations', () => {
  test('declined or withdrawn, an invitation is gone and nobody joined; keys cannot answer one', async () => {
    const nope = cleanEnv({
      HOME: home,
      LATCHKEY_SERVER: worker.url,
      LATCHKEY_TOKEN: (await deviceLogin(worker.url, 'nope@cli.example')).access_token,
    });
    const first = await json(['members', 'invite', 'nope@cli.example']);
    assert.equal(first.role, 'member');
    const declined = await ok(['invitations', 'decline', first.id], nope);
    assert.match(declined.stderr, /Declined the invitation to acme/);
    const second = await json(['members', 'invite', 'nope@cli.example', '--org', 'acme', '--expires', '1h']);
    const resent = await ok(['members', 'resend', second.id]);
    assert.match(resent.stderr, /Sent the invitation of nope@cli\.example to acme again: it now expires \S+ \(in [67] days\)/);
    const [again] = await json(['members', 'invitations']);
    assert.equal(again.id, second.id, 'the same invitation');
    // RFC 3339 times in --json: the resent one a week out, the first an hour.
    assert.ok(Date.parse(again.expires_at) - Date.parse(second.expires_at) > 6 * 86400_000, 'a new expiry, a week out');
    assert.equal((await runCli(['members', 'resend'], owner)).code, 2);
    const withdrawn = await ok(['members', 'withdraw', second.id]);
    assert.match(withdrawn.stderr, /Withdrew the invitation of nope@cli\.example to acme/);
    assert.deepEqual(await json(['invitations', 'list'], nope), []);
    assert.match((await ok(['invitations', 'list'], nope)).stderr, /No pending invitations/);
    assert.doesNotMatch((await ok(['members', 'list'])).stdout, /nope@cli/);
    for (const args of [
      ['members', 'invite', 'x@cli.example', '--expires', 'soon'],
      ['members', 'invite', 'x@cli.example', '--role', 'emperor'],
      ['invitations', 'accept'],
      ['invitations', 'frob'],
    ]) {
      assert.equal((await runCli(args, owner)).code, 2, args.join(' '));
    }
  });
});

describe('keys', () => {
  test('create prints the secret once on stdout; list never shows it; the key works as a credential', async () => {
    const created = await ok(['keys', 'create', '--name', 'deploy', '--project', 'web', '--expires', '30d']);
    const key = created.stdout.trim();
    assert.match(key, /^lk_test_[0-9A-Za-z]{36}$/);
    assert.match(created.stderr, /shown only now/);
    const listed = await ok(['keys', 'list']);
    assert.equal(listed.stdout.includes(key), false);
    assert.match(listed.stdout, /^ID\s+NAME\s+PROJECT\s+ROLE\s+STATE/);
    assert.match(listed.stdout, /deploy\s+web\s+member\s+active/);

    const asKey = cleanEnv({ HOME: home, LATCHKEY_SERVER: worker.url, LATCHKEY_TOKEN: key });
    const status = await json(['status'], asKey);
    assert.deepEqual([status.kind, status.org, status.project], ['api_key', 'acme', 'web']);
  });

  test('revoke asks for --confirm without a terminal, then revokes; the key is refused at once', async () => {
    const created = await json(['keys', 'create', '--name', 'doomed']);
    const asKey = cleanEnv({ HOME: home, LATCHKEY_SERVER: worker.url, LATCHKEY_TOKEN: created.key });
    const unconfirmed = await runCli(['keys', 'revoke', created.id], owner);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /--confirm/);
    assert.equal((await runCli(['status'], asKey)).code, 0, 'nothing was revoked without confirmation');
    const revoked = await json(['keys', 'revoke', created.id, '--confirm']);
    assert.ok(revoked.revoked_at);
    const refused = await runCli(['status'], asKey);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /revoked/);
  });

  test('rotate with --grace prints the new secret; both work during the grace period', async () => {
    const created = await json(['keys', 'create', '--name', 'rotating', '--role', 'admin']);
    const rotated = await ok(['keys', 'rotate', created.id, '--grace', '1h', '--confirm']);
    const fresh = rotated.stdout.trim();
    assert.match(fresh, /^lk_test_/);
    assert.notEqual(fresh, created.key);
    for (const key of [created.key, fresh]) {
      assert.equal((await runCli(['status'], { ...owner, LATCHKEY_TOKEN: key })).code, 0);
    }
    const badGrace = await runCli(['keys', 'rotate', created.id, '--grace', 'soon', '--confirm'], owner);
    assert.equal(badGrace.code, 2);
  });
});

/** A CLI of its own: an empty config dir (also HOME), an encrypted-file passphrase, this server. */
async function freshCliEnv(): Promise<Record<string, string>> {
  const dir = await tempConfigDir();
  return cleanEnv({
    HOME: dir,
    LATCHKEY_CONFIG_DIR: dir,
    LATCHKEY_SECRET_PASSPHRASE: 'a passphrase',
    LATCHKEY_SERVER: worker.url,
  });
}

describe('sessions', () => {
  test('a CLI login is a session named after this host; revoking another session ends it at once', async () => {
    const env = await freshCliEnv();
    const login = await cliDeviceLogin(['login', '--device', '--secret-store', 'encrypted-file'], env, {
      server: worker.url,
      email: 'owner@cli.example',
    });
    assert.equal(login.code, 0);

    const mine = await json(['sessions', 'list'], env);
    const current = mine.find((session: { current: boolean }) => session.current);
    assert.equal(current.device_name, hostname().slice(0, 64));
    assert.equal(mine.length, 2, 'the fixture login and the CLI login');
    const other = mine.find((session: { current: boolean }) => !session.current);

    const table = (await ok(['sessions', 'list'], env)).stdout;
    assert.match(table, /^ID\s+DEVICE\s+CLIENT\s+FOR ORG\s+TWO-STEP\s+SIGNED IN\s+LAST USED\s+STATE\n\* ses_/);
    await ok(['sessions', 'revoke', other.id, '--confirm'], env);
    const ended = await runCli(['status'], owner); // owner's LATCHKEY_TOKEN belongs to the other session
    assert.equal(ended.code, 3);
    assert.match(ended.stderr, /session was revoked/);
    const after = await json(['sessions', 'list'], env);
    assert.equal(after.find((session: { id: string }) => session.id === other.id).revoked, 'logout');
    owner.LATCHKEY_TOKEN = (await deviceLogin(worker.url, 'owner@cli.example')).access_token;
  });

  test('login --org signs in for the org; an owner lists and ends that session with --org, and no other of the member’s', async () => {
    const unbound = await deviceLogin(worker.url, 'ses@cli.example', { device_name: 'ses-laptop' });
    await addMember(worker.url, owner.LATCHKEY_TOKEN as string, 'acme', 'ses@cli.example', 'member', unbound.access_token);
    const env = await freshCliEnv();
    const login = await cliDeviceLogin(['login', '--device', '--org', 'acme', '--secret-store', 'encrypted-file'], env, {
      server: worker.url,
      email: 'ses@cli.example',
    });
    assert.equal(login.code, 0);
    const own = await json(['sessions', 'list'], env);
    assert.equal(own.find((session: { current: boolean }) => session.current).org, 'acme');

    const listed = await json(['sessions', 'list', '--org', 'acme', '--member', 'ses@cli.example']);
    assert.equal(listed.length, 1, 'only the session established for acme');
    assert.equal(listed[0].device_name, hostname().slice(0, 64));
    await ok(['sessions', 'revoke', listed[0].id, '--org', 'acme', '--confirm']);
    assert.equal((await runCli(['status'], env)).code, 3);
    const other = cleanEnv({ HOME: home, LATCHKEY_SERVER: worker.url, LATCHKEY_TOKEN: unbound.access_token });
    assert.equal((await runCli(['status'], other)).code, 0, 'the member’s other session is not the org’s');
    const noOrg = await runCli(['sessions', 'list', '--member', 'ses@cli.example'], owner);
    assert.equal(noOrg.code, 2);
  });
});

describe('audit', () => {
  test('list shows the trail; verify holds; after one stored entry is edited, verify points at it', async () => {
    const listed = await ok(['audit', 'list', '--limit', '200']);
    assert.match(
      listed.stdout,
      /^SEQ\s+TIME\s+ACTION\s+ACTOR\s+SUBJECT\s+DETAIL\n1\s+\S+\s+org\.created\s+owner@cli\.example\s+acme/,
    );
    for (const action of ['project.created', 'member.changed', 'key.created', 'key.revoked', 'key.rotated', 'session.revoked']) {
      assert.match(listed.stdout, new RegExp(action.replace('.', '\\.')));
    }
    const verified = await ok(['audit', 'verify']);
    const [, count, seq, head] = /: (\d+) entries, every link holds\.\nhead: (\d+) ([0-9a-f]{64})/.exec(verified.stdout) ?? [];
    assert.ok(Number(count) >= 10, verified.stdout);
    assert.ok(head);
    const kept = `${seq}:${head}`;
    assert.match(verified.stderr, new RegExp(`Next time: latchkey audit verify --org acme --expect-head ${kept}`));
    const report0 = await json(['audit', 'verify']);
    assert.deepEqual(report0.head, { seq: Number(seq), hash: head }, '--json has the head to keep');
    const keptFile = join(home, 'audit-head.json');
    await writeFile(keptFile, JSON.stringify(report0));
    assert.match(
      (await ok(['audit', 'verify', '--expect-head', kept])).stderr,
      /The head you kept \(entry \d+\) is in the trail/,
    );
    await ok(['audit', 'verify', '--expect-head-file', keptFile]);
    for (const args of [
      ['audit', 'verify', '--expect-head', 'not-a-head'],
      ['audit', 'list', '--expect-head', kept],
      ['audit', 'verify', '--expect-head', kept, '--expect-head-file', keptFile],
    ]) {
      assert.equal((await runCli(args, owner)).code, 2, args.join(' '));
    }

    // Someone with access to the store rewrites who revoked a key, keeping the stored hash.
    const redis = worker.redis;
    assert.ok(redis);
    const entries = await json(['audit', 'list', '--limit', '200']);
    const { seq: revokedSeq } = entries.entries.find((entry: { action: string }) => entry.action === 'key.revoked');
    const stored = async (at: number) => AuditEntry.parse(JSON.parse(String(await redis.command(['GET', `aud:acme:${at}`]))));
    const target = await stored(revokedSeq);
    const forged = { ...target, actor: 'someone-else@cli.example' };
    assert.equal(await redis.command(['SET', `aud:acme:${target.seq}`, JSON.stringify(forged), 'KEEPTTL']), 'OK');

    const broken = await runCli(['audit', 'verify'], owner);
    assert.equal(broken.code, 7, broken.stderr);
    assert.match(
      broken.stderr,
      new RegExp(`broken at entry ${target.seq}: entry ${target.seq} was changed after it was written`),
    );
    const report = JSON.parse((await runCli(['audit', 'verify', '--json'], owner)).stdout);
    assert.deepEqual([report.ok, report.seq, report.error.code], [false, target.seq, 'verification_failed']);

    // Re-hashing the forged entry moves the break to the next link, which still names the old hash.
    const { hash: _old, ...unhashed } = forged;
    const rehashed = { ...forged, hash: await auditEntryHash(unhashed) };
    await redis.command(['SET', `aud:acme:${target.seq}`, JSON.stringify(rehashed), 'KEEPTTL']);
    const moved = await runCli(['audit', 'verify'], owner);
    assert.equal(moved.code, 7);
    assert.match(
      moved.stderr,
      new RegExp(`broken at entry ${target.seq + 1}: entry ${target.seq + 1} does not follow entry ${target.seq}`),
    );

    // Re-chaining every entry after it makes a trail whose every link holds: only a kept head shows the rewrite.
    let prev = rehashed.hash;
    for (let at = target.seq + 1; at <= Number(seq); at++) {
      const { hash: _stale, ...rest } = { ...(await stored(at)), prev };
      const relinked = { ...rest, hash: await auditEntryHash(rest) };
      await redis.command(['SET', `aud:acme:${at}`, JSON.stringify(relinked), 'KEEPTTL']);
      prev = relinked.hash;
    }
    await ok(['audit', 'verify']);
    const rewritten = await runCli(['audit', 'verify', '--expect-head', kept], owner);
    assert.equal(rewritten.code, 7, rewritten.stderr);
    assert.match(rewritten.stderr, new RegExp(`rewritten since its head was kept: entry ${seq} is ${prev.slice(0, 12)}`));
    assert.match(rewritten.stderr, new RegExp(`Its head is now ${seq}:${prev}`));
    const fromFile = await runCli(['audit', 'verify', '--expect-head-file', keptFile, '--json'], owner);
    assert.equal(fromFile.code, 7);
    const verdict = JSON.parse(fromFile.stdout);
    assert.deepEqual(
      [verdict.ok, verdict.kept_head.hash, verdict.head.hash, verdict.error.code],
      [false, head, prev, 'verification_failed'],
    );
  });
});
