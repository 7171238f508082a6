/**
 * The `dev` provider: signs in any email typed into a form. It exists for local use and
 * tests, and config.ts refuses it unless the issuer is loopback.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import type { Config } from '../config.ts';

const Email = z.string().trim().toLowerCase().max(254).pipe(z.email());

export function devSignIn(
  config: Config,
  input: { email: string | undefined },
): { provider: 'dev'; subject: string; email: string } {
  if (config.identity !== 'dev' || !config.loopback) {
    throw new OAuthError('access_denied', 'the dev identity provider is not enabled');
  }
  const parsed = Email.safeParse(input.email ?? '');
  if (!parsed.success) throw new OAuthError('invalid_request', 'enter a valid email address');
  assertEmailAllowed(config, parsed.data);
  return { provider: 'dev', subject: parsed.data, email: parsed.data };
}

/** LATCHKEY_ALLOWED_EMAIL_DOMAINS, applied to every provider. */
export function assertEmailAllowed(config: Config, email: string): void {
  if (config.allowedEmailDomains.length === 0) return;
  const domain = email.split('@').pop() ?? '';
  if (!config.allowedEmailDomains.includes(domain)) {
    throw new OAuthError('access_denied', `accounts at ${domain} may not sign in to this server`);
  }
}
