/**
 * The frame every page shares. No script at all, one same-origin stylesheet, and headers
 * that keep the pages out of frames (clickjacking a consent button is the classic attack).
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

export type Fragment = HtmlEscapedString | Promise<HtmlEscapedString>;

export const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  // A page of another site that opened ours as a popup cannot steer it afterwards.
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/**
 * `formAction` adds one origin the page's form may lead to: Chromium applies CSP
 * form-action to the redirect after a post, and browser login's consent ends in a
 * redirect to the client's loopback address.
 */
export function renderPage(
  c: Context,
  status: 200 | 400 | 403 | 404 | 429 | 503,
  title: string,
  body: Fragment,
  options: { formAction?: string } = {},
) {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) c.header(name, value);
  if (options.formAction) {
    c.header(
      'Content-Security-Policy',
      PAGE_HEADERS['Content-Security-Policy']?.replace("form-action 'self'", `form-action 'self' ${options.formAction}`),
    );
  }
  return c.html(
    html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · latchkey</title>
<link rel="stylesheet" href="/assets/latchkey.css">
</head>
<body>
<main>
<p class="brand">latchkey</p>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`,
    status,
  );
}

export const STYLESHEET = `
:root { color-scheme: light dark; --accent: #2563eb; --muted: #6b7280; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 28rem; margin: 0 auto; padding: 2rem 1.25rem; }
.brand { font-weight: 700; letter-spacing: .04em; color: var(--accent); margin: 0 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=email], input[type=text] { width: 100%; font-size: 1.125rem; padding: .625rem .75rem; border: 1px solid #9ca3af; border-radius: .5rem; }
input.code { font-family: ui-monospace, monospace; letter-spacing: .15em; text-transform: uppercase; }
button { font: inherit; font-size: 1rem; padding: .75rem 1.25rem; border-radius: .5rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; margin: 1rem .5rem 0 0; min-width: 8rem; }
button.secondary { background: transparent; color: inherit; border-color: #9ca3af; }
.code-box { font: 700 1.75rem ui-monospace, monospace; letter-spacing: .2em; padding: .75rem; border: 2px dashed var(--accent); border-radius: .5rem; text-align: center; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.error { border-left: 4px solid #dc2626; padding: .5rem .75rem; background: rgba(220,38,38,.08); }
.muted { color: var(--muted); font-size: .9rem; }
`;
