/**
 * Browser login from the CLI's side (RFC 8252): a listener on a free loopback port, a
 * PKCE verifier and a `state` that never leave this process, the system browser sent to
 * /oauth/authorize, and one callback awaited for at most five minutes.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenResponse } from '../../../shared/schemas.ts';
import type { LatchkeyClient } from './client.ts';
import type { ClientDeps } from './deps.ts';
import { LatchkeyError } from './errors.ts';
import { printable } from './printable.ts';
import { productOf } from './product.ts';

export const BROWSER_LOGIN_TIMEOUT_MS = 5 * 60_000;

/**
 * The loopback reply page, in the look of the server's own pages. It cannot load the
 * server's stylesheet (another origin), so it carries its own: a static style block allowed
 * by its hash, and nothing else (no script, no image, no frame). Every text is escaped.
 */
const PAGE_STYLE = `:root{color-scheme:light dark;--accent:#2563eb;--muted:#6b7280}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:28rem;margin:0 auto;padding:2rem 1.25rem}
.brand{font-weight:700;letter-spacing:.04em;color:var(--accent);margin:0 0 1rem}
h1{font-size:1.5rem;margin:0 0 1rem}
.error{border-left:4px solid #dc2626;padding:.5rem .75rem;background:rgba(220,38,38,.08);overflow-wrap:anywhere}
.done{border-left:4px solid #16a34a;padding:.5rem .75rem;background:rgba(22,163,74,.08)}
.muted{color:var(--muted);font-size:.9rem}`;
export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(PAGE_STYLE).digest('base64')}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text made safe for HTML: markup characters escaped, control characters shown as escapes, length bounded. */
export const htmlText = (text: string, max = 300): string => {
  const shown = printable(text.length > max ? `${text.slice(0, max)}…` : text);
  return shown.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
};

/** `ok`: the sign-in finished; otherwise `detail` (the server's words, if it sent any) is shown as an error. */
export const loopbackPage = (
  title: string,
  message: string,
  options: { ok: boolean; detail?: string | null; appName?: string },
) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
  `<title>${htmlText(title)} · ${htmlText(options.appName ?? 'latchkey')}</title><style>${PAGE_STYLE}</style></head>` +
  `<body><main><p class="brand">${htmlText(options.appName ?? 'latchkey')}</p><h1>${htmlText(title)}</h1>` +
  `<p class="${options.ok ? 'done' : 'error'}" role="${options.ok ? 'status' : 'alert'}">${htmlText(message)}</p>` +
  (options.detail ? `<p class="muted">The server said: ${htmlText(options.detail)}</p>` : '') +
  `</main></body></html>`;

const sameSecret = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Not opened: why, where the opener said (no display, an opener that failed); the caller falls back to the device flow. */
export type BrowserLoginResult = { opened: false; reason: string | null } | { opened: true; tokens: TokenResponse };

/**
 * What a browser login tells its caller, for its UI: the browser was sent to `url` (shown
 * too, in case nothing appeared); or, not asked to open one, the `url` to open by hand;
 * then it waits for the callback.
 */
export type BrowserLoginEvent = { type: 'opened'; url: string } | { type: 'open-yourself'; url: string } | { type: 'waiting' };

export type BrowserLoginOptions = {
  scope: string | undefined;
  /** false: no browser is opened; the `open-yourself` event hands the URL over instead. */
  open: boolean;
  org?: string | undefined;
  /** Opens the system browser: true, or false / why not (the caller then falls back to the device flow). */
  openBrowser: (url: string) => Promise<boolean | string>;
  onEvent?: (event: BrowserLoginEvent) => void;
};

export async function browserLogin(
  deps: Pick<ClientDeps, 'sleep' | 'signal' | 'product'>,
  client: LatchkeyClient,
  options: BrowserLoginOptions,
): Promise<BrowserLoginResult> {
  const { appName, loginCommand } = productOf(deps);
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
    const reply = (status: number, title: string, message: string, outcome: { ok?: boolean; detail?: string } = {}) => {
      response.writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': PAGE_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      response.end(loopbackPage(title, message, { ok: outcome.ok === true, detail: outcome.detail ?? null, appName }));
    };
    // A callback whose state is not ours was not started by this login: ignore it and keep waiting.
    if (!sameSecret(url.searchParams.get('state') ?? '', state)) {
      return reply(400, 'Not this login', `This sign-in answer does not belong to the ${appName} command that is waiting.`);
    }
    if (url.searchParams.get('iss') !== metadata.issuer) {
      reply(400, 'Wrong server', `The answer came from a different server than the one ${appName} asked.`);
      return settle?.reject(new LatchkeyError('server_error', 'the sign-in answer named another issuer; not trusting it'));
    }
    const error = url.searchParams.get('error');
    if (error) {
      reply(200, 'Sign-in not completed', 'You can close this tab and return to your terminal.', {
        detail: url.searchParams.get('error_description') ?? error,
      });
      return settle?.reject(
        error === 'access_denied'
          ? new LatchkeyError('access_denied', 'the sign-in was denied in the browser')
          : new LatchkeyError(
              'server_error',
              `the server refused the sign-in: ${url.searchParams.get('error_description') ?? error}`,
            ),
      );
    }
    const code = url.searchParams.get('code');
    if (!code) return reply(400, 'Incomplete answer', 'The sign-in answer carried no code.');
    reply(200, 'Signed in', 'You can close this tab and return to your terminal.', { ok: true });
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
      const opened = await options.openBrowser(url.href);
      if (opened !== true) return { opened: false, reason: opened === false ? null : opened };
      options.onEvent?.({ type: 'opened', url: url.href });
    } else {
      options.onEvent?.({ type: 'open-yourself', url: url.href });
    }
    options.onEvent?.({ type: 'waiting' });

    const code = await Promise.race([
      callback,
      deps.sleep(BROWSER_LOGIN_TIMEOUT_MS, AbortSignal.any([deps.signal, done.signal])).then(() => {
        throw new LatchkeyError('timed_out', `no answer from the browser within 5 minutes; run \`${loginCommand}\` again`);
      }),
    ]);
    return { opened: true, tokens: await client.exchangeCode({ code, verifier, redirectUri }) };
  } finally {
    done.abort(); // stops the five-minute timer once the answer is in
    server.closeAllConnections();
    server.close();
  }
}
