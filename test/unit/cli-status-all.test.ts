/**
 * `status --all` in process (test/fixtures/cli-fakes.ts): what it learns from a server
 * about a context's session must outlive the run, even when the run itself renewed the
 * context's access token on the way (the compiled binary against a Worker is
 * test/cli/status-all.test.ts), and however much a server sends, a row reads at most
 * 64 KiB of it.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createClient } from '../../packages/client/src/client.ts';
import { encryptedFileStore } from '../../packages/client/src/secrets/encrypted-file.ts';
import { fakeConfigDir, runWith } from '../fixtures/cli-fakes.ts';

const SERVER = 'https://latchkey.example';
const PASSPHRASE = 'violet kettle 42';

/** A context of `server` whose credential is in the encrypted file. */
const contextOf = (server: string) => ({
  server,
  clientId: 'latchkey-cli',
  secretStore: 'encrypted-file',
  secretStoreReason: 'test',
  user: { sub: 'usr_1', email: 'ada@example.com' },
  kind: 'user',
  org: null,
  project: null,
  createdAt: '2026-01-01T00:00:00.000Z',
});

test('a session /v1/me calls revoked right after this run renewed its token is marked: the next `token` exits 3', async () => {
  const dir = await fakeConfigDir();
  const context = contextOf(SERVER);
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

test('an answer of more than 64 KiB is a server error for that row, read no further, even when what came is a valid /v1/me', {
  timeout: 20_000,
}, async () => {
  const dir = await fakeConfigDir();
  const servers = { padded: 'https://padded.example', endless: 'https://endless.example', fine: 'https://fine.example' };
  const contexts = Object.fromEntries(Object.entries(servers).map(([name, server]) => [name, contextOf(server)]));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ version: 1, current: 'fine', contexts }));
  const store = encryptedFileStore({
    dir,
    name: 'encrypted-file',
    keySource: { source: 'scrypt', passphrase: async () => PASSPHRASE },
  });
  for (const name of Object.keys(servers)) {
    await store.write(name, { access_token: `access-${name}`, refresh_token: null, expires_at: 4_000_000_000 });
  }
  const me = {
    sub: 'usr_1',
    kind: 'user',
    email: 'ada@example.com',
    org: null,
    project: null,
    scope: 'read',
    exp: 4_000_000_000,
    session_id: null,
    client_id: 'latchkey-cli',
  };
  let endlessChunks = 0;
  const server = (async (input: string | URL | Request) => {
    const url = String(input);
    // A valid answer with 100 KiB more in a field the schema drops: read whole, it would pass.
    if (url.startsWith(servers.padded)) return Response.json({ ...me, padding: 'x'.repeat(100 * 1024) });
    if (url.startsWith(servers.endless)) {
      // A body that never ends, with no Content-Length to refuse it by.
      const chunk = new TextEncoder().encode(`${JSON.stringify(me).slice(0, -1)},"padding":"`.padEnd(16 * 1024, 'x'));
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          endlessChunks++;
          controller.enqueue(endlessChunks === 1 ? chunk : new Uint8Array(16 * 1024).fill(0x78));
        },
      });
      return new Response(body, { headers: { 'content-type': 'application/json' } });
    }
    return Response.json(me);
  }) as typeof fetch;
  const all = await runWith(['status', '--all', '--json'], {
    dir,
    env: { LATCHKEY_CONFIG_DIR: dir, LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE },
    fetch: server,
  });
  assert.equal(all.code, 0, all.stderr);
  const rows = Object.fromEntries(
    (JSON.parse(all.stdout) as Array<{ context: string; state: string; message: string | null }>).map((row) => [
      row.context,
      [row.state, row.message],
    ]),
  );
  assert.deepEqual(rows, {
    padded: ['server_error', 'answered /v1/me with more than 64 KiB'],
    endless: ['server_error', 'answered /v1/me with more than 64 KiB'],
    fine: ['valid', null],
  });
  assert.ok(endlessChunks <= 6, `read ${endlessChunks} chunks of 16 KiB of an endless body`);
});
