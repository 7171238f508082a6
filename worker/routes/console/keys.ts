/**
 * An org's API keys at /console/orgs/:org/keys. Each action is the function its /v1 route
 * calls (worker/accounts/api-keys.ts: the same role checks, `mayHoldKey`, audit); the console
 * adds only its recent-sign-in gate for admin-or-higher keys. A new secret is in the body of
 * the answer to the post that made it and nowhere else.
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import { KeyCreateRequest, KeyRotateRequest } from '../../../shared/schemas.ts';
import {
  createOrgApiKey,
  type KeyActGate,
  keyRolesFor,
  listOrgApiKeys,
  revokeOrgApiKey,
  rotateOrgApiKey,
} from '../../accounts/api-keys.ts';
import type { AppEnv } from '../../app.ts';
import { orgParam } from '../../http/caller.ts';
import { backTo, type ConsoleUser, consolePost, firstPostOf, newFormId, signedInRecently } from '../../http/console.ts';
import { parseInput } from '../../http/form.ts';
import { keysPage, newKeyPage } from '../../pages/console/keys.ts';
import { consolePage, orgPath } from '../../pages/console/layout.ts';
import { atLeast } from '../../policy/roles.ts';
import { signInPage } from '../sign-in.ts';
import { consoleSection, pageUser } from './env.ts';
import { formFields } from './form-fields.ts';

export const keysConsole = consoleSection();

/** Thrown by the gate below to stop a sensitive key act before anything is written. */
class NeedsRecentSignIn extends Error {}
/** Thrown by the gate below when the form was posted before: a reload of the page that showed a secret. */
class AlreadySent extends Error {}

/**
 * What the console adds before a key is made or rotated, once every right is checked:
 * making or rotating an admin-or-higher key wants a sign-in within RECENT_SIGN_IN_SECONDS,
 * and the form acts once (reloading the answer re-posts it, which would make another key).
 */
const consoleGate =
  (c: Context<AppEnv>, user: ConsoleUser, formId: string | undefined): KeyActGate =>
  async (keyRole) => {
    if (atLeast(keyRole, 'admin') && !(await signedInRecently(c, user))) throw new NeedsRecentSignIn();
    if (!(await firstPostOf(c, user, formId))) throw new AlreadySent();
  };

/** The answer to a repost: nothing made, and the secret, shown once before, not again. */
function alreadySent(c: Context<AppEnv>, user: ConsoleUser, org: string) {
  return consolePage(c, {
    user,
    title: 'Already done',
    at: { page: 'org', org, tab: 'keys' },
    status: 409,
    body: html`<p class="error" role="alert">This form was sent before, and nothing more was made now. Its key was made the first time, and its secret was shown then, once: it is not shown again. If you did not keep it, revoke that key and make another.</p>
<p><a href="${orgPath(org, 'keys')}">Back to the keys of ${org}</a></p>`,
  });
}

keysConsole.get('/console/orgs/:org/keys', async (c) => {
  const user = pageUser(c);
  const services = c.var.services;
  const { org, role, keys } = await listOrgApiKeys(services, user.principal, orgParam(c));
  return consolePage(c, {
    user,
    title: 'API keys',
    at: { page: 'org', org: org.slug, tab: 'keys' },
    body: keysPage({
      org: org.slug,
      csrf: user.csrf,
      formId: newFormId(),
      keys,
      roles: keyRolesFor(role),
      projects: org.projects,
      ttl: services.config.ttl,
      now: Math.floor(services.now() / 1000),
    }),
  });
});

keysConsole.post('/console/orgs/:org/keys', async (c) => {
  const { form, user } = await consolePost(c);
  const services = c.var.services;
  const slug = orgParam(c);
  const readInput = async () => parseInput(KeyCreateRequest, formFields(form, ['name', 'project', 'role', 'expires_in']));
  try {
    const created = await createOrgApiKey(
      services,
      user.principal,
      slug,
      readInput,
      user.source,
      consoleGate(c, user, form.form_id),
    );
    return newKeyAnswer(c, user, slug, created, null);
  } catch (error) {
    if (error instanceof AlreadySent) return alreadySent(c, user, slug);
    if (!(error instanceof NeedsRecentSignIn)) throw error;
    return signInPage(
      c,
      orgPath(slug, 'keys'),
      'Making a key with the admin role or above needs a recent sign-in. Sign in again, then make the key again.',
    );
  }
});

keysConsole.post('/console/orgs/:org/keys/:id/rotate', async (c) => {
  const { form, user } = await consolePost(c);
  const services = c.var.services;
  const slug = orgParam(c);
  const id = c.req.param('id');
  const readGrace = async () => parseInput(KeyRotateRequest, formFields(form, ['grace_seconds'])).grace_seconds;
  try {
    const created = await rotateOrgApiKey(
      services,
      user.principal,
      slug,
      id,
      readGrace,
      user.source,
      consoleGate(c, user, form.form_id),
    );
    return newKeyAnswer(c, user, slug, created, id);
  } catch (error) {
    if (error instanceof AlreadySent) return alreadySent(c, user, slug);
    if (!(error instanceof NeedsRecentSignIn)) throw error;
    return signInPage(
      c,
      orgPath(slug, 'keys'),
      'Rotating a key with the admin role or above needs a recent sign-in. Sign in again, then rotate the key again.',
    );
  }
});

keysConsole.post('/console/orgs/:org/keys/:id/revoke', async (c) => {
  const { user } = await consolePost(c);
  const slug = orgParam(c);
  await revokeOrgApiKey(c.var.services, user.principal, slug, c.req.param('id'), user.source);
  return backTo(c, orgPath(slug, 'keys'), 'key-revoked');
});

/** 201 with the secret, once; the layout sends `Cache-Control: no-store`, so no cache keeps it either. */
function newKeyAnswer(
  c: Context<AppEnv>,
  user: ConsoleUser,
  org: string,
  created: Parameters<typeof newKeyPage>[0]['created'],
  rotated: string | null,
) {
  return consolePage(c, {
    user,
    title: rotated ? 'Key rotated: its new secret' : 'Your new key',
    at: { page: 'org', org, tab: 'keys' },
    body: newKeyPage({
      org,
      created,
      issuer: c.var.services.config.base,
      rotated,
      productName: c.var.services.config.branding.productName,
    }),
    status: 201,
  });
}
