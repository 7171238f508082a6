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
import { readCapped } from '../streams.ts';
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
   * the browser sign-in as said.
   */
  amr?: string[];
  /**
   * Whether the provider proved a second factor, as far as the operator trusts it to say
   * (LATCHKEY_OIDC_TRUST_AMR and `mfa` in its `amr`): then latchkey asks for no code of its own.
   */
  secondFactor?: boolean;
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

/**
 * What an upstream answer may be: discovery documents, key sets, token responses and user
 * info are a few KiB; one past this is not read to its end.
 */
export const UPSTREAM_MAX_BYTES = 256 * 1024;

/**
 * One call to the upstream, bounded in time and size, no redirect followed (an endpoint is
 * where the provider says it is, and a redirect could lead anywhere); no answer is a 503, a
 * refusal is `access_denied`.
 */
export async function upstreamJson(
  services: Services,
  url: string,
  init: RequestInit,
  refusal: string,
  who = 'the identity provider',
  timeoutMs = UPSTREAM_TIMEOUT_MS,
): Promise<unknown> {
  let response: Response;
  let text: string;
  try {
    response = await boundedFetch(services)(url, {
      ...init,
      headers: { accept: 'application/json', ...init.headers },
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (cause) {
    if (cause instanceof OAuthError) throw cause;
    throw new OAuthError('temporarily_unavailable', `${who} did not answer; try again`, { cause });
  }
  if (response.status >= 300 && response.status < 400)
    throw new OAuthError('access_denied', `${refusal} (${who} answered with a redirect, which is not followed)`);
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {}
  if (!response.ok || body === null) throw new OAuthError('access_denied', refusal);
  return body;
}

/**
 * The app's fetch, redirects not followed and the body read whole but at most
 * UPSTREAM_MAX_BYTES (past it, `access_denied`); what it answers is a plain Response of
 * those bytes, so jose can read a key set through it too.
 */
export function boundedFetch(services: Services): typeof fetch {
  return async (input, init) => {
    const response = await services.fetch(input, { ...init, redirect: 'manual' });
    const declared = Number(response.headers.get('content-length') ?? 0);
    const refuse = () =>
      new OAuthError('access_denied', `the identity provider’s answer is over ${UPSTREAM_MAX_BYTES / 1024} KiB`);
    if (declared > UPSTREAM_MAX_BYTES) {
      await response.body?.cancel().catch(() => {});
      throw refuse();
    }
    const bytes = response.body
      ? await readCapped(response.body, UPSTREAM_MAX_BYTES, async (reader) => {
          await reader.cancel().catch(() => {});
          return refuse();
        })
      : new Uint8Array();
    // 204 and 304 may carry no body, even an empty one.
    const body = [101, 204, 205, 304].includes(response.status) ? null : bytes;
    return new Response(body, { status: response.status, headers: response.headers });
  };
}
