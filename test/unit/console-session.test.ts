/**
 * The console's browser sign-in against a clock in the test's hand (as time-windows.test.ts):
 * the app in process over a memory store, both on a stepping clock, served on loopback.
 * A sign-in lives 8 h to the millisecond and then shows the sign-in form; signing out ends
 * it on the server (the old cookie replayed is refused); a sensitive action wants a sign-in
 * within 10 min, and signing in again gives it back. The session cookie's attributes are
 * read from an app with an https issuer too (Secure, the __Host- name).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { serve } from '@hono/node-server';
import { createApp } from '../../worker/app.ts';
import { parseConfig } from '../../worker/config.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import type { Store } from '../../worker/store/store.ts';
import { freePort } from '../fixtures/free-port.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { FormBrowser } from '../fixtures/oauth-client.ts';

const HOUR = 3600_000;
const MINUTE = 60_000;

let app: InProcess;
const step = (ms: number) => app.step(ms);
const closers: (() => void)[] = [];
after(() => {
  app?.close();
  for (const close of closers) close();
});

/** The raw exchange: a browser's cookies as a header we keep (to replay an old one), no redirects followed. */
class Jar {
  readonly cookies = new Map<string, string>();
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }
  header = () => [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  async request(path: string, form?: Record<string, string>, cookie = this.header()) {
    const response = await fetch(`${this.base}${path}`, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { cookie, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(form ? { body: new URLSearchParams(form) } : {}),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, ...value] = (pair ?? '').split('=');
      if (name) this.cookies.set(name.trim(), value.join('='));
    }
    return { status: response.status, html: await response.text(), headers: response.headers };
  }
  /** Signs in through the console's own sign-in form; the CSRF token of this browser. */
  async signIn(email: string): Promise<string> {
    const page = await this.request('/console');
    assert.ok(isSignInForm(page.html), 'signed out, /console shows the sign-in form');
    const csrf = FormBrowser.field(page.html, 'csrf');
    const signedIn = await this.request('/signin', { csrf, return_to: '/console', email });
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.headers.get('location'), '/console');
    return csrf;
  }
}

const isSignInForm = (html: string) => /<form[^>]+action="\/signin"/.test(html) && !/action="\/console\/signout"/.test(html);
const isConsole = (html: string) => /action="\/console\/signout"/.test(html);

describe('a browser sign-in at the console', () => {
  let base: string;
  before(async () => {
    app = await startInProcess();
    base = app.base;
  });

  test('lasts 8 h to the millisecond; then the page is the sign-in form again', async () => {
    const jar = new Jar(base);
    await jar.signIn('eight@hours.example');
    assert.ok(isConsole((await jar.request('/console')).html));
    step(8 * HOUR - 1);
    assert.ok(isConsole((await jar.request('/console')).html), 'at the last millisecond of its life');
    step(1);
    const expired = await jar.request('/console');
    assert.equal(expired.status, 200);
    assert.ok(isSignInForm(expired.html), 'after 8 h: the sign-in form');
    // And a form posted with the expired sign-in (a valid CSRF token) is refused.
    const csrf = FormBrowser.field(expired.html, 'csrf');
    const made = await jar.request('/console/orgs', { csrf, slug: 'too-late' });
    assert.equal(made.status, 403);
  });

  test('sign-out ends it on the server: the old cookie replayed afterwards gets the sign-in form', async () => {
    const jar = new Jar(base);
    const csrf = await jar.signIn('leaving@example.net');
    const signedIn = jar.header();
    const out = await jar.request('/console/signout', { csrf });
    assert.equal(out.status, 303);
    assert.match(out.headers.getSetCookie().join('\n'), /lk_session=;.*Max-Age=0/i, 'the cookie is cleared in the browser too');
    const replayed = await jar.request('/console', undefined, signedIn);
    assert.ok(isSignInForm(replayed.html), 'the cookie from before sign-out is a sign-in no more');
    const posted = await jar.request('/console/orgs', { csrf, slug: 'after-signout' }, signedIn);
    assert.equal(posted.status, 403, 'nor does it post');
  });

  test('a sensitive action wants a sign-in within 10 min; signing in again gives it back', async () => {
    const jar = new Jar(base);
    const csrf = await jar.signIn('recent@example.net');
    assert.equal((await jar.request('/console/orgs', { csrf, slug: 'recent', name: 'Recent' })).status, 303);
    const adminKey = (name: string) => jar.request('/console/orgs/recent/keys', { csrf, name, role: 'admin' });

    step(10 * MINUTE);
    const atTen = await adminKey('at-ten');
    assert.equal(atTen.status, 201, 'at exactly 10 min the sign-in is still recent');
    step(1);
    const late = await adminKey('late');
    assert.equal(late.status, 200);
    assert.ok(isSignInForm(late.html), 'past 10 min: the sign-in form, asking to confirm');
    assert.match(late.html, /id="reauth"/);
    assert.doesNotMatch(late.html, /lk_[A-Za-z]+_[\w-]{20,}/, 'no key was made (no secret on the page)');
    // A member key is not sensitive: still made.
    assert.equal((await jar.request('/console/orgs/recent/keys', { csrf, name: 'plain', role: 'member' })).status, 201);

    // Confirming (a new sign-in in the same browser) makes it recent again.
    assert.equal(
      (await jar.request('/signin', { csrf, return_to: '/console/orgs/recent/keys', email: 'recent@example.net' })).status,
      303,
    );
    assert.equal((await adminKey('again')).status, 201);
  });
});

