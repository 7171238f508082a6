/**
 * Browser login from the CLI's side (RFC 8252): a listener on a free loopback port, a
 * PKCE verifier and a `state` that never leave this process, the system browser sent to
 * /oauth/authorize, and one callback awaited for at most five minutes.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenResponse } from '../shared/schemas.ts';
import type { LatchkeyClient } from './client.ts';
import type { CliDeps } from './deps.ts';
import { CliError } from './errors.ts';

export const BROWSER_LOGIN_TIMEOUT_MS = 5 * 60_000;

const page = (title: string, message: string) =>
  `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>` +
  `<body style="font:16px system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem"><h1>${title}</h1><p>${message}</p>`;

const sameSecret = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Not opened: why, where the opener said (no display, an opener that failed); the caller falls back to the device flow. */
export type BrowserLoginResult = { opened: false; reason: string | null } | { opened: true; tokens: TokenResponse };

export async function browserLogin(
  deps: CliDeps,
  client: LatchkeyClient,
  options: { scope: string | undefined; open: boolean; org?: string | undefined },
): Promise<BrowserLoginResult> {
  const metadata = await client.discover();
  const done = new AbortController();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  let settle: { resolve: (code: string) => void; reject: (error: Error) => void } | undefined;
  const callback = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') return void response.writeHead(404).end();
    const reply = (status: number, title: string, message: string) => {
      response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(page(title, message));
    };
    // A callback whose state is not ours was not started by this login: ignore it and keep waiting.
    if (!sameSecret(url.searchParams.get('state') ?? '', state)) {
      return reply(400, 'Not this login', 'This sign-in answer does not belong to the latchkey command that is waiting.');
    }
    if (url.searchParams.get('iss') !== metadata.issuer) {
      reply(400, 'Wrong server', 'The answer came from a different server than the one latchkey asked.');
      return settle?.reject(new CliError('server_error', 'the sign-in answer named another issuer; not trusting it'));
    }
    const error = url.searchParams.get('error');
    if (error) {
      reply(200, 'Sign-in not completed', 'You can close this tab and return to your terminal.');
      return settle?.reject(
        error === 'access_denied'
          ? new CliError('access_denied', 'the sign-in was denied in the browser')
          : new CliError('server_error', `the server refused the sign-in: ${url.searchParams.get('error_description') ?? error}`),
      );
    }
    const code = url.searchParams.get('code');
    if (!code) return reply(400, 'Incomplete answer', 'The sign-in answer carried no code.');
    reply(200, 'Signed in', 'You can close this tab and return to your terminal.');
    settle?.resolve(code);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;

  try {
    const url = new URL(metadata.authorization_endpoint);
    const params = {
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: redirectUri,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state,
      ...(options.scope ? { scope: options.scope } : {}),
      ...(options.org ? { org: options.org } : {}),
    };
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);

    if (options.open) {
      const opened = await deps.openBrowser(url.href);
      if (opened !== true) return { opened: false, reason: opened === false ? null : opened };
      deps.io.err(`Opened your browser to sign in. If nothing appeared, open:\n\n  ${url.href}\n\n`);
    } else {
      deps.io.err(`Open this URL in a browser on this computer to sign in:\n\n  ${url.href}\n\n`);
    }
    deps.io.err('Waiting for the browser (Ctrl-C to cancel)…\n');

    const code = await Promise.race([
      callback,
      deps.sleep(BROWSER_LOGIN_TIMEOUT_MS, AbortSignal.any([deps.signal, done.signal])).then(() => {
        throw new CliError('timed_out', 'no answer from the browser within 5 minutes; run `latchkey login` again');
      }),
    ]);
    return { opened: true, tokens: await client.exchangeCode({ code, verifier, redirectUri }) };
  } finally {
    done.abort(); // stops the five-minute timer once the answer is in
    server.closeAllConnections();
    server.close();
  }
}
