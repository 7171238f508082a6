/**
 * The console's org pages: making an org, an org's overview, its projects and whether it
 * requires two-step sign-in. Each post
 * runs the same account function as its /v1 route (accounts/orgs.ts), so the same role
 * check and audit entry; anyone who is not a member gets the org's 404, whether it exists or not.
 */
import * as z from 'zod';
import { setOrgMfa } from '../../accounts/mfa-policy.ts';
import { createOrgAs, createProject, readOrg } from '../../accounts/orgs.ts';
import { orgParam } from '../../http/caller.ts';
import { backTo, consolePost, signedInRecently } from '../../http/console.ts';
import { parseInput } from '../../http/form.ts';
import { orgPath } from '../../pages/console/layout.ts';
import { newOrgPage, orgOverviewPage } from '../../pages/console/orgs.ts';
import { authorize } from '../../policy/roles.ts';
import { signInPage } from '../sign-in.ts';
import { consoleSection, pageUser } from './env.ts';
import { formFields, may } from './form-fields.ts';

export const orgsConsole = consoleSection();

orgsConsole.get('/console/orgs/new', (c) => newOrgPage(c, pageUser(c)));

orgsConsole.post('/console/orgs', async (c) => {
  const { form, user } = await consolePost(c);
  const org = await createOrgAs(c.var.services, user.principal, async () => formFields(form, ['slug', 'name']), user.source);
  return backTo(c, orgPath(org.slug), 'org-created');
});

orgsConsole.get('/console/orgs/:org', async (c) => {
  const user = pageUser(c);
  const org = await readOrg(c.var.services, orgParam(c));
  const role = authorize(org, user.principal, 'org:read');
  return orgOverviewPage(c, {
    user,
    org,
    role,
    mayCreateProjects: may(org, user.principal, 'projects:create'),
    mayChangeMfa: may(org, user.principal, 'mfa:write'),
  });
});

/** The overview's switch: the form's `required` as the API's boolean. */
const MfaForm = z.strictObject({ required: z.enum(['true', 'false']).transform((value) => value === 'true') });

/** Thrown by the form's reading below to stop before anything is written. */
class NeedsRecentSignIn extends Error {}

/**
 * The owner turns "require two-step sign-in" on or off: the API's account function, so the
 * same owner-only check and audit entry; like other acts that bind the org's people, it
 * wants a recent sign-in (asked once the owner is known to be one, so nobody else learns of it).
 */
orgsConsole.post('/console/orgs/:org/mfa', async (c) => {
  const { form, user } = await consolePost(c);
  const slug = orgParam(c);
  const readRequired = async () => {
    const { required } = parseInput(MfaForm, formFields(form, ['required']));
    if (!(await signedInRecently(c, user))) throw new NeedsRecentSignIn();
    return required;
  };
  try {
    const policy = await setOrgMfa(c.var.services, user.principal, slug, readRequired, user.source);
    return backTo(c, orgPath(slug), policy.required ? 'mfa-required' : 'mfa-not-required');
  } catch (error) {
    if (!(error instanceof NeedsRecentSignIn)) throw error;
    return signInPage(
      c,
      orgPath(slug),
      'Changing whether the org requires two-step sign-in needs a recent sign-in. Sign in again, then change it again.',
    );
  }
});

orgsConsole.post('/console/orgs/:org/projects', async (c) => {
  const { form, user } = await consolePost(c);
  const slug = orgParam(c);
  await createProject(c.var.services, user.principal, slug, async () => formFields(form, ['slug']), user.source);
  return backTo(c, orgPath(slug), 'project-created');
});
