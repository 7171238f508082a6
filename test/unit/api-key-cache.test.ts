/**
 * API-key checks reuse a record for at most LATCHKEY_SESSION_CACHE, so every way of ending
 * a key answers only once that bound has passed — the second of two revocations too, or it
 * could answer while another isolate still admits the key. In process, on the memory store,
 * with a short bound so the waits are measurable.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authenticateApiKey, createApiKey, revokeApiKeyHeldBy } from '../../worker/accounts/api-keys.ts';
import { parseConfig } from '../../worker/config.ts';
import { servicesLoader } from '../../worker/services.ts';
import { memoryStore } from '../../worker/store/memory.ts';

const BOUND_MS = 300;

test('a key revoked twice at once: neither answer comes before the cache bound', async () => {
  const config = parseConfig({ LATCHKEY_ISSUER: 'http://127.0.0.1:8787', LATCHKEY_SESSION_CACHE: `${BOUND_MS}ms` });
  const services = await servicesLoader(config, { store: memoryStore() })();
  const source = { actor: 'ada@example.com', requestId: 'req_test' };
  const { key } = await createApiKey(
    services,
    { org: 'acme', project: null, role: 'member', name: 'ci', expiresIn: 3600 },
    source,
  );
  assert.equal((await authenticateApiKey(services, key)).kind, 'api_key'); // this isolate now holds a copy

  const started = performance.now();
  const answered: number[] = [];
  await Promise.all(
    [0, 1].map(async () => {
      await revokeApiKeyHeldBy(services, key, 'req_test');
      answered.push(performance.now() - started);
    }),
  );
  for (const after of answered) assert.ok(after >= BOUND_MS - 5, `a revocation answered after ${Math.round(after)} ms`);
  await assert.rejects(authenticateApiKey(services, key), /revoked/);
});
