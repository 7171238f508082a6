import { Hono } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import { DryRunRequest } from '../../shared/trust-policy.ts';
import type { AppEnv } from '../app.ts';
import { dryRunCiToken } from '../grants/token-exchange.ts';
import { bearerToken, parseInput, readForm } from '../http/form.ts';
import { authenticate } from '../tokens/credential.ts';

/**
 * Operators' tools for CI trust policies. Until orgs hold policies, an operator is a
 * person signed in with an email listed in LATCHKEY_OPERATORS.
 */
export const trustPolicyRoutes = new Hono<AppEnv>();

trustPolicyRoutes.post('/v1/trust-policies/dry-run', async (c) => {
  const services = c.var.services;
  const caller = await authenticate(services, bearerToken(c));
  const email = caller.kind === 'user' ? caller.email?.toLowerCase() : undefined;
  if (!email || !services.config.operators.includes(email)) {
    throw new OAuthError('forbidden', 'the trust-policy dry-run needs an operator (a person listed in LATCHKEY_OPERATORS)');
  }
  const input = parseInput(DryRunRequest, await readForm(c));
  c.header('Cache-Control', 'no-store');
  return c.json(await dryRunCiToken(services, input.subject_token, input.audience));
});
