/**
 * An org's API keys at /console/orgs/:org/keys. Each action is the function its /v1 route
 * calls (worker/accounts/api-keys.ts: the same role checks, `mayHoldKey`, audit); the console
 * adds only its recent-sign-in gate for admin-or-higher keys. A new secret is in the body of
 * the answer to the post that made it and nowhere else.
 */
import type { Context } from 'hono';
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
import { backTo, type ConsoleUser, consolePost, signedInRecently } from '../../http/console.ts';
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

/** Making or rotating an admin-or-higher key wants a sign-in within RECENT_SIGN_IN_SECONDS. */
const recentSignInGate =
  (c: Context<AppEnv>, user: ConsoleUser): KeyActGate =>
  (keyRole) => {
    if (atLeast(keyRole, 'admin') && !signedInRecently(c, user)) throw new NeedsRecentSignIn();
  };

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
    const created = await createOrgApiKey(services, user.principal, slug, readInput, user.source, recentSignInGate(c, user));
    return newKeyAnswer(c, user, slug, created, null);
  } catch (error) {
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
    const created = await rotateOrgApiKey(services, user.principal, slug, id, readGrace, user.source, recentSignInGate(c, user));
    return newKeyAnswer(c, user, slug, created, id);
  } catch (error) {
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
    body: newKeyPage({ org, created, issuer: c.var.services.config.base, rotated }),
    status: 201,
  });
}
