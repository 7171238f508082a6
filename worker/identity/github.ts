/**
 * The `github` provider: a GitHub OAuth app (github.com or GitHub Enterprise Server).
 * GitHub has no ID token; who signed in is the `/user` id, and the email is the account's
 * primary one only if GitHub has verified it.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import type { Config } from '../config.ts';
import { type UpstreamProvider, upstreamJson } from './upstream.ts';

const User = z.object({ id: z.number(), login: z.string() });
const Emails = z.array(z.object({ email: z.string(), primary: z.boolean(), verified: z.boolean() }));

export function githubProvider(github: NonNullable<Config['github']>): UpstreamProvider {
  return {
    // GitHub has no parameter that makes a person enter their password again: a
    // re-authentication there is a round trip through github.com, as its own sudo mode is.
    async authorizationUrl(_services, request) {
      const url = new URL(`${github.webUrl}/login/oauth/authorize`);
      const params = {
        client_id: github.clientId,
        redirect_uri: request.redirectUri,
        scope: 'read:user user:email',
        state: request.state,
        code_challenge: request.challenge,
        code_challenge_method: 'S256',
        allow_signup: 'false',
      };
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
      return url.href;
    },

    async identify(services, answer) {
      const tokens = await upstreamJson(
        services,
        `${github.webUrl}/login/oauth/access_token`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            client_id: github.clientId,
            client_secret: github.clientSecret,
            code: answer.code,
            redirect_uri: answer.redirectUri,
            code_verifier: answer.verifier,
          }),
        },
        'GitHub would not redeem its code',
      );
      // GitHub answers a bad code with 200 and an `error` field, hence the schema, not the status.
      const token = z.object({ access_token: z.string() }).safeParse(tokens);
      if (!token.success) throw new OAuthError('access_denied', 'GitHub would not redeem its code');
      const api = {
        headers: {
          authorization: `Bearer ${token.data.access_token}`,
          'x-github-api-version': '2022-11-28',
          'user-agent': 'latchkey',
        },
      };
      const [user, emails] = await Promise.all([
        upstreamJson(services, `${github.apiUrl}/user`, api, 'GitHub would not say who signed in'),
        upstreamJson(services, `${github.apiUrl}/user/emails`, api, 'GitHub would not share the account’s email addresses'),
      ]);
      const who = User.safeParse(user);
      const addresses = Emails.safeParse(emails);
      if (!who.success || !addresses.success) throw new OAuthError('access_denied', 'GitHub answered in an unexpected shape');
      const primary = addresses.data.find((entry) => entry.primary && entry.verified);
      if (!primary) throw new OAuthError('access_denied', `the GitHub account ${who.data.login} has no verified primary email`);
      return { provider: `github:${github.webUrl}`, subject: String(who.data.id), email: primary.email.toLowerCase() };
    },
  };
}
