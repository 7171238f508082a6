import { Hono } from 'hono';
import { TokenLookupRequest } from '../../shared/schemas.ts';
import { revokeApiKeyHeldBy } from '../accounts/api-keys.ts';
import { revokeFamily } from '../accounts/sessions.ts';
import type { AppEnv } from '../app.ts';
import { prefixOf } from '../branding.ts';
import { lookupRefreshToken } from '../grants/refresh-token.ts';
import { parseInput, readForm } from '../http/form.ts';
import { looksLikeJwt } from '../tokens/access-token.ts';
import { looksLikeApiKey } from '../tokens/api-key.ts';
import { revokeAccessToken, verifyOwnAccessToken } from '../tokens/credential.ts';

/**
 * RFC 7009. Holding a token is the right to revoke it; the answer is 200 whether or not
 * the token was known (§2.2), so the endpoint tells a guesser nothing.
 */
export const revokeRoutes = new Hono<AppEnv>();

revokeRoutes.post('/oauth/revoke', async (c) => {
  const services = c.var.services;
  const { token } = parseInput(TokenLookupRequest, await readForm(c));
  const { accepted } = services.config.branding;
  if (prefixOf(token, accepted.refreshToken)) {
    const found = await lookupRefreshToken(services, token);
    if (found) {
      const source = { actor: found.family.email ?? found.family.sub, requestId: c.var.requestId };
      await revokeFamily(services, found.sid, 'logout', source);
    }
  } else if (looksLikeApiKey(token, accepted.apiKey)) {
    await revokeApiKeyHeldBy(services, token, c.var.requestId);
  } else if (looksLikeJwt(token)) {
    // An expired or foreign token needs no revoking; RFC 7009 §2.2 answers 200 either way.
    const claims = await verifyOwnAccessToken(services, token).catch(() => null);
    if (claims) await revokeAccessToken(services, claims, c.var.requestId);
  }
  c.header('Cache-Control', 'no-store');
  return c.body(null, 200);
});
