import { Hono } from 'hono';
import type { HealthResponse } from '../../shared/schemas.ts';
import type { AppEnv } from '../app.ts';

/** Liveness, and whether the store answers within a bound. */
export const healthRoutes = new Hono<AppEnv>();

const STORE_TIMEOUT_MS = 2000;

healthRoutes.get('/healthz', async (c) => {
  const { store } = c.var.deps;
  const answered = await Promise.race([
    store.ping().then(
      () => true,
      () => false,
    ),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), STORE_TIMEOUT_MS)),
  ]);
  const body: HealthResponse = { status: answered ? 'ok' : 'degraded', store: answered ? 'up' : 'down' };
  c.header('Cache-Control', 'no-store');
  return c.json(body, answered ? 200 : 503);
});
