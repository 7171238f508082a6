/**
 * The embeddable latchkey HTTP client: discovery, the device flow, refresh, token
 * exchange, revocation and /v1/me. It holds no state but the server URL; product CLIs can import it as it is.
 */

import type * as z from 'zod';
import {
  AUTHORIZATION_CODE_GRANT,
  DEVICE_CODE_GRANT,
  DeviceAuthorizationResponse,
  ErrorResponse,
  MeResponse,
  REFRESH_TOKEN_GRANT,
  ServerMetadata,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
  TokenExchangeResponse,
  TokenResponse,
} from '../../../shared/schemas.ts';
import { LatchkeyError } from './errors.ts';
import { ownUrl } from './open-url.ts';
import { printable } from './printable.ts';
import { LATCHKEY, type Product } from './product.ts';
import { STEP_UP_ERROR, stepUpChallenge } from './step-up.ts';
import { isVisibleAscii } from './token-text.ts';

export type ClientOptions = {
  server: string;
  clientId: string;
  fetch?: typeof fetch;
  userAgent?: string;
  /** Per-request time limit; an unreachable server fails instead of hanging. */
  timeoutMs?: number;
  /** Sent at sign-in so the person can tell their sessions apart (`latchkey sessions list`). */
  deviceName?: string;
  /** Whose words the messages use (`run `acme auth login` again`); latchkey's when absent. */
  product?: Product;
  /** A cancelled login: a request in flight ends at once (`cancelled`) instead of at its time limit. */
  signal?: AbortSignal;
};

/** One poll of the token endpoint, as a small tagged union (RFC 8628 §3.5). */
export type DevicePoll =
  | { status: 'approved'; tokens: TokenResponse }
  | { status: 'pending' }
  | { status: 'slow_down' }
  | { status: 'denied' }
  | { status: 'expired' };

export type LatchkeyClient = ReturnType<typeof createClient>;

const cancelled = (cause: unknown) => new LatchkeyError('cancelled', 'cancelled; nothing was stored', { cause });

