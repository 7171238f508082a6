/**
 * `status --all` in process (test/fixtures/cli-fakes.ts): what it learns from a server
 * about a context's session must outlive the run, even when the run itself renewed the
 * context's access token on the way (the compiled binary against a Worker is
 * test/cli/status-all.test.ts).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createClient } from '../../cli/client.ts';
import { encryptedFileStore } from '../../cli/secrets/encrypted-file.ts';
import { fakeConfigDir, runWith } from '../fixtures/cli-fakes.ts';

const SERVER = 'https://latchkey.example';
const PASSPHRASE = 'violet kettle 42';

test('a session /v1/me calls revoked right after this run renewed its token is marked: the next `token` exits 3', async () => {
  const dir = await fakeConfigDir();
  const context = {
    server: SERVER,
    clientId: 'latchkey-cli',
    secretStore: 'encrypted-file',
    secretStoreReason: 'test',
    user: { sub: 'usr_1', email: 'ada@example.com' },
    kind: 'user',
    org: null,
    project: null,
    createdAt: '2026-01-01T00:00:00.000Z',
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify({ version: 1, current: 'work', contexts: { work: context } }));
  const store = encryptedFileStore({
    dir,
    name: 'encrypted-file',
    keySource: { source: 'scrypt', passphrase: async () => PASSPHRASE },
  });
  // Expired: status --all renews it before it asks /v1/me.
  await store.write('work', { access_token: 'old-access', refresh_token: 'refresh-1', expires_at: 1 });

  const asked: string[] = [];
  const server = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    asked.push(`${url} ${new Headers(init?.headers).get('authorization') ?? ''}`);
    if (url.endsWith('/oauth/token')) {
      const tokens = {
        access_token: 'new-access',
        token_type: 'Bearer',
        expires_in: 900,
        refresh_token: 'refresh-2',
        scope: 'read',
      };
      return Response.json(tokens);
    }
    // An admin ended the session between the renewal and this question.
    return Response.json({ error: 'invalid_token', error_description: 'the session was revoked' }, { status: 401 });
  }) as typeof fetch;
  const deps = {
    dir,
    env: { LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE },
    fetch: server,
    client: async (url: string, clientId: string) => createClient({ server: url, clientId, fetch: server }),
  };

  const all = await runWith(['status', '--all', '--json'], deps);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(JSON.parse(all.stdout)[0].state, 'revoked');
  assert.deepEqual(asked, [`${SERVER}/oauth/token `, `${SERVER}/v1/me Bearer new-access`]);

  const token = await runWith(['token'], deps);
  assert.equal(token.code, 3, token.stdout);
  assert.equal(token.stdout, '');
  assert.match(token.stderr, /the server ended the session of context "work" .*run `latchkey login --name work` again/);
});
