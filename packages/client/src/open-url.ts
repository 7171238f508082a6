/**
 * URLs that come from the server — the authorization endpoint a browser login opens, the
 * verification URI a device login shows — and how one is handed to a browser. A server is
 * trusted to send people to its own pages and nowhere else: not to another origin (a
 * look-alike sign-in page), never to javascript:, file: or any scheme but http(s).
 */
import { LatchkeyError } from './errors.ts';

const web = (url: URL) => url.protocol === 'http:' || url.protocol === 'https:';

/** `url`, if it is http(s) and on `server`'s origin; else a refusal naming `what` the server sent. */
export function ownUrl(server: string, url: string, what: string, appName = 'latchkey'): URL {
  const origin = new URL(server).origin;
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {}
  if (!parsed || !web(parsed) || parsed.origin !== origin) {
    // Where it points, not the URL itself: a refusal should not hand the person the link after all.
    const where = parsed ? (web(parsed) ? parsed.origin : parsed.protocol) : 'no URL';
    throw new LatchkeyError(
      'server_error',
      `the server's ${what} points to ${where}, not to an http(s) page of ${origin}; ${appName} neither opens nor shows it`,
    );
  }
  return parsed;
}

/**
 * The program and its arguments that open an http(s) `url`: LATCHKEY_BROWSER, else the
 * platform's opener. The URL is one argument of its own and no shell reads it. Not
 * `cmd /c start "" URL` on Windows: cmd parses the whole line, so a `&` in the URL ends
 * the command and whatever follows runs. rundll32 hands the URL to the shell's protocol
 * handler as it is (a serialised URL holds no space or quote for quoting to change).
 */
export function browserCommand(platform: string, env: Record<string, string | undefined>, url: string): [string, ...string[]] {
  const parsed = new URL(url);
  if (!web(parsed)) throw new LatchkeyError('server_error', `latchkey opens only http(s) URLs, not ${parsed.protocol}`);
  if (env.LATCHKEY_BROWSER) return [env.LATCHKEY_BROWSER, parsed.href];
  if (platform === 'darwin') return ['open', parsed.href];
  if (platform === 'win32') return ['rundll32', 'url.dll,FileProtocolHandler', parsed.href];
  return ['xdg-open', parsed.href];
}
