/**
 * The one stylesheet every page links, in the deployment's accent. It is served as a file
 * (the pages' CSP allows no inline style) and cached an hour, so its address carries the
 * accent: a change of accent is a new address.
 */
import type { Branding } from '../branding.ts';

export const STYLESHEET_PATH = '/assets/latchkey.css';

/**
 * Where a page links the stylesheet: the accent rides in the query, so a browser that
 * cached the stylesheet before a change of accent fetches the new one (it is cached an hour).
 */
export const stylesheetPath = (brand: Branding) => `${STYLESHEET_PATH}?v=${stylesheetVersion(brand.accent)}`;

/** The `v` of the stylesheet in `accent`; the route caches only the stylesheet it was asked for. */
export const stylesheetVersion = (accent: string) => accent.slice(1);

/**
 * The stylesheet in the deployment's accent, made once per accent (one per isolate), not
 * per request. An accent too light to read on white (under WCAG AA's 4.5:1) gets
 * near-black button text, and text that would be in it (the wordmark, the current tab)
 * is in the page's own text colour instead: the accent stays in borders and buttons.
 */
export function stylesheet(accent: string): string {
  let css = stylesheets.get(accent);
  if (css === undefined) {
    const reads = contrastWithWhite(accent) >= 4.5;
    const onAccent = reads ? '#fff' : '#111827';
    const accentText = reads ? accent : 'CanvasText';
    css = `\n:root { color-scheme: light dark; --accent: ${accent}; --on-accent: ${onAccent}; --accent-text: ${accentText}; --muted: #6b7280; }${RULES}`;
    stylesheets.set(accent, css);
  }
  return css;
}
const stylesheets = new Map<string, string>();

/** WCAG 2 contrast ratio of white and `#rrggbb` (latchkey's own blue: 5.2). */
function contrastWithWhite(accent: string): number {
  const channel = (offset: number) => {
    const value = Number.parseInt(accent.slice(offset, offset + 2), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  return 1.05 / (luminance + 0.05);
}

/** Everything but the :root variables, which the accent sets. */
const RULES = `
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 28rem; margin: 0 auto; padding: 2rem 1.25rem; }
.brand { font-weight: 700; letter-spacing: .04em; color: var(--accent-text); margin: 0 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=email], input[type=text], input[type=password] { width: 100%; font-size: 1.125rem; padding: .625rem .75rem; border: 1px solid #9ca3af; border-radius: .5rem; }
input.code { font-family: ui-monospace, monospace; letter-spacing: .15em; text-transform: uppercase; }
button { font: inherit; font-size: 1rem; padding: .75rem 1.25rem; border-radius: .5rem; border: 1px solid var(--accent); background: var(--accent); color: var(--on-accent); cursor: pointer; margin: 1rem .5rem 0 0; min-width: 8rem; }
button.secondary { background: transparent; color: inherit; border-color: #9ca3af; }
.code-box { font: 700 1.75rem ui-monospace, monospace; letter-spacing: .2em; padding: .75rem; border: 2px dashed var(--accent); border-radius: .5rem; text-align: center; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.error { border-left: 4px solid #dc2626; padding: .5rem .75rem; background: rgba(220,38,38,.08); }
.muted { color: var(--muted); font-size: .9rem; }
main.wide { max-width: 64rem; }
.skip { position: absolute; left: -999rem; }
.skip:focus { left: 1rem; top: .5rem; background: Canvas; padding: .5rem; z-index: 2; }
nav.top { border-bottom: 1px solid #d1d5db; }
nav.top > div { max-width: 64rem; margin: 0 auto; padding: .5rem 1.25rem; display: flex; flex-wrap: wrap; gap: .25rem 1rem; align-items: center; }
nav.top .brand { margin: 0 1rem 0 0; }
nav.top a { color: inherit; text-decoration: none; padding: .5rem .25rem; }
nav.top a[aria-current=page] { color: var(--accent-text); font-weight: 700; border-bottom: 2px solid var(--accent); }
nav.top form { margin-left: auto; }
nav.top form button { margin: 0; min-width: 0; padding: .375rem .75rem; }
nav.tabs { display: flex; flex-wrap: wrap; gap: .25rem .75rem; margin: 0 0 1.5rem; border-bottom: 1px solid #d1d5db; }
nav.tabs a { padding: .5rem .25rem; color: inherit; text-decoration: none; }
nav.tabs a[aria-current=page] { color: var(--accent-text); font-weight: 700; border-bottom: 2px solid var(--accent); }
h2 { font-size: 1.2rem; margin: 2rem 0 .75rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
th, td { text-align: left; padding: .5rem .5rem; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td form { display: inline; }
td button, .inline button { margin: 0 .25rem .25rem 0; padding: .375rem .75rem; min-width: 0; font-size: .9rem; }
select, textarea, input[type=number], input[type=search] { font: inherit; font-size: 1rem; padding: .5rem .625rem; border: 1px solid #9ca3af; border-radius: .5rem; width: 100%; }
textarea { font-family: ui-monospace, monospace; min-height: 10rem; }
fieldset { border: 1px solid #d1d5db; border-radius: .5rem; margin: 1rem 0; padding: .5rem 1rem 1rem; }
.notice { border-left: 4px solid #16a34a; padding: .5rem .75rem; background: rgba(22,163,74,.08); }
.secret { font: 600 1rem ui-monospace, monospace; padding: .75rem; border: 2px dashed var(--accent); border-radius: .5rem; overflow-wrap: anywhere; }
.pass { color: #15803d; font-weight: 700; }
.fail { color: #b91c1c; font-weight: 700; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 1rem; border: 1px solid #9ca3af; font-size: .85rem; }
code { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
@media (max-width: 40rem) { th, td { padding: .375rem .25rem; } main { padding: 1.25rem .75rem; } }
td select { width: auto; max-width: 100%; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
form.filter .fields { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: 0 1rem; align-items: end; }
table.audit { font-size: .85rem; }
table.audit th, table.audit td { padding: .5rem .3rem; }
table.audit td:nth-child(2) { white-space: nowrap; }
table.audit td:last-child code { overflow-wrap: normal; }
@media (max-width: 40rem) { table.stack thead { position: absolute; left: -999rem; } table.stack tr { display: block; border-bottom: 1px solid #e5e7eb; padding: .5rem 0; } table.stack td { display: block; border: 0; padding: .125rem 0; } table.stack td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-weight: 600; } }
pre { white-space: pre-wrap; overflow-wrap: anywhere; padding: .75rem; border: 1px solid #d1d5db; border-radius: .5rem; }
table.keys code { font-size: .8rem; white-space: nowrap; overflow-wrap: normal; }
table.keys .when { white-space: nowrap; }
table.keys caption { text-align: left; }
table.keys td.actions { min-width: 12rem; position: relative; }
table.keys select { width: auto; }
`;
