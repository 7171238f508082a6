/**
 * cli/secrets/encrypted-file.ts: the scrypt parameters a sealed file's header names are
 * held to a floor and a cap before any key is derived, and a write never inherits them.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CliError } from '../../cli/errors.ts';
import { encryptedFileStore, SCRYPT, scryptParamsAllowed } from '../../packages/client/src/secrets/encrypted-file.ts';
import { tempDir } from '../fixtures/cli-runner.ts';

test('the floor is today’s cost; the cap bounds memory and time; N is a power of two', () => {
  const rows: [{ N: number; r: number; p: number }, boolean][] = [
    [SCRYPT, true],
    [{ N: 2 ** 16, r: 8, p: 2 }, true],
    [{ N: 2 ** 17, r: 8, p: 4 }, true],
    [{ N: 2 ** 14, r: 8, p: 1 }, false],
    [{ N: 2 ** 15, r: 4, p: 1 }, false],
    [{ N: 2 ** 15, r: 8, p: 0 }, false],
    [{ N: 2 ** 18, r: 8, p: 1 }, false],
    [{ N: 2 ** 15, r: 64, p: 1 }, false],
    [{ N: 2 ** 15, r: 8, p: 5 }, false],
    [{ N: 2 ** 30, r: 8, p: 1 }, false],
    [{ N: 3 * 2 ** 14, r: 8, p: 1 }, false],
    [{ N: 2 ** 15 + 0.5, r: 8, p: 1 }, false],
  ];
  for (const [params, allowed] of rows) assert.equal(scryptParamsAllowed(params), allowed, JSON.stringify(params));
});

test('a write over a file whose header was weakened seals with today’s parameters and a fresh salt', async () => {
  const dir = await tempDir();
  const store = encryptedFileStore({
    dir,
    name: 'encrypted-file',
    keySource: { source: 'scrypt', passphrase: async () => 'pw' },
  });
  const path = join(dir, 'secrets', 'ctx.enc');
  const weak = {
    v: 1,
    key: { source: 'scrypt', salt: 'AAAAAAAAAAAAAAAAAAAAAA==', N: 16, r: 1, p: 1 },
    iv: 'x',
    tag: 'x',
    data: 'x',
  };
  await mkdir(join(dir, 'secrets'), { recursive: true });
  await writeFile(path, JSON.stringify(weak));
  await assert.rejects(
    store.read('ctx'),
    (error: unknown) => error instanceof CliError && error.code === 'secret_file_corrupt' && /N=16 r=1 p=1/.test(error.message),
  );
  await store.write('ctx', { access_token: 't', refresh_token: null, expires_at: null });
  const { key } = JSON.parse(await readFile(path, 'utf8'));
  assert.deepEqual({ N: key.N, r: key.r, p: key.p }, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  assert.notEqual(key.salt, weak.key.salt);
  assert.equal((await store.read('ctx'))?.access_token, 't');
});
