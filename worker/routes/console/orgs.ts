/**
 * The console's org pages: making an org, an org's overview and its projects. Each post
 * runs the same account function as its /v1 route (accounts/orgs.ts), so the same role
 * check and audit entry; anyone who is not a member gets the org's 404, whether it exists or not.
 */
import { createOrgAs, createProject, readOrg } from '../../accounts/orgs.ts';
import { orgParam } from '../../http/caller.ts';
import { backTo, consolePost } from '../../http/console.ts';
import { orgPath } from '../../pages/console/layout.ts';
import { newOrgPage, orgOverviewPage } from '../../pages/console/orgs.ts';
import { authorize } from '../../policy/roles.ts';
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
  return orgOverviewPage(c, { user, org, role, mayCreateProjects: may(org, user.principal, 'projects:create') });
});

orgsConsole.post('/console/orgs/:org/projects', async (c) => {
  const { form, user } = await consolePost(c);
  const slug = orgParam(c);
  await createProject(c.var.services, user.principal, slug, async () => formFields(form, ['slug']), user.source);
  return backTo(c, orgPath(slug), 'project-created');
});
