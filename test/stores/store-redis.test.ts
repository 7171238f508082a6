/**
 * The Store contract against the real `@upstash/redis` client and a real redis-server,
 * joined by the REST bridge of the fixtures.
 */
import { upstashStore } from '../../worker/store/upstash-redis.ts';
import { startRedisBridge } from '../fixtures/upstash-bridge.ts';
import { storeContract } from '../store.contract.ts';

storeContract('upstashStore on redis-server', async () => {
  const redis = await startRedisBridge();
  return { store: upstashStore({ url: redis.url, token: redis.token }), close: () => redis.stop() };
});