describe('a sign-in record past its time', () => {
  test('is refused by the app itself, even from a store that has not dropped it yet', async () => {
    // A store that keeps every record forever: what a store whose expiry lags would show.
    const now = app.now;
    const inner = memoryStore({ now });
    const lagging: Store = new Proxy(inner, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (name === 'put') return (key: string, val: string, _ttl?: number) => target.put(key, val, 10 * 365 * 86400);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const config = parseConfig({ LATCHKEY_ISSUER: base, LATCHKEY_IDENTITY: 'dev', LATCHKEY_SESSION_CACHE: '0' });
    const server = serve({ fetch: createApp(config, { store: lagging, now }).fetch, port, hostname: '127.0.0.1' });
    closers.push(() => server.close());
    const jar = new Jar(base);
    await jar.signIn('lagging@example.net');
    step(8 * HOUR);
    assert.ok(isSignInForm((await jar.request('/console')).html), 'the record says it ended; the app believes it');
  });
});

describe('the session cookie on an https issuer', () => {
  test('HttpOnly, Secure, SameSite=Lax, __Host- named, Max-Age at most 8 h', async () => {
    const issuer = 'https://127.0.0.1:8443';
    const config = parseConfig({ LATCHKEY_ISSUER: issuer, LATCHKEY_IDENTITY: 'dev' });
    const https = createApp(config, { store: memoryStore({ now: app.now }), now: app.now });
    const page = await https.fetch(new Request(`${issuer}/console`));
    const binding = page.headers.getSetCookie().find((line) => line.startsWith('__Host-lk_b='));
    assert.ok(binding, `no __Host- binding cookie: ${page.headers.getSetCookie().join(' | ')}`);
    const csrf = FormBrowser.field(await page.text(), 'csrf');
    const signedIn = await https.fetch(
      new Request(`${issuer}/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: binding.split(';')[0] ?? '' },
        body: new URLSearchParams({ csrf, return_to: '/console', email: 'secure@example.net' }),
      }),
    );
    assert.equal(signedIn.status, 303, await signedIn.text());
    const cookie = signedIn.headers.getSetCookie().find((line) => line.startsWith('__Host-lk_session='));
    assert.ok(cookie, `no __Host-lk_session cookie: ${signedIn.headers.getSetCookie().join(' | ')}`);
    assert.match(cookie, /;\s*HttpOnly/i);
    assert.match(cookie, /;\s*Secure/i);
    assert.match(cookie, /;\s*SameSite=Lax/i);
    assert.match(cookie, /;\s*Path=\//i);
    assert.doesNotMatch(cookie, /;\s*Domain=/i);
    const maxAge = Number(/Max-Age=(\d+)/i.exec(cookie)?.[1]);
    assert.ok(maxAge > 0 && maxAge <= 8 * 3600, `Max-Age ${maxAge}`);
  });
});
