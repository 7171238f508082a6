/**
 * `latchkey orgs mfa` in process (test/fixtures/cli-fakes.ts) against a fake server: argv
 * errors are usage errors with the exact message before anything is sent; reading prints
 * one line on stdout (`--json` the object); `--require` asks first at a terminal (no: nothing
 * sent) and wants --confirm without one; what it did goes to stderr; the server's refusal is
 * printed in its words (exit 3); server text with terminal escapes is printed escaped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runWith } from '../fixtures/cli-fakes.ts';
import { fakeV1Server } from '../fixtures/fake-v1-server.ts';

const env = { LATCHKEY_TOKEN: 'a.b.c', LATCHKEY_SERVER: 'http://latchkey.test', LATCHKEY_ORG: 'acme' };
const AT = '/v1/orgs/acme/mfa';

describe('latchkey orgs mfa', () => {
  test('argv errors are usage errors with the exact message, and nothing is sent', async () => {
    const server = fakeV1Server({});
    for (const [argv, stderr] of [
      [['orgs', 'mfa', '--require', '--allow'], 'latchkey: choose one of --require and --allow\n'],
      [['orgs', 'show', 'acme', '--allow'], 'latchkey: --allow goes with `orgs mfa` only\n'],
      [['orgs', 'list', '--confirm'], 'latchkey: --confirm goes with `orgs mfa` only\n'],
      [
        ['orgs', 'mfa', '--require'],
        'latchkey: Require two-step sign-in in acme? Its sessions without a second factor end now, and members without one are refused until they add one. Pass --confirm to do this without a prompt.\n',
      ],
    ] as const) {
      assert.deepEqual(await runWith([...argv], { env, client: server.client }), { code: 2, stdout: '', stderr }, argv.join(' '));
    }
    assert.deepEqual(server.asked, []);
  });

  test('reading: one line on stdout, or the object with --json; the org from --org, LATCHKEY_ORG or the argument', async () => {
    const server = fakeV1Server({
      [`GET ${AT}`]: { body: { org: 'acme', required: true } },
      'GET /v1/orgs/globex/mfa': { body: { org: 'globex', required: false } },
    });
    assert.deepEqual(await runWith(['orgs', 'mfa'], { env, client: server.client }), {
      code: 0,
      stdout: 'acme: two-step sign-in required of every member\n',
      stderr: '',
    });
    assert.equal(
      (await runWith(['orgs', 'mfa', 'globex'], { env, client: server.client })).stdout,
      'globex: two-step sign-in not required\n',
    );
    const json = await runWith(['orgs', 'mfa', '--org', 'globex', '--json'], { env, client: server.client });
    assert.deepEqual(JSON.parse(json.stdout), { org: 'globex', required: false });
    assert.deepEqual(server.asked, [`GET ${AT}`, 'GET /v1/orgs/globex/mfa', 'GET /v1/orgs/globex/mfa']);
  });

  test('--require asks at a terminal: no sends nothing; yes sends {"required": true} and says what ended', async () => {
    const server = fakeV1Server({ [`PUT ${AT}`]: { body: { org: 'acme', required: true, sessions_ended: 3 } } });
    const declined = await runWith(['orgs', 'mfa', '--require'], { env, client: server.client, answers: ['n'] });
    assert.equal(declined.code, 130);
    assert.deepEqual(server.asked, []);
    const done = await runWith(['orgs', 'mfa', '--require'], { env, client: server.client, answers: ['y'] });
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, '');
    assert.match(
      done.stderr,
      /Require two-step sign-in in acme\? .* \[y\/N\] acme now requires two-step sign-in; 3 sessions without it ended\.\n$/,
    );
    assert.deepEqual(server.asked, [`PUT ${AT} {"required":true}`]);
  });

  test('--allow sends {"required": false}; a refusal is exit 3 in the server’s words; server text is printed escaped', async () => {
    const server = fakeV1Server({
      [`PUT ${AT}`]: {
        status: 403,
        body: {
          error: 'mfa_required',
          error_description: 'org "acme" requires two-step sign-in: add an authenticator at /console/two-step\u001b[2J',
        },
      },
      'PUT /v1/orgs/evil/mfa': { body: { org: 'ev\u001b]0;pwned\u0007il', required: false, sessions_ended: 0 } },
    });
    const refused = await runWith(['orgs', 'mfa', '--allow'], { env, client: server.client });
    assert.equal(refused.code, 3);
    assert.match(
      refused.stderr,
      /not allowed: org "acme" requires two-step sign-in: add an authenticator at \/console\/two-step/,
    );
    assert.doesNotMatch(refused.stderr, /\u001b/);
    const hostile = await runWith(['orgs', 'mfa', 'evil', '--allow'], { env, client: server.client });
    assert.equal(hostile.code, 0, hostile.stderr);
    assert.doesNotMatch(hostile.stderr, /[\u0000-\u0008\u000b-\u001f\u007f]/);
    assert.match(hostile.stderr, /no longer requires two-step sign-in\.\n$/);
    assert.deepEqual(server.asked, [`PUT ${AT} {"required":false}`, 'PUT /v1/orgs/evil/mfa {"required":false}']);
  });
});
