/**
 * The frame every page shares. No inline script (only same-origin files: the console's, the
 * passkey ceremony's), one same-origin stylesheet, and headers
 * that keep the pages out of frames (clickjacking a consent button is the classic attack).
 * The deployment's product name is the wordmark and ends every title; its accent is in
 * the stylesheet (stylesheet.ts), which stays a file (CSP `style-src 'self'`: no inline
 * style to hash).
 */
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { type Branding, DEFAULT_BRANDING } from '../branding.ts';
import { stylesheetPath } from './stylesheet.ts';

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

/** The brand of the deployment serving `c` (every page is rendered after services are set). */
export function brandOf(c: Context): Branding {
  const services: { config: { branding: Branding } } | undefined = c.get('services');
  return services?.config.branding ?? DEFAULT_BRANDING;
}

/**
 * `formAction` adds one origin the page's form may lead to: Chromium applies CSP
 * form-action to the redirect after a post, and browser login's consent ends in a
 * redirect to the client's loopback address.
 */

export function renderPage(
  c: Context,
  status: 200 | 201 | 400 | 403 | 404 | 409 | 429 | 503,
  title: string,
  body: Fragment,
  options: {
    formAction?: string;
    /** The console's frame: a wider page, its navigation above the title, its one same-origin script. */
    console?: { nav: Fragment };
    /** A same-origin script file of the page's own (the passkey ceremony at sign-in: pages/passkey-script.ts). */
    script?: string;
  } = {},
) {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) c.header(name, value);
  let policy = PAGE_HEADERS['Content-Security-Policy'] ?? '';
  if (options.formAction) policy = policy.replace("form-action 'self'", `form-action 'self' ${options.formAction}`);
  // Still no inline script anywhere: only the file below, from this origin.
  if (options.console || options.script) policy = policy.replace("default-src 'none';", "default-src 'none'; script-src 'self';");
  c.header('Content-Security-Policy', policy);
  const brand = brandOf(c);
  return c.html(
    html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${brand.productName}</title>
<link rel="stylesheet" href="${stylesheetPath(brand)}">
${options.console ? html`<script src="/assets/console.js" defer></script>` : ''}
${options.script ? html`<script src="${options.script}" defer></script>` : ''}
</head>
<body>
${options.console ? options.console.nav : ''}
<main${options.console ? html` class="wide"` : ''}>
${options.console ? '' : html`<p class="brand">${brand.productName}</p>`}
<h1>${title}</h1>
${body}
</main>
</body>
</html>`,
    status,
  );
}
