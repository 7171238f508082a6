import type { Context } from 'hono';
import { MemberEmail, SessionId } from '../../../shared/schemas.ts';
import { registeredOrgs } from '../../accounts/orgs.ts';
import { revokeSession, sessionsSeenBy } from '../../accounts/sessions.ts';
import type { AppEnv } from '../../app.ts';
import { consolePost, othersSessionGate } from '../../http/console.ts';
import { parseInput } from '../../http/form.ts';
import { consolePage } from '../../pages/console/layout.ts';
import { operatorBody } from '../../pages/console/operator.ts';
import { consoleSection, pageUser } from './env.ts';
import { clientNamer } from './you.ts';

/**
 * The operator page: only for LATCHKEY_OPERATORS; anyone else finds no such page. Listing
 * and ending another person's sessions are the same account functions as `GET
 * /v1/sessions?email=` and `POST /v1/sessions/{sid}/revoke`, which hold the operator rule.
 */
export const operatorConsole = consoleSection();

const lookupPath = (email: string) => `/console/operator?email=${encodeURIComponent(email)}`;

operatorConsole.get('/console/operator', async (c) => {
  const user = pageUser(c);
  if (!user.operator) return c.notFound();
  const services = c.var.services;
  const asked = c.req.query('email');
  const email = asked === undefined || asked === '' ? null : parseInput(MemberEmail, asked).toLowerCase();
  const [orgs, sessions] = await Promise.all([
    registeredOrgs(services),
    email === null ? null : sessionsSeenBy(services, user.principal, () => email),
  ]);
  return consolePage(c, {
    user,
    title: 'Operator',
    at: { page: 'operator' },
    body: operatorBody({
      csrf: user.csrf,
      orgs,
      lookup: email === null || sessions === null ? null : { email, sessions },
      clientName: clientNamer(services.config),
    }),
  });
});

operatorConsole.post('/console/operator/sessions/:sid/revoke', async (c: Context<AppEnv>) => {
  const { form, user } = await consolePost(c);
  if (!user.operator) return c.notFound();
  const sid = parseInput(SessionId, c.req.param('sid'));
  await revokeSession(c.var.services, user.principal, sid, user.source, othersSessionGate(c, user));
  const email = form.email ? parseInput(MemberEmail, form.email).toLowerCase() : null;
  c.header('Cache-Control', 'no-store');
  return c.redirect(`${email ? `${lookupPath(email)}&` : '/console/operator?'}notice=session-revoked`, 303);
});
