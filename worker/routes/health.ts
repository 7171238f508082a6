import { Hono } from 'hono';
import type { HealthResponse } from '../../shared/schemas.ts';
import type { AppEnv } from '../app.ts';
import { bounded } from '../store/store.ts';

/** Liveness, and whether the store answers within a bound. */
export const healthRoutes = new Hono<AppEnv>();

healthRoutes.get('/healthz', async (c) => {
  const { store } = c.var.deps;
  const answered = await bounded('ping', () => store.ping()).then(
    () => true,
    () => false,
  );
  const body: HealthResponse = { status: answered ? 'ok' : 'degraded', store: answered ? 'up' : 'down' };
  c.header('Cache-Control', 'no-store');
  return c.json(body, answered ? 200 : 503);
});
