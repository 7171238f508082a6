/**
 * The console's CI trust policies: the same account functions as
 * `/v1/orgs/{org}/trust-policies` (listTrustPolicies, createTrustPolicy, deleteTrustPolicy:
 * their role checks and audit entries) and the same dry-run as its `/dry-run`. A form per
 * preset builds the body the JSON API takes; a refused policy shows the form again with the
 * reason and everything typed kept. Deleting wants a recent sign-in. A pasted CI token is a
 * credential: it is posted, never put in a URL, and never written back into a page.
 */
import type { Context } from 'hono';
import { OAuthError } from '../../../shared/errors.ts';
import { DryRunRequest, orgAudience } from '../../../shared/trust-policy.ts';
import { createTrustPolicy, deleteTrustPolicy, listTrustPolicies } from '../../accounts/trust-policies.ts';
import type { AppEnv } from '../../app.ts';
import { dryRunCiToken } from '../../grants/token-exchange.ts';
import { orgParam } from '../../http/caller.ts';
import { backTo, type ConsoleUser, consolePost, signedInRecently } from '../../http/console.ts';
import { parseInput } from '../../http/form.ts';
import { orgPath } from '../../pages/console/layout.ts';
import { dryRunPage, FORM_PRESETS, type FormPreset, policiesPage, policyFormPage } from '../../pages/console/policies.ts';
import { signInPage } from '../sign-in.ts';
import { consoleSection, pageUser } from './env.ts';
import { may } from './form-fields.ts';

export const policiesConsole = consoleSection();

const GITHUB_FIELDS = [
  'id',
  'description',
  'issuer',
  'repository',
  'repository_owner_id',
  'repository_id',
  'sub',
  'ref',
  'environment',
  'job_workflow_ref',
  'event_name',
] as const;
const GITLAB_FIELDS = [
  'id',
  'description',
  'issuer',
  'project_path',
  'namespace_id',
  'project_id',
  'ref',
  'ref_type',
  'environment',
] as const;

function formPreset(value: string | undefined): FormPreset {
  if ((FORM_PRESETS as readonly string[]).includes(value ?? '')) return value as FormPreset;
  throw new OAuthError('invalid_request', `unknown preset "${String(value ?? '').slice(0, 40)}": use github, gitlab or json`);
}

/**
 * The JSON API's body from a preset's form: empty fields left out (optional conditions),
 * the grant from `project`, `scope` (space-separated) and `max_ttl`.
 */
function bodyFromForm(preset: FormPreset, form: Record<string, string>): object {
  if (preset === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(form.policy ?? '');
    } catch (error) {
      throw new OAuthError('invalid_request', `the policy is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new OAuthError('invalid_request', 'the policy must be one JSON object');
    return parsed;
  }
  const pick = (names: readonly string[]) =>
    Object.fromEntries(names.flatMap((name) => (form[name]?.trim() ? [[name, form[name].trim()]] : [])));
  const ttl = form.max_ttl?.trim();
  const grant = {
    project: form.project ?? '',
    scopes: (form.scope ?? '').split(' ').filter(Boolean),
    ...(ttl ? { max_ttl: /^\d{1,9}$/.test(ttl) ? Number(ttl) : ttl } : {}),
  };
  if (preset === 'github') return { preset: 'github-actions', ...pick(GITHUB_FIELDS), grant };
  const prot = form.ref_protected;
  return {
    preset: 'gitlab',
    ...pick(GITLAB_FIELDS),
    ...(prot === 'true' ? { ref_protected: true } : prot === 'false' ? { ref_protected: false } : {}),
    grant,
  };
}

const audienceOf = (c: Context<AppEnv>, org: string) => orgAudience(c.var.services.config.base, org);

policiesConsole.get('/console/orgs/:org/policies', async (c) => {
  const user = pageUser(c);
  const { org, policies } = await listTrustPolicies(c.var.services, user.principal, orgParam(c));
  return policiesPage(c, {
    user,
    org,
    policies,
    admin: may(org, user.principal, 'policies:write'),
    audience: audienceOf(c, org.slug),
  });
});

policiesConsole.get('/console/orgs/:org/policies/new', async (c) => {
  const user = pageUser(c);
  const { org } = await listTrustPolicies(c.var.services, user.principal, orgParam(c));
  const preset = formPreset(c.req.query('preset'));
  return policyFormPage(c, { user, org, preset, values: {}, audience: audienceOf(c, org.slug) });
});

policiesConsole.post('/console/orgs/:org/policies', async (c) => {
  const { form, user } = await consolePost(c);
  const services = c.var.services;
  const { org } = await listTrustPolicies(services, user.principal, orgParam(c));
  const preset = formPreset(form.preset);
  const values = { ...form, csrf: '' };
  try {
    const body = bodyFromForm(preset, form);
    await createTrustPolicy(services, user.principal, org.slug, () => body, user.source);
  } catch (error) {
    // A refusal of who is asking is the error page; a refusal of what they wrote is the form again, as they wrote it.
    if (!(error instanceof OAuthError) || error.code === 'forbidden') throw error;
    const status = ([400, 404, 409] as const).find((one) => one === error.status) ?? 400;
    return policyFormPage(c, { user, org, preset, values, audience: audienceOf(c, org.slug), error: error.message, status });
  }
  return backTo(c, orgPath(org.slug, 'policies'), 'policy-created');
});

policiesConsole.post('/console/orgs/:org/policies/:id/delete', async (c) => {
  const { user } = await consolePost(c);
  const slug = orgParam(c);
  if (!(await signedInRecently(c, user))) {
    return signInPage(
      c,
      orgPath(slug, 'policies'),
      'Deleting a trust policy needs a recent sign-in. Sign in again, then delete it once more.',
    );
  }
  await deleteTrustPolicy(c.var.services, user.principal, slug, c.req.param('id'), user.source);
  return backTo(c, orgPath(slug, 'policies'), 'policy-deleted');
});

policiesConsole.get('/console/orgs/:org/policies/dry-run', async (c) => {
  const user = pageUser(c);
  const { org, policies } = await listTrustPolicies(c.var.services, user.principal, orgParam(c));
  return dryRunPage(c, { user, org, policies, audience: '' });
});

/** The payload of a token that verified, to show its claims (the signature was checked by the dry-run). */
function claimsOf(token: string): Record<string, unknown> | null {
  try {
    const payload = JSON.parse(new TextDecoder().decode(base64url(token.split('.')[1] ?? '')));
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? payload : null;
  } catch {
    return null;
  }
}

function base64url(text: string): Uint8Array {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

policiesConsole.post('/console/orgs/:org/policies/dry-run', async (c) => {
  const { form, user } = await consolePost(c);
  const services = c.var.services;
  const { org, policies } = await listTrustPolicies(services, user.principal, orgParam(c));
  const audience = form.audience ?? '';
  let input: { subject_token: string; audience?: string | undefined };
  try {
    input = parseInput(DryRunRequest, {
      subject_token: (form.subject_token ?? '').trim(),
      ...(audience ? { audience } : {}),
    });
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    return dryRunPage(c, { user, org, policies, audience, error: error.message, status: 400 });
  }
  const result = await dryRunCiToken(services, input.subject_token, input.audience, org.slug);
  const claims = result.token.verified ? claimsOf(input.subject_token) : null;
  c.header('Cache-Control', 'no-store');
  return dryRunPage(c, { user, org, policies, audience, result, claims });
});
