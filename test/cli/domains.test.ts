/**
 * `latchkey domains` with the compiled binary against the running Worker (real workerd)
 * and a loopback DNS-over-HTTPS resolver: `add` prints the TXT record to publish, `verify`
 * is refused (exit 1, the server's words) until the resolver holds the printed value and
 * then succeeds, `list` shows the state, `remove --confirm` lets it go; another org's
 * admin's CLI is refused the domain while it is verified, and verifies it once removed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildCli, cleanEnv, runCli, tempConfigDir } from '../fixtures/cli-runner.ts';
import { type DohResolver, startDohResolver } from '../fixtures/doh-resolver.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

let worker: RunningWorker;
let resolver: DohResolver;
let acme: Record<string, string>;
let globex: Record<string, string>;

async function asOwner(email: string, org: string): Promise<Record<string, string>> {
  const home = await tempConfigDir();
  const token = (await deviceLogin(worker.url, email)).access_token;
  const env = cleanEnv({ HOME: home, LATCHKEY_CONFIG_DIR: home, LATCHKEY_SERVER: worker.url, LATCHKEY_TOKEN: token });
  await ok(['orgs', 'create', org], env);
  return env;
}

async function ok(args: string[], env: Record<string, string>) {
  const result = await runCli(args, env);
  assert.equal(result.code, 0, `latchkey ${args.join(' ')}: ${result.stderr}`);
  return result;
}

/** The TXT value from `domains add`'s table on stdout. */
const printedValue = (stdout: string) => /(latchkey-domain-verification=\S+)$/m.exec(stdout)?.[1] ?? '';

before(async () => {
  buildCli();
  resolver = await startDohResolver();
  worker = await startWorker({ LATCHKEY_DOH_URL: resolver.url }, { target: 'workerd-kv' });
  acme = await asOwner('owner@acme-cli.example', 'acme');
  globex = await asOwner('owner@globex-cli.example', 'globex');
});
after(async () => {
  await worker?.stop();
  await resolver?.stop();
});

describe('domains', () => {
  test('add, verify refused until published, verify, list, and another org only once it is removed', async () => {
    const added = await ok(['domains', 'add', 'Acme-CLI.Example'], acme);
    assert.match(added.stdout, /^NAME +TYPE +VALUE\n_latchkey-challenge\.acme-cli\.example +TXT +latchkey-domain-verification=/);
    assert.match(added.stderr, /latchkey domains verify acme-cli\.example/);
    const value = printedValue(added.stdout);

    const early = await runCli(['domains', 'verify', 'acme-cli.example'], acme);
    assert.equal(early.code, 1, early.stderr);
    assert.match(early.stderr, /no TXT record _latchkey-challenge\.acme-cli\.example was found/);

    resolver.set('_latchkey-challenge.acme-cli.example', { txt: [[value]] });
    const verified = await ok(['domains', 'verify', 'acme-cli.example'], acme);
    assert.match(verified.stderr, /^Verified acme-cli\.example for acme \(\d{4}-\d\d-\d\dT/);
    const listed = JSON.parse((await ok(['domains', 'list', '--json'], acme)).stdout);
    assert.equal(listed.length, 1);
    assert.equal(listed[0].state, 'verified');
    assert.match(listed[0].verified_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Globex claims it and publishes its own value beside acme's: refused while acme holds it.
    const theirs = printedValue((await ok(['domains', 'add', 'acme-cli.example'], globex)).stdout);
    resolver.set('_latchkey-challenge.acme-cli.example', { txt: [[value], [theirs]] });
    const refused = await runCli(['domains', 'verify', 'acme-cli.example'], globex);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /verified by another org/);

    const removed = await ok(['domains', 'remove', 'acme-cli.example', '--confirm'], acme);
    assert.match(removed.stderr, /^Removed acme-cli\.example from acme/);
    assert.match((await ok(['domains', 'list'], acme)).stderr, /No domains in acme/);
    await ok(['domains', 'verify', 'acme-cli.example'], globex);
  });

  test('a malformed domain is refused by the server in its words', async () => {
    const bad = await runCli(['domains', 'add', '127.0.0.1'], acme);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /not an IP address/);
  });
});
