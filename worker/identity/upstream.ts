/**
 * What every upstream identity provider shares: a pending sign-in kept under a random
 * `state`, bound to the browser that began it, with a PKCE verifier and a nonce that never
 * leave the server; the answer consumed once; the email allow-list applied last.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import type { Config } from '../config.ts';
import { pkceChallenge } from '../grants/authorization-code.ts';
import type { Services } from '../services.ts';
import { parseRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { base64url, constantTimeEqual, randomBytes } from '../tokens/opaque.ts';
import { assertEmailAllowed } from './dev.ts';

const SIGN_IN_SECONDS = 600;
export const UPSTREAM_TIMEOUT_MS = 10_000;

export type UpstreamIdentity = {
  provider: string;
  subject: string;
  email: string;
  /**
   * When the provider says the person last proved who they are (ms), which the console's
   * recent sign-in counts from; absent from a provider that cannot be asked to (GitHub).
   */
  authenticatedAt?: number;
  /**
   * How the provider says the person signed in (its ID token's `amr`, RFC 8176), recorded on
   * the browser sign-in as said. Trusted for nothing yet: an operator's trust in a provider's
   * `amr` in place of latchkey's own second step is later work of issue #22.
   */
  amr?: string[];
};

export type UpstreamProvider = {
  /** The upstream's authorization URL for this sign-in. */
  authorizationUrl(
    services: Services,
    request: {
      state: string;
      nonce: string;
      challenge: string;
      redirectUri: string;
      /** Ask the provider to make the person prove who they are again (the console's recent sign-in). */
      reauthenticate: boolean;
    },
  ): Promise<string>;
  /** Redeems the upstream's code and says who signed in, with a verified email. */
  identify(
    services: Services,
    answer: {
      code: string;
      verifier: string;
      nonce: string;
      redirectUri: string;
      /** A re-authentication's start (ms): the provider must say the person signed in since. Null: any sign-in. */
      authenticatedSince: number | null;
    },
  ): Promise<UpstreamIdentity>;
};

const PendingSignIn = z.object({
  verifier: z.string(),
  nonce: z.string(),
  returnTo: z.string(),
  browser: z.string(),
  /** When a re-authentication began (ms); null for a first sign-in. */
  reauthSince: z.number().nullable().default(null),
});

export const callbackUri = (config: Config) => `${config.base}/signin/callback`;

export async function startUpstreamSignIn(
  services: Services,
  provider: UpstreamProvider,
  request: { returnTo: string; browser: string; reauthenticate: boolean },
): Promise<string> {
  const state = base64url(randomBytes(24));
  const pending: z.infer<typeof PendingSignIn> = {
    verifier: base64url(randomBytes(32)),
    nonce: base64url(randomBytes(16)),
    returnTo: request.returnTo,
    browser: request.browser,
    reauthSince: request.reauthenticate ? services.now() : null,
  };
  await services.store.put(storeKey('upstreamSignIn', state), JSON.stringify(pending), SIGN_IN_SECONDS);
  return provider.authorizationUrl(services, {
    state,
    nonce: pending.nonce,
    challenge: await pkceChallenge(pending.verifier),
    redirectUri: callbackUri(services.config),
    reauthenticate: request.reauthenticate,
  });
}

export async function finishUpstreamSignIn(
  services: Services,
  provider: UpstreamProvider,
  answer: { state: string | undefined; code: string | undefined; error: string | undefined; browser: string },
): Promise<{ person: UpstreamIdentity; returnTo: string }> {
  if (!answer.state || !/^[\w-]{32}$/.test(answer.state))
    throw new OAuthError('invalid_request', 'the sign-in answer has no valid state');
  const raw = await services.store.consume(storeKey('upstreamSignIn', answer.state));
  if (raw === null) throw new OAuthError('invalid_request', 'this sign-in expired or was already used; start again');
  const pending = parseRecord(PendingSignIn, raw);
  if (!constantTimeEqual(pending.browser, answer.browser)) {
    throw new OAuthError('invalid_request', 'this sign-in was started in another browser; start again here', { status: 403 });
  }
  if (answer.error)
    throw new OAuthError('access_denied', `the identity provider refused the sign-in (${answer.error.slice(0, 64)})`);
  if (!answer.code) throw new OAuthError('invalid_request', 'the identity provider sent no code');
  const person = await provider.identify(services, {
    code: answer.code,
    verifier: pending.verifier,
    nonce: pending.nonce,
    redirectUri: callbackUri(services.config),
    authenticatedSince: pending.reauthSince,
  });
  assertEmailAllowed(services.config, person.email);
  return { person, returnTo: pending.returnTo };
}

/** One call to the upstream, bounded in time; no answer is a 503, a refusal is `access_denied`. */
export async function upstreamJson(
  services: Services,
  url: string,
  init: RequestInit,
  refusal: string,
  who = 'the identity provider',
): Promise<unknown> {
  let response: Response;
  try {
    response = await services.fetch(url, {
      ...init,
      headers: { accept: 'application/json', ...init.headers },
      signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    });
  } catch (cause) {
    throw new OAuthError('temporarily_unavailable', `${who} did not answer; try again`, { cause });
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok || body === null) throw new OAuthError('access_denied', refusal);
  return body;
}
