/**
 * The console's SSO page for an org: the same account functions as `/v1/orgs/{org}/sso`
 * (readConnection, writeConnection, startTestSignIn, removeConnection: their role checks,
 * rules and audit entries). A refused write shows the form again with the reason and what
 * was typed, never the secret. Saving, switching and removing change who may sign in, so
 * they want a recent sign-in, as deleting a trust policy does.
 */
import type { Context } from 'hono';
import { OAuthError } from '../../../shared/errors.ts';
import type { SsoConnectionWrite } from '../../../shared/schemas.ts';
import { readConnection, removeConnection, ssoCallbackUri, writeConnection } from '../../accounts/sso-connections.ts';
import { SSO_SIGN_IN_SECONDS, startTestSignIn } from '../../accounts/sso-sign-in.ts';
import type { AppEnv } from '../../app.ts';
import { orgParam } from '../../http/caller.ts';
import { backTo, type ConsoleUser, consolePost, signedInRecently } from '../../http/console.ts';
import { orgPath } from '../../pages/console/layout.ts';
import { ssoPage, ssoTestPage } from '../../pages/console/sso.ts';
import { signInPage } from '../sign-in.ts';
import { consoleSection, pageUser } from './env.ts';
import { formFields } from './form-fields.ts';

export const ssoConsole = consoleSection();

const SWITCHES = {
  enable: { enabled: true },
  disable: { enabled: false, enforced: false },
  enforce: { enforced: true },
  unenforce: { enforced: false },
} as const;

async function page(
  c: Context<AppEnv>,
  user: ConsoleUser,
  extra: { error?: string; status?: 400 | 404 | 409; values?: object } = {},
) {
  const { org, connection } = await readConnection(c.var.services, user.principal, orgParam(c));
  return ssoPage(c, { user, org, connection, redirectUri: ssoCallbackUri(c.var.services), ...extra });
}

/**
 * A refusal of what was asked (not of who asks) shows the page again, saying why; so does an
 * issuer that did not answer (the form's issuer, as a 400: try again or correct it).
 */
function refusal(error: unknown): { error: string; status: 400 | 404 | 409 } {
  if (!(error instanceof OAuthError) || error.code === 'forbidden') throw error;
  if (error.status >= 500 && error.code !== 'temporarily_unavailable') throw error;
  if (error.code === 'not_found' && /no org/.test(error.message)) throw error;
  return { error: error.message, status: ([400, 404, 409] as const).find((one) => one === error.status) ?? 400 };
}

ssoConsole.get('/console/orgs/:org/sso', async (c) => page(c, pageUser(c)));

ssoConsole.post('/console/orgs/:org/sso', async (c) => {
  const { form, user } = await consolePost(c);
  const slug = orgParam(c);
  // Who may is asked before the recent sign-in: a member is refused, not sent to sign in again.
  await readConnection(c.var.services, user.principal, slug);
  if (!(await signedInRecently(c, user)))
    return signInPage(
      c,
      orgPath(slug, 'sso'),
      'Changing the SSO connection needs a recent sign-in. Sign in again, then save once more.',
    );
  const body = formFields(form, ['issuer', 'client_id', 'client_secret']);
  // The select's "off" is the empty choice: just-in-time membership off, not "keep".
  const jit = form.jit_role === undefined ? {} : { jit_role: form.jit_role === '' ? null : form.jit_role };
  try {
    await writeConnection(c.var.services, user.principal, slug, async () => ({ ...body, ...jit }), user.source);
  } catch (error) {
    return page(c, user, { ...refusal(error), values: { issuer: body.issuer, client_id: body.client_id } });
  }
  return backTo(c, orgPath(slug, 'sso'), 'sso-saved');
});

ssoConsole.post('/console/orgs/:org/sso/switch', async (c) => {
  const { form, user } = await consolePost(c);
  const slug = orgParam(c);
  const { connection } = await readConnection(c.var.services, user.principal, slug);
  const to = form.to as keyof typeof SWITCHES;
  if (!Object.hasOwn(SWITCHES, to ?? ''))
    throw new OAuthError('invalid_request', 'unknown switch: use enable, disable, enforce or unenforce');
  // Turning SSO or its requirement on or off changes who signs in where, as saving does (the API asks a step-up for it).
  if (!(await signedInRecently(c, user)))
    return signInPage(
      c,
      orgPath(slug, 'sso'),
      'Turning single sign-on or its requirement on or off needs a recent sign-in. Sign in again, then switch it once more.',
    );
  try {
    if (!connection) throw new OAuthError('not_found', `org "${slug}" has no SSO connection; set one first`);
    const write: SsoConnectionWrite = { issuer: connection.issuer, client_id: connection.client_id, ...SWITCHES[to] };
    await writeConnection(c.var.services, user.principal, slug, async () => write, user.source);
  } catch (error) {
    return page(c, user, refusal(error));
  }
  // enable -> sso-enabled, …: a key of the console's fixed notices.
  return backTo(c, orgPath(slug, 'sso'), `sso-${to}d`);
});

ssoConsole.post('/console/orgs/:org/sso/test', async (c) => {
  const { user } = await consolePost(c);
  const slug = orgParam(c);
  const { org } = await readConnection(c.var.services, user.principal, slug);
  let started: { authorization_url: string };
  try {
    started = await startTestSignIn(c.var.services, user.principal, slug, user.source);
  } catch (error) {
    return page(c, user, refusal(error));
  }
  c.header('Cache-Control', 'no-store');
  return ssoTestPage(c, { user, org, url: started.authorization_url, minutes: SSO_SIGN_IN_SECONDS / 60 });
});

ssoConsole.post('/console/orgs/:org/sso/remove', async (c) => {
  const { user } = await consolePost(c);
  const slug = orgParam(c);
  await readConnection(c.var.services, user.principal, slug);
  if (!(await signedInRecently(c, user)))
    return signInPage(
      c,
      orgPath(slug, 'sso'),
      'Removing the SSO connection needs a recent sign-in. Sign in again, then remove it once more.',
    );
  try {
    await removeConnection(c.var.services, user.principal, slug, user.source);
  } catch (error) {
    return page(c, user, refusal(error));
  }
  return backTo(c, orgPath(slug, 'sso'), 'sso-removed');
});
