/**
 * The Store contract against `denoKvStore` on a real Deno KV file, run inside Deno
 * (Deno KV exists only there) and reached over the test-only store protocol.
 */
import { startDenoKvStore } from '../fixtures/store-worker/http-store.ts';
import { storeContract } from '../store.contract.ts';

storeContract('denoKvStore in Deno (Deno KV on SQLite)', startDenoKvStore);
