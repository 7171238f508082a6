/**
 * Step-up (RFC 9470) in @latchkey/client: the challenge parser against hostile and odd
 * WWW-Authenticate values; `v1` turning a challenge into `step_up_required` with the
 * server's words escaped; and `stepUp(code)` through the facade against the in-process
 * latchkey on a stepping clock — a right code gives a token that says so (acr, auth_time)
 * and the refused act then goes through; a wrong code is `wrong_code`, nothing stored
 * changes and the same refresh token still works; the wrong-code limit; a token from
 * ACME_TOKEN and a person without an authenticator cannot step up.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createClient } from '../../packages/client/src/client.ts';
import { createLatchkey, LatchkeyError } from '../../packages/client/src/index.ts';
import { parseChallenges, STEP_UP_ERROR, stepUpChallenge } from '../../packages/client/src/step-up.ts';
import { unverifiedClaim } from '../../packages/client/src/token-text.ts';
import { ApiKeyCreated, MFA_ACR } from '../../shared/schemas.ts';
import { totpCodeAt } from '../../worker/mfa/totp.ts';
import { apiJsonCall, ok } from '../fixtures/api-call.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';
import { enrollAuthenticator } from '../fixtures/two-step.ts';

const LATCHKEY_CHALLENGE =
  'Bearer realm="latchkey", error="insufficient_user_authentication", error_description="to make or rotate a key with the admin role you need to prove your second factor", acr_values="urn:latchkey:acr:mfa", max_age=600';

describe('the step-up challenge in WWW-Authenticate', () => {
  test('latchkey’s own challenge: acr_values, max_age and the description', () => {
    assert.deepEqual(stepUpChallenge(LATCHKEY_CHALLENGE), {
      acrValues: [MFA_ACR],
      maxAge: 600,
      description: 'to make or rotate a key with the admin role you need to prove your second factor',
    });
  });

  test('among other challenges, in any case, with quoted commas, escapes and token values', () => {
    const header =
      'Basic realm="a, b", DPoP algs="ES256 EdDSA", BEARER Error=insufficient_user_authentication, ' +
      'ERROR_DESCRIPTION="say \\"code\\", then retry" , acr_values="urn:a urn:b",max_age=0';
    assert.deepEqual(stepUpChallenge(header), {
      acrValues: ['urn:a', 'urn:b'],
      maxAge: 0,
      description: 'say "code", then retry',
    });
    assert.deepEqual(
      parseChallenges(header).map(({ scheme, params }) => [scheme, params && Object.fromEntries(params)]),
      [
        ['basic', { realm: 'a, b' }],
        ['dpop', { algs: 'ES256 EdDSA' }],
        [
          'bearer',
          { error: STEP_UP_ERROR, error_description: 'say "code", then retry', acr_values: 'urn:a urn:b', max_age: '0' },
        ],
      ],
    );
    // A token68 challenge before it (`Negotiate abc==`) is a challenge of its own, without params.
    assert.equal(stepUpChallenge(`Negotiate YWJj==, ${LATCHKEY_CHALLENGE}`)?.maxAge, 600);
  });

  test('no step-up: another error, another scheme, nothing, or a param with no scheme', () => {
    for (const header of [
      null,
      undefined,
      '',
      'Bearer realm="latchkey", error="invalid_token"',
      'Basic error="insufficient_user_authentication"',
      'DPoP error="insufficient_user_authentication"',
      'error="insufficient_user_authentication"',
      'Bearer',
      'Bearer error="insufficient_user_authentication_not"',
    ]) {
      assert.equal(stepUpChallenge(header), null, String(header));
    }
  });

  test('a hostile header: unclosed quote, a param twice, too long, or values that are not what they say are not believed', () => {
    // The parameters of a broken challenge count for nothing (which error would be the real one?).
    assert.equal(stepUpChallenge('Bearer error="insufficient_user_authentication", error="invalid_token"'), null);
    assert.equal(stepUpChallenge('Bearer error="invalid_token", error="insufficient_user_authentication"'), null);
    assert.equal(stepUpChallenge('Bearer error="insufficient_user_authentication", error_description="never ends'), null);
    assert.equal(stepUpChallenge('Bearer error="insufficient_user_authentication", =x'), null);
    const long = `${LATCHKEY_CHALLENGE}, ${'x'.repeat(5000)}="y"`;
    assert.equal(stepUpChallenge(long), null, 'past 4 KiB nothing is read');
    // acr_values that are not space-separated visible words, or a max_age that is no count of seconds: dropped.
    for (const [acr, age] of [
      ['urn:a\u001b[2Jurn:b', '-1'],
      ['urn:a\nurn:b', '1e9'],
      [' urn:a', '9999999999'],
      ['urn:a  urn:b', '10.5'],
      ['', '0x10'],
    ]) {
      const parsed = stepUpChallenge(`Bearer error="${STEP_UP_ERROR}", acr_values="${acr}", max_age="${age}"`);
      assert.deepEqual(parsed && [parsed.acrValues, parsed.maxAge], [[], null], JSON.stringify([acr, age]));
    }
    // The description is kept as sent (a LatchkeyError escapes it when it becomes a message).
    assert.equal(stepUpChallenge(`Bearer error=${STEP_UP_ERROR}, error_description="a\u009b8mb"`)?.description, 'a\u009b8mb');
  });

  test('v1: a challenge in the header, or the error in the body, is step_up_required with the words escaped', async () => {
    const answers: Response[] = [
      // Header only (the body is no error object): the header's words.
      new Response('"no"', {
        status: 401,
        headers: { 'www-authenticate': `Bearer error="${STEP_UP_ERROR}", error_description="prove it\u001b]0;pwned\u0007"` },
      }),
      // Body only: latchkey's error object.
      Response.json({ error: STEP_UP_ERROR, error_description: 'body says\u202eyes\r\nEnter TOTP code: ' }, { status: 401 }),
      // Another 401 stays a refused credential.
      Response.json({ error: 'invalid_token', error_description: 'the token expired' }, { status: 401 }),
      // A challenge on a 403 is no step-up (RFC 9470 answers 401).
      new Response('{}', { status: 403, headers: { 'www-authenticate': `Bearer error="${STEP_UP_ERROR}"` } }),
    ];
    const client = createClient({
      server: 'http://127.0.0.1:9',
      clientId: 'latchkey-cli',
      fetch: async () => answers.shift() as Response,
    });
    const outcome = async () => {
      const error = await client.v1(ApiKeyCreated, 'POST', '/v1/orgs/acme/keys', 'token', {}).catch((caught: unknown) => caught);
      assert.ok(error instanceof LatchkeyError);
      return [error.code, error.message];
    };
    assert.deepEqual(await outcome(), ['step_up_required', 'a second factor is needed: prove it\\u001b]0;pwned\\u0007']);
    assert.deepEqual(await outcome(), [
      'step_up_required',
      'a second factor is needed: body says\\u202eyes\\u000d\\u000aEnter TOTP code: ',
    ]);
    assert.equal((await outcome())[0], 'invalid_credential');
    assert.equal((await outcome())[0], 'access_denied');
  });
});

const PASSPHRASE = 'acme step-up passphrase';
const tempDir = () => mkdtemp(join(tmpdir(), 'latchkey-client-step-up-'));

describe('stepUp(code) through the facade against the in-process latchkey', () => {
  let app: InProcess;
  before(async () => {
    app = await startInProcess({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s' });
  });
  after(() => app.close());

  /** Every form the facade posts to the token endpoint. */
  const tokenForms: URLSearchParams[] = [];
  const recordingFetch: typeof fetch = (input, init) => {
    if (String(input).endsWith('/oauth/token')) tokenForms.push(new URLSearchParams(String(init?.body ?? '')));
    return fetch(input, init);
  };

  /** acme signed in as `email` with the device flow (approved over HTTP), on the server's clock. */
  async function signedIn(email: string, environment: Record<string, string> = {}) {
    const home = await tempDir();
    // A session cache too (a private runtime dir): a step-up must not leave the old token in it.
    const env = {
      HOME: home,
      ACME_CONFIG_DIR: join(home, 'acme'),
      ACME_SECRET_PASSPHRASE: PASSPHRASE,
      XDG_RUNTIME_DIR: await tempDir(),
      ...environment,
    };
    let approval: Promise<unknown> | undefined;
    const acme = createLatchkey({
      appName: 'acme',
      server: app.base,
      loginCommand: 'acme auth login',
      environment: env,
      now: app.now,
      fetch: recordingFetch,
      sleep: async (ms) => {
        await approval;
        app.step(ms);
      },
    });
    await acme.login({
      onDeviceCode: (code) => {
        approval = new FormBrowser(app.base).decide(code.userCode, 'approve', email);
      },
    });
    return { acme, env };
  }

  const failure = async (work: Promise<unknown>) => {
    const error = await work.then(
      () => assert.fail('it should have failed'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof LatchkeyError, String(error));
    return error;
  };

  const adminKey = (token: string, org: string) =>
    apiJsonCall(app.base, 'POST', `/v1/orgs/${org}/keys`, token, { name: 'ops', role: 'admin' });

  test('a right code: the token says mfa, the refused act goes through, the stepped-up login is the stored one', async () => {
    const { acme } = await signedIn('ada@stepup.example');
    await ok(apiJsonCall(app.base, 'POST', '/v1/orgs', await acme.token(), { slug: 'ada-org' }));
    const person = await consolePerson(app.base, 'ada@stepup.example');
    const { secret } = await enrollAuthenticator(person, app.now());

    const before = await acme.token();
    const refused = await adminKey(before, 'ada-org');
    assert.equal(refused.status, 401);
    const client = createClient({ server: app.base, clientId: 'latchkey-cli' });
    const challenge = await failure(
      client.v1(ApiKeyCreated, 'POST', '/v1/orgs/ada-org/keys', before, { name: 'x', role: 'admin' }),
    );
    assert.equal(challenge.code, 'step_up_required');
    assert.match(challenge.message, /^a second factor is needed: to make or rotate a key with the admin role/);

    const stepped = await acme.stepUp(` ${await totpCodeAt(secret, app.now() + 30_000)} `);
    assert.notEqual(stepped, before);
    assert.equal(unverifiedClaim(stepped, 'acr'), MFA_ACR);
    assert.equal(unverifiedClaim(stepped, 'auth_time'), Math.floor(app.now() / 1000));
    assert.equal(tokenForms.at(-1)?.get('otp'), await totpCodeAt(secret, app.now() + 30_000), 'sent trimmed');
    assert.equal(await acme.token(), stepped, 'kept in the secret store, and not the cached token of before');
    assert.equal((await adminKey(stepped, 'ada-org')).status, 201);
  });

  test('a step-up and a refresh at once take turns under the lock: no refresh token twice, the session lives, the token says mfa', async () => {
    const { acme } = await signedIn('eve@stepup.example');
    await ok(apiJsonCall(app.base, 'POST', '/v1/orgs', await acme.token(), { slug: 'eve-org' }));
    const person = await consolePerson(app.base, 'eve@stepup.example');
    const { secret } = await enrollAuthenticator(person, app.now());
    app.step(15 * 60_000 - 30_000); // the access token is inside the refresh margin
    const sent = tokenForms.length;
    const [refreshed] = await Promise.all([acme.token(), acme.stepUp(await totpCodeAt(secret, app.now() + 30_000))]);
    const presented = tokenForms.slice(sent).map((form) => form.get('refresh_token'));
    assert.equal(new Set(presented).size, presented.length, `a refresh token presented twice: ${presented.join(', ')}`);
    const last = await acme.token();
    assert.equal(unverifiedClaim(last, 'acr'), MFA_ACR);
    assert.ok(refreshed);
    assert.equal((await adminKey(last, 'eve-org')).status, 201, 'the session was not revoked as a reuse');
  });

  test('a wrong code: wrong_code, nothing stored changes, the same refresh token then steps up; the sixth code is limited', async () => {
    const { acme } = await signedIn('bea@stepup.example');
    const person = await consolePerson(app.base, 'bea@stepup.example');
    const { secret } = await enrollAuthenticator(person, app.now());
    const before = await acme.token();
    const near = await Promise.all([-30_000, 0, 30_000, 60_000].map((shift) => totpCodeAt(secret, app.now() + shift)));
    const wrong = ['123456', '654321', '000001'].find((code) => !near.includes(code)) as string;

    const sent = tokenForms.length;
    const refused = await failure(acme.stepUp(wrong));
    assert.equal(refused.code, 'wrong_code');
    assert.match(refused.message, /^the code was refused: that code is not right/);
    assert.equal(await acme.token(), before, 'the stored login is as it was');
    const presented = tokenForms[sent]?.get('refresh_token');

    const stepped = await acme.stepUp(await totpCodeAt(secret, app.now() + 30_000));
    assert.equal(tokenForms.at(-1)?.get('refresh_token'), presented, 'the same refresh token, which the server had not spent');
    assert.equal(unverifiedClaim(stepped, 'acr'), MFA_ACR);

    // Four more wrong codes (five in all): the next, even a right one, is limited.
    for (let i = 0; i < 4; i++) assert.equal((await failure(acme.stepUp(wrong))).code, 'wrong_code');
    const limited = await failure(acme.stepUp(await totpCodeAt(secret, app.now() + 30_000)));
    assert.equal(limited.code, 'access_denied');
    assert.match(limited.message, /too many wrong codes/);
    // None of it ended the session: an ordinary refresh still works.
    app.step(15 * 60_000);
    assert.notEqual(await acme.token(), stepped);
  });

  test('cannot step up: a token from ACME_TOKEN, a person without an authenticator, what cannot be a code', async () => {
    const { acme, env } = await signedIn('cy@stepup.example');
    const viaEnv = createLatchkey({ appName: 'acme', server: app.base, environment: { ...env, ACME_TOKEN: await acme.token() } });
    const fromEnv = await failure(viaEnv.stepUp('123456'));
    assert.equal(fromEnv.code, 'step_up_required');
    assert.match(fromEnv.message, /the token in ACME_TOKEN .* cannot prove a second factor/);

    const sent = tokenForms.length;
    const noFactor = await failure(acme.stepUp('123456'));
    assert.equal(noFactor.code, 'failed');
    assert.match(noFactor.message, /you have no second factor to prove; add an authenticator app at/);
    assert.equal(tokenForms.length, sent + 1);

    for (const typed of ['', '   ', '1'.repeat(65), '123\u001b456']) {
      assert.equal((await failure(acme.stepUp(typed))).code, 'usage', JSON.stringify(typed));
    }
    assert.equal(tokenForms.length, sent + 1, 'nothing sent for what cannot be a code');
  });
});
