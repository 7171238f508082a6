/**
 * `latchkey domains` in process (test/fixtures/cli-fakes.ts) against a fake server: argv
 * errors are usage errors before anything is sent; `add` prints the TXT record on stdout
 * and what to do on stderr; `list` is a table and `--json` the same objects with RFC 3339
 * times; `remove` asks first; the server's refusal is printed in its words; server text
 * with terminal escapes is printed escaped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createClient } from '../../packages/client/src/client.ts';
import type { DomainInfo } from '../../shared/schemas.ts';
import { runWith } from '../fixtures/cli-fakes.ts';
import { fakeV1Server } from '../fixtures/fake-v1-server.ts';

const NOW = Date.UTC(2026, 11, 5, 6, 0, 0);
const env = { LATCHKEY_TOKEN: 'a.b.c', LATCHKEY_SERVER: 'http://latchkey.test', LATCHKEY_ORG: 'acme' };

const info = (domain: string, overrides: Partial<DomainInfo> = {}): DomainInfo => ({
  domain,
  state: 'pending',
  claimed_at: NOW / 1000 - 60,
  claimed_by: 'owner@acme.example',
  verified_at: null,
  record: { type: 'TXT', name: `_latchkey-challenge.${domain}`, value: 'latchkey-domain-verification=tok123' },
  ...overrides,
});

describe('latchkey domains', () => {
  test('argv errors are usage errors with the exact message, and nothing is sent', async () => {
    const server = fakeV1Server({});
    for (const [argv, stderr] of [
      [['domains', 'add'], 'latchkey: usage: latchkey domains add DOMAIN\n'],
      [['domains', 'verify'], 'latchkey: usage: latchkey domains verify DOMAIN\n'],
      [['domains', 'remove'], 'latchkey: usage: latchkey domains remove DOMAIN [--confirm]\n'],
      [['domains', 'claim', 'x.example'], 'latchkey: unknown action "domains claim"; use list, add, verify or remove\n'],
      [['domains', 'list', 'x.example'], 'latchkey: usage: latchkey domains list\n'],
    ] as const) {
      assert.deepEqual(await runWith([...argv], { env, client: server.client }), { code: 2, stdout: '', stderr }, argv.join(' '));
    }
    const extra = await runWith(['domains', 'add', 'a.example', 'b.example'], { env, client: server.client });
    assert.equal(extra.code, 2);
    assert.deepEqual(server.asked, []);
  });

  test('add: the record on stdout, what to do on stderr; --json the object with RFC 3339 times', async () => {
    const server = fakeV1Server({ 'POST /v1/orgs/acme/domains': { status: 201, body: info('acme.example') } });
    const ran = await runWith(['domains', 'add', 'Acme.Example'], { env, client: server.client, now: () => NOW });
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(server.asked, ['POST /v1/orgs/acme/domains {"domain":"Acme.Example"}']);
    assert.equal(
      ran.stdout,
      'NAME                              TYPE  VALUE\n_latchkey-challenge.acme.example  TXT   latchkey-domain-verification=tok123\n',
    );
    assert.match(ran.stderr, /^Claimed acme\.example for acme\. Publish this TXT record/);
    assert.match(ran.stderr, /then run `latchkey domains verify acme\.example`/);
    const json = await runWith(['domains', 'add', 'acme.example', '--json'], { env, client: server.client });
    const printed = JSON.parse(json.stdout);
    assert.equal(printed.claimed_at, '2026-12-05T05:59:00Z');
    assert.deepEqual(printed.record, info('acme.example').record);
    assert.equal(json.stderr, '');
  });

  test('list: a table with the pending record; none: a hint on stderr', async () => {
    const verified = info('done.example', { state: 'verified', verified_at: NOW / 1000 });
    const server = fakeV1Server({ 'GET /v1/orgs/acme/domains': { body: { domains: [info('acme.example'), verified] } } });
    const ran = await runWith(['domains'], { env, client: server.client });
    assert.equal(ran.code, 0, ran.stderr);
    const lines = ran.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^DOMAIN +STATE +VERIFIED +CLAIMED BY +TXT RECORD$/);
    assert.match(
      lines[1] ?? '',
      /^acme\.example +pending .*_latchkey-challenge\.acme\.example latchkey-domain-verification=tok123$/,
    );
    assert.match(lines[2] ?? '', /^done\.example +verified +2026-12-05T06:00:00Z +owner@acme\.example$/);
    const empty = fakeV1Server({ 'GET /v1/orgs/acme/domains': { body: { domains: [] } } });
    const none = await runWith(['domains', 'list'], { env, client: empty.client });
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /No domains in acme\. Claim one with `latchkey domains add DOMAIN`/);
  });

  test("verify: done on stderr; the server's refusal in its words, exit non-zero", async () => {
    const server = fakeV1Server({
      'POST /v1/orgs/acme/domains/acme.example/verify': {
        body: info('acme.example', { state: 'verified', verified_at: NOW / 1000 }),
      },
      'POST /v1/orgs/acme/domains/taken.example/verify': {
        status: 409,
        body: { error: 'conflict', error_description: 'the domain taken.example is verified by another org' },
      },
    });
    const ran = await runWith(['domains', 'verify', 'acme.example'], { env, client: server.client });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stderr, 'Verified acme.example for acme (2026-12-05T06:00:00Z).\n');
    const refused = await runWith(['domains', 'verify', 'taken.example'], { env, client: server.client });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /verified by another org/);
  });

  test('remove asks first (without a terminal, --confirm is required); the name goes in the path, encoded', async () => {
    const server = fakeV1Server({ 'DELETE /v1/orgs/acme/domains/acme.example': { body: info('acme.example') } });
    const unconfirmed = await runWith(['domains', 'remove', 'acme.example'], { env, client: server.client });
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /any org may then verify it\. Pass --confirm/);
    assert.deepEqual(server.asked, []);
    const declined = await runWith(['domains', 'remove', 'acme.example'], { env, client: server.client, answers: ['n'] });
    assert.equal(declined.code, 130);
    assert.deepEqual(server.asked, []);
    const removed = await runWith(['domains', 'remove', 'acme.example', '--confirm'], { env, client: server.client });
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(
      removed.stderr,
      /^Removed acme\.example from acme; its TXT record _latchkey-challenge\.acme\.example may be deleted/,
    );
    const odd = fakeV1Server({});
    await runWith(['domains', 'verify', '../keys/x?y'], { env, client: odd.client });
    assert.deepEqual(odd.asked, ['POST /v1/orgs/acme/domains/..%2Fkeys%2Fx%3Fy/verify']);
  });

  test("a hostile server's text is printed escaped: no terminal escapes, no extra lines", async () => {
    const evil = info('acme.example', {
      claimed_by: 'x\u001b]52;c;cGF5bG9hZA==\u0007',
      record: { type: 'TXT', name: '_latchkey-challenge.acme.example\nFAKE LINE', value: 'v\u001b[2J' },
    });
    const server = fakeV1Server({
      'GET /v1/orgs/acme/domains': { body: { domains: [evil] } },
      'POST /v1/orgs/acme/domains': { status: 201, body: { ...evil, domain: 'acme.example\u001b[31m' } },
    });
    for (const argv of [
      ['domains', 'list'],
      ['domains', 'add', 'acme.example'],
    ]) {
      const ran = await runWith(argv, { env, client: server.client });
      assert.equal(ran.code, 0, ran.stderr);
      assert.doesNotMatch(ran.stdout + ran.stderr, /\u001b|\u0007/, argv.join(' '));
      assert.doesNotMatch(ran.stdout, /\nFAKE LINE/, argv.join(' '));
    }
  });
});
