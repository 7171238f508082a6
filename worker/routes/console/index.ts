import { endThisWebSession } from '../../http/browser.ts';
import { consolePost, consoleUser } from '../../http/console.ts';
import { CONSOLE_SCRIPT } from '../../pages/console/script.ts';
import { signInPage } from '../sign-in.ts';
import { auditConsole } from './audit.ts';
import { consoleSection } from './env.ts';
import { keysConsole } from './keys.ts';
import { membersConsole } from './members.ts';
import { operatorConsole } from './operator.ts';
import { orgsConsole } from './orgs.ts';
import { policiesConsole } from './policies.ts';
import { ssoConsole } from './sso.ts';
import { twoStepConsole } from './two-step.ts';
import { youConsole } from './you.ts';

/**
 * The web console at /console: server-rendered pages whose forms post back here, each
 * action the same account function (and so the same role check and audit) as its /v1
 * route. A page without a sign-in shows the sign-in form and comes back after it.
 */
export const consoleRoutes = consoleSection();

consoleRoutes.on(['GET', 'HEAD'], ['/console', '/console/*'], async (c, next) => {
  const user = await consoleUser(c);
  if (!user) {
    const url = new URL(c.req.url);
    return signInPage(c, `${url.pathname}${url.search}`);
  }
  c.set('consoleUser', user);
  await next();
});

consoleRoutes.post('/console/signout', async (c) => {
  await consolePost(c);
  await endThisWebSession(c);
  c.header('Cache-Control', 'no-store');
  return c.redirect('/console', 303);
});

consoleRoutes.get('/assets/console.js', (c) => {
  c.header('Cache-Control', 'public, max-age=3600');
  c.header('Content-Type', 'text/javascript; charset=utf-8');
  c.header('X-Content-Type-Options', 'nosniff');
  return c.body(CONSOLE_SCRIPT);
});

for (const section of [
  youConsole,
  twoStepConsole,
  orgsConsole,
  membersConsole,
  keysConsole,
  policiesConsole,
  ssoConsole,
  auditConsole,
  operatorConsole,
]) {
  consoleRoutes.route('/', section);
}
