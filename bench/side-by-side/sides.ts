/**
 * Bench only: each side's sign-in and refresh grant, over the load generator's client.
 * A side's `refresh` is one request, the chain's next refresh token out; `login` is the
 * whole sign-in (set-up, never what the throughput rows measure).
 */
import { createHash, randomBytes } from 'node:crypto';
import { deviceLogin } from '../../test/fixtures/oauth-client.ts';
import type { Call, Reply } from './load.ts';

export type Tokens = { access: string; refresh: string };

export type Side = {
  name: string;
  origin: string;
  call: Call;
  login: () => Promise<Tokens>;
  refresh: (token: string) => Promise<string>;
};

const REDIRECT_URI = 'http://127.0.0.1/callback';

export const form = (params: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(params).toString(),
});

export const json = (body: string) => JSON.parse(body) as Record<string, unknown>;

export function expectOk(what: string, reply: Reply) {
  if (reply.status < 200 || reply.status > 299) throw new Error(`${what} answered ${reply.status}: ${reply.body.slice(0, 300)}`);
  return json(reply.body);
}

/** latchkey's refresh grant for its CLI client, the reply as it came. */
export const latchkeyRefresh = (call: Call, token: string) =>
  call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: token, client_id: 'latchkey-cli' }));

export function latchkeySide(name: string, origin: string, call: Call): Side {
  return {
    name,
    origin,
    call,
    login: async () => {
      const tokens = await deviceLogin(origin, `bench-${randomBytes(6).toString('hex')}@example.com`);
      return { access: String(tokens.access_token), refresh: String(tokens.refresh_token) };
    },
    refresh: async (token) => String(expectOk(`${name} refresh`, await latchkeyRefresh(call, token)).refresh_token),
  };
}

export function openauthSide(origin: string, call: Call): Side {
  return {
    name: 'openauth',
    origin,
    call,
    login: async () => {
      const start = await fetch(
        `${origin}/authorize?${new URLSearchParams({ client_id: 'bench', redirect_uri: REDIRECT_URI, response_type: 'code', provider: 'bench' })}`,
        { redirect: 'manual' },
      );
      const cookie = start.headers
        .getSetCookie()
        .map((line) => line.split(';')[0])
        .join('; ');
      const signedIn = await fetch(new URL(start.headers.get('location') ?? '', origin), {
        redirect: 'manual',
        headers: { cookie },
      });
      const code = new URL(signedIn.headers.get('location') ?? '', origin).searchParams.get('code');
      if (!code) throw new Error(`openauth sign-in: ${signedIn.status} ${await signedIn.text()}`);
      const reply = await call(
        '/token',
        form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: 'bench' }),
      );
      const tokens = expectOk('openauth code exchange', reply);
      return { access: String(tokens.access_token), refresh: String(tokens.refresh_token) };
    },
    refresh: async (token) => {
      const reply = await call('/token', form({ grant_type: 'refresh_token', refresh_token: token }));
      return String(expectOk('openauth refresh', reply).refresh_token);
    },
  };
}

export function oauthProviderSide(origin: string, call: Call): Side {
  let clientId: string | undefined;
  return {
    name: 'workers-oauth-provider',
    origin,
    call,
    login: async () => {
      clientId ??= String(expectOk('client', await call('/__bench/client', { method: 'POST' })).client_id);
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT_URI,
        scope: 'read',
        state: 'bench',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      const authorized = await fetch(`${origin}/authorize?${query}`, { redirect: 'manual' });
      const code = new URL(authorized.headers.get('location') ?? '', origin).searchParams.get('code');
      if (!code) throw new Error(`workers-oauth-provider authorize: ${authorized.status} ${await authorized.text()}`);
      const reply = await call(
        '/oauth/token',
        form({
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT_URI,
          client_id: clientId,
          code_verifier: verifier,
        }),
      );
      const tokens = expectOk('workers-oauth-provider code exchange', reply);
      return { access: String(tokens.access_token), refresh: String(tokens.refresh_token) };
    },
    refresh: async (token) => {
      const reply = await call(
        '/oauth/token',
        form({ grant_type: 'refresh_token', refresh_token: token, client_id: clientId ?? '' }),
      );
      return String(expectOk('workers-oauth-provider refresh', reply).refresh_token);
    },
  };
}

/** The durable-write floor (durable-write-floor-worker.ts): a chain per login, one compare-and-set per refresh. */
export function floorSide(origin: string, call: Call): Side {
  return {
    name: 'floor: one Durable Object compare-and-set',
    origin,
    call,
    login: async () => {
      const tokens = expectOk('floor login', await call('/login', { method: 'POST' }));
      return { access: '', refresh: String(tokens.refresh_token) };
    },
    refresh: async (token) =>
      String(
        expectOk('floor refresh', await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: token })))
          .refresh_token,
      ),
  };
}
