import { type Context, Hono } from 'hono';
import type { AppEnv } from '../../app.ts';
import type { ConsoleUser } from '../../http/console.ts';

export const consoleSection = () => new Hono<AppEnv>();

/** The signed-in person on a console page, which the console's middleware has checked (routes/console/index.ts). */
export function pageUser(c: Context<AppEnv>): ConsoleUser {
  const user = c.var.consoleUser;
  if (!user) throw new Error('a console page was reached without its sign-in check');
  return user;
}
