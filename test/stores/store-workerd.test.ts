/**
 * The Store contract against the real Cloudflare adapter: `cloudflareStore` on local KV and
 * the `AtomicStore` Durable Object, inside workerd (test/fixtures/store-worker/).
 */
import { startStoreWorker } from '../fixtures/store-worker/http-store.ts';
import { storeContract } from '../store.contract.ts';

storeContract('cloudflareStore in workerd (KV + Durable Object)', startStoreWorker);