/** The most any answer of a latchkey server may be; more is a server error, read no further. */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export function createClient(options: ClientOptions) {
  const server = options.server.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const product = options.product ?? LATCHKEY;
  const headers = { 'user-agent': options.userAgent ?? product.userAgent, accept: 'application/json' };

  async function call(
    path: string,
    init: { form?: Record<string, string>; json?: Record<string, unknown>; bearer?: string; method?: string } = {},
  ) {
    // A header value holds no line break; fetch would refuse one in words quoting the whole
    // value (Node's do), and the token would end up on the terminal as a network error.
    if (init.bearer !== undefined && !isVisibleAscii(init.bearer)) {
      throw new LatchkeyError(
        'invalid_credential',
        'the token is not one line of visible characters (a line break or space in what was passed?); it was not sent',
      );
    }
    let response: Response;
    try {
      response = await doFetch(`${server}${path}`, {
        method: init.method ?? (init.form ? 'POST' : 'GET'),
        headers: {
          ...headers,
          ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          ...(init.json ? { 'content-type': 'application/json' } : {}),
          ...(init.bearer ? { authorization: `Bearer ${init.bearer}` } : {}),
        },
        ...(init.form ? { body: new URLSearchParams(init.form) } : {}),
        ...(init.json ? { body: JSON.stringify(init.json) } : {}),
        signal: options.signal
          ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs ?? 15_000)])
          : AbortSignal.timeout(options.timeoutMs ?? 15_000),
        // A redirect is never followed: a 307 or 308 would carry the form (a refresh token, a
        // device code) to wherever it points, another origin or plain http, and a credential
        // goes only to the server that issued it.
        redirect: 'manual',
      });
    } catch (cause) {
      if (options.signal?.aborted) throw cancelled(cause);
      throw new LatchkeyError('unreachable', `cannot reach ${server}: ${describeNetworkError(cause)}`, { cause });
    }
    if ((response.type as string) === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
      await response.body?.cancel().catch(() => {});
      const location = response.headers.get('location');
      const to = location !== null && URL.canParse(location, server) ? ` to ${new URL(location, server).origin}` : '';
      throw new LatchkeyError(
        'server_error',
        `${server}${path} answered with a redirect${to} (HTTP ${response.status}); ${product.appName} follows none: use the server's own URL`,
      );
    }
    // A server cannot make the CLI hold more than this (an audit page of 200 entries is ~100 KiB).
    const text = await readCapped(response, MAX_ANSWER_BYTES).catch((error: unknown) => {
      if (error instanceof LatchkeyError) throw new LatchkeyError(error.code, `${server}${path} ${error.message}`);
      if (options.signal?.aborted) throw cancelled(error);
      throw new LatchkeyError('unreachable', `${server}${path}: the answer broke off (${describeNetworkError(error)})`, {
        cause: error,
      });
    });
    let body: unknown = null;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      if (response.ok) throw new LatchkeyError('server_error', `${server}${path} answered with something that is not JSON`);
    }
    return { status: response.status, body, challenge: response.headers.get('www-authenticate') };
  }

  function oauthError(status: number, body: unknown): { error: string; description: string } {
    const parsed = ErrorResponse.safeParse(body);
    if (parsed.success) return { error: parsed.data.error, description: parsed.data.error_description };
    return { error: 'server_error', description: `HTTP ${status}` };
  }

  function unexpected(path: string, status: number, body: unknown): LatchkeyError {
    const { error, description } = oauthError(status, body);
    return new LatchkeyError('server_error', `${path}: ${error}: ${description}`);
  }

  /**
   * One call of the /v1 API with a Bearer credential, its answer checked against the
   * shared schema. Refusals keep the server's words: 401 and 403 exit as "access", the
   * rest (400, 404, 409) as "failed".
   */
  async function v1<T extends z.ZodType>(
    schema: T,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    bearer: string,
    json?: Record<string, unknown>,
  ): Promise<z.infer<T>> {
    const { status, body, challenge } = await call(path, { method, bearer, ...(json ? { json } : {}) });
    if (status >= 200 && status < 300) {
      const parsed = schema.safeParse(body);
      if (!parsed.success) throw new LatchkeyError('server_error', `${path} answered with an unexpected shape`);
      return parsed.data;
    }
    const { error, description } = oauthError(status, body);
    // RFC 9470: the act needs a second factor proven recently; the caller may step up and retry.
    const stepUp = status === 401 ? stepUpChallenge(challenge) : null;
    if (stepUp || (status === 401 && error === STEP_UP_ERROR)) {
      const why = error === STEP_UP_ERROR ? description : (stepUp?.description ?? description);
      throw new LatchkeyError('step_up_required', `a second factor is needed: ${why}`);
    }
    if (status === 401) throw new LatchkeyError('invalid_credential', `the server refused the credential: ${description}`);
    if (status === 403) throw new LatchkeyError('access_denied', `not allowed: ${description}`);
    if (status >= 400 && status < 500) throw new LatchkeyError('failed', `${description} (${error})`);
    throw unexpected(path, status, body);
  }

  const deviceName: Record<string, string> = options.deviceName ? { device_name: options.deviceName } : {};

  return {
    server,
    clientId: options.clientId,

    async discover(): Promise<ServerMetadata> {
      const { status, body } = await call('/.well-known/oauth-authorization-server');
      const parsed = ServerMetadata.safeParse(body);
      if (status !== 200 || !parsed.success) {
        throw new LatchkeyError('server_error', `${server} does not look like a ${product.appName} server (no OAuth metadata)`);
      }
      // What a browser login opens: the server's own page, or nothing.
      ownUrl(server, parsed.data.authorization_endpoint, 'authorization_endpoint', product.appName);
      return parsed.data;
    },

    async startDeviceLogin(scope?: string, org?: string): Promise<DeviceAuthorizationResponse> {
      const form: Record<string, string> = { client_id: options.clientId, ...(scope ? { scope } : {}), ...(org ? { org } : {}) };
      const { status, body } = await call('/oauth/device_authorization', { form });
      const parsed = DeviceAuthorizationResponse.safeParse(body);
      if (status !== 200 || !parsed.success) throw unexpected('device authorization', status, body);
      // What the person is told to open (and the QR code): the server's own page, or nothing;
      // handed on as URL serialises it, so a control character in it arrives percent-encoded.
      const uri = ownUrl(server, parsed.data.verification_uri, 'verification_uri', product.appName).href;
      const complete = ownUrl(server, parsed.data.verification_uri_complete, 'verification_uri_complete', product.appName).href;
      // What the person is told to type: a short code, nothing a terminal would obey (RFC 8628 §6.1).
      const code = parsed.data.user_code;
      if (code === '' || code.length > 64 || printable(code) !== code) {
        throw new LatchkeyError(
          'server_error',
          `the server's user code is not a short line of text; ${product.appName} does not show it`,
        );
      }
      return { ...parsed.data, verification_uri: uri, verification_uri_complete: complete };
    },

    async pollDeviceLogin(deviceCode: string): Promise<DevicePoll> {
      const form = { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: options.clientId, ...deviceName };
      const { status, body } = await call('/oauth/token', { form });
      if (status === 200) {
        const tokens = TokenResponse.safeParse(body);
        if (!tokens.success) throw new LatchkeyError('server_error', 'token endpoint answered with a malformed token response');
        return { status: 'approved', tokens: tokens.data };
      }
      const { error } = oauthError(status, body);
      if (error === 'authorization_pending') return { status: 'pending' };
      if (error === 'slow_down') return { status: 'slow_down' };
      if (error === 'access_denied') return { status: 'denied' };
      if (error === 'expired_token') return { status: 'expired' };
      throw unexpected('device login', status, body);
    },

    /** Redeems a browser login's code (RFC 6749 §4.1.3 with the PKCE verifier). */
    async exchangeCode(input: { code: string; verifier: string; redirectUri: string }): Promise<TokenResponse> {
      const form = {
        grant_type: AUTHORIZATION_CODE_GRANT,
        code: input.code,
        redirect_uri: input.redirectUri,
        client_id: options.clientId,
        code_verifier: input.verifier,
        ...deviceName,
      };
      const { status, body } = await call('/oauth/token', { form });
      const tokens = TokenResponse.safeParse(body);
      if (status === 200 && tokens.success) return tokens.data;
      throw unexpected('browser login', status, body);
    },

    /**
     * Renews a session: a new access token and the next refresh token. With `otp` (a code
     * from the person's authenticator app, or a recovery code) it is a step-up (RFC 9470):
     * a wrong code is `wrong_code` and the server keeps the refresh token unspent.
     */
    async refresh(refreshToken: string, request: { otp?: string } = {}): Promise<TokenResponse> {
      const form = {
        grant_type: REFRESH_TOKEN_GRANT,
        refresh_token: refreshToken,
        client_id: options.clientId,
        ...(request.otp === undefined ? {} : { otp: request.otp }),
      };
      const { status, body } = await call('/oauth/token', { form });
      if (status === 200) {
        const tokens = TokenResponse.safeParse(body);
        if (tokens.success) return tokens.data;
      }
      const { error, description } = oauthError(status, body);
      if (request.otp !== undefined) {
        // The token endpoint says invalid_grant both for a wrong code and for a session that is
        // over; only its words tell them apart (grants/step-up.ts, grants/refresh-token.ts).
        if (error === 'invalid_grant' && !/refresh token|session/i.test(description))
          throw new LatchkeyError('wrong_code', `the code was refused: ${description}`);
        if (error === 'rate_limited') throw new LatchkeyError('access_denied', `the code was refused: ${description}`);
        if (error === 'invalid_request')
          throw new LatchkeyError('failed', `the server cannot step up this session: ${description}`);
      }
      if (error === 'invalid_grant') {
        throw new LatchkeyError(
          'session_expired',
          `your session has expired or was revoked; run \`${product.loginCommand}\` again`,
        );
      }
      throw unexpected('refresh', status, body);
    },

    /** RFC 8693: a CI runner's ID token (or a latchkey access token) for a project's token. */
    async exchange(
      subjectToken: string,
      request: { project?: string; scope?: string; subjectTokenType?: string },
    ): Promise<TokenExchangeResponse> {
      const form: Record<string, string> = {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: subjectToken,
        subject_token_type: request.subjectTokenType ?? TOKEN_TYPE.idToken,
        client_id: options.clientId,
        ...(request.project ? { audience: request.project } : {}),
        ...(request.scope ? { scope: request.scope } : {}),
      };
      const { status, body } = await call('/oauth/token', { form });
      const parsed = TokenExchangeResponse.safeParse(body);
      if (status === 200 && parsed.success) return parsed.data;
      const { error, description } = oauthError(status, body);
      if (['invalid_grant', 'invalid_scope', 'invalid_target', 'invalid_request'].includes(error)) {
        throw new LatchkeyError('access_denied', `the exchange was refused: ${description}`);
      }
      throw unexpected('token exchange', status, body);
    },

    async revoke(token: string): Promise<void> {
      const { status, body } = await call('/oauth/revoke', { form: { token, client_id: options.clientId } });
      if (status !== 200) throw unexpected('revoke', status, body);
    },

    v1,

    me(accessToken: string): Promise<MeResponse> {
      return v1(MeResponse, 'GET', '/v1/me', accessToken);
    },
  };
}

/**
 * A response body as text, read as it streams and refused past `maxBytes`: a server cannot
 * make the CLI hold more than that, however much it sends or however long it keeps sending.
 */
export async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  const tooLarge = () => new LatchkeyError('server_error', `answered with more than ${maxBytes} bytes`);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  const reader = response.body?.getReader();
  if (!reader) return '';
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    text += decoder.decode(value, { stream: true });
  }
}

function describeNetworkError(cause: unknown): string {
  if (cause instanceof Error) {
    if (cause.name === 'TimeoutError') return 'timed out';
    const code = (cause.cause as { code?: string } | undefined)?.code ?? (cause as { code?: string }).code;
    if (code) return code;
    return cause.message;
  }
  return 'network error';
}
