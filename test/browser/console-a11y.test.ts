/**
 * An accessibility check of every console page with axe-core in Chromium, at 1280 and 390
 * pixels wide: no violation of impact serious or critical. The pages are found as a person
 * finds them, by following the console's own same-origin links from /console as the owner
 * of a populated org (who is also an operator), plus the pages that answer its forms
 * (a new org, a new key's secret, a policy made and one refused, a dry-run's result, an
 * invitation sent, the operator's lookup), the sign-in page, the confirm-it's-you page and
 * error pages. Each page is also checked for what the CSP refused (nothing may be) and for
 * content wider than the window. The tests write the README's screenshots.
 *
 * axe is injected with `page.evaluate` of its source: the console's CSP allows scripts from
 * its own origin only (no inline script), so `page.addScriptTag({content})` would be
 * refused, as it should be; code evaluated through the DevTools protocol is not a page
 * script, so the pages are checked under their real CSP (no `bypassCSP` context, which
 * would also hide a style the CSP refuses).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { apiCall } from '../fixtures/api-call.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { GITHUB, octoRepoPolicy } from '../fixtures/ci-claims.ts';
import { consoleAs, DESKTOP, PHONE, screenshot, signInHere } from '../fixtures/console.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { addMember, deviceLogin } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const OWNER = 'owner@acme.example';
const ORG = 'acme';
/** Pages past this many are left out (a crawl that found an endless family of URLs is a bug of its own). */
const MAX_PAGES = 80;

let worker: RunningWorker;
let github: FakeCiIssuer;
let browser: Browser;
let ownerToken = '';

type AxeNode = { target: unknown[]; failureSummary?: string; html: string };
type AxeViolation = { id: string; impact: string | null; help: string; helpUrl: string; nodes: AxeNode[] };

/** What is wrong with one page, in words (empty: nothing). */
async function problemsOf(page: Page, width: number, csp: string[]): Promise<string[]> {
  const problems: string[] = [];
  await page.evaluate(AXE_SOURCE);
  // Strings, evaluated in the page (this file is compiled without the DOM's types).
  const violations = (await page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((result) => result.violations)",
  )) as AxeViolation[];
  for (const violation of violations.filter((one) => one.impact === 'serious' || one.impact === 'critical')) {
    const where = violation.nodes
      .slice(0, 5)
      .map(
        (node) =>
          `      ${node.target.join(' ')}: ${node.html.slice(0, 160)}\n        ${(node.failureSummary ?? '').replace(/\n/g, '\n        ')}`,
      )
      .join('\n');
    problems.push(`${violation.impact} ${violation.id}: ${violation.help} (${violation.nodes.length} element(s))\n${where}`);
  }
  for (const refused of csp.splice(0)) problems.push(`the CSP refused: ${refused}`);
  const wide = (await page.evaluate('document.documentElement.scrollWidth')) as number;
  if (wide > width + 1) problems.push(`wider than the window: ${wide} px in ${width} px (the page scrolls sideways)`);
  return problems;
}

/** A console context for the owner at a width, collecting what the CSP refuses. */
async function ownerAt(viewport: { width: number; height: number }) {
  const { context, page } = await consoleAs(browser, worker.url, OWNER, viewport);
  const csp: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) csp.push(message.text());
  });
  // The data-confirm forms ask before posting; a person says yes.
  page.on('dialog', (dialog) => void dialog.accept());
  return { context, page, csp };
}

/** A page's key in the crawl: its path and the names (not values) of its query, so pages of one kind are checked once. */
function kindOf(url: URL): string {
  const names = [...new Set([...url.searchParams.keys()])].filter((name) => name !== 'notice').sort();
  const values = url.searchParams.get('preset') ?? '';
  return `${url.pathname}?${names.join('&')}${values ? `=${values}` : ''}`;
}

type Visit = { name: string; status: number; problems: string[] };

/**
 * Every page reachable by links from /console (same origin, under /console), breadth first,
 * then the pages that answer the console's forms. Returns each page and what is wrong with it.
 */
async function visitAll(viewport: { width: number; height: number }, tag: string): Promise<Visit[]> {
  const { context, page, csp } = await ownerAt(viewport);
  const visits: Visit[] = [];
  const check = async (name: string, status: number) => {
    visits.push({ name, status, problems: await problemsOf(page, viewport.width, csp) });
  };
  try {
    const seen = new Set<string>();
    const queue = [new URL('/console', worker.url)];
    while (queue.length > 0 && seen.size < MAX_PAGES) {
      const url = queue.shift() as URL;
      const kind = kindOf(url);
      if (seen.has(kind)) continue;
      seen.add(kind);
      const response = await page.goto(url.href);
      await check(`GET ${url.pathname}${url.search}`, response?.status() ?? 0);
      const links = await page.$$eval('a[href]', (anchors) =>
        anchors.map((anchor) => (anchor as unknown as { href: string }).href),
      );
      for (const href of links) {
        const next = new URL(href);
        next.hash = '';
        // acme's pages only: another org's (one the desktop run made) are the same pages again.
        const org = /^\/console\/orgs\/([^/]+)/.exec(next.pathname)?.[1];
        if (org !== undefined && org !== ORG && org !== 'new') continue;
        if (next.origin === url.origin && next.pathname.startsWith('/console') && !seen.has(kindOf(next))) queue.push(next);
      }
    }
    const found = [...seen];
    for (const must of [
      '/console?',
      '/console/orgs/new?',
      `/console/orgs/${ORG}?`,
      `/console/orgs/${ORG}/members?`,
      `/console/orgs/${ORG}/keys?`,
      `/console/orgs/${ORG}/policies?`,
      `/console/orgs/${ORG}/audit?`,
      '/console/operator?',
    ]) {
      assert.ok(found.includes(must), `the crawl did not reach ${must}; it found:\n${found.join('\n')}`);
    }
    assert.ok(
      found.some((kind) => kind.startsWith(`/console/orgs/${ORG}/policies/new?preset=`)),
      `no new-policy form reached: ${found.join(', ')}`,
    );

    if (tag === 'desktop') {
      await page.goto(`${worker.url}/console`);
      await screenshot(page, 'console-you-desktop');
    } else {
      await page.goto(`${worker.url}/console/orgs/${ORG}/members`);
      await screenshot(page, 'console-members-phone');
    }

    // The pages that answer forms, each submitted as a person would.
    const post = async (name: string, path: string, form: string, fields: Record<string, string>) => {
      await page.goto(`${worker.url}${path}`);
      const scope = page.locator(form).first();
      for (const [field, value] of Object.entries(fields)) {
        const input = scope.locator(`[name="${field}"]`);
        if ((await input.evaluate((element) => element.tagName)) === 'SELECT') await input.selectOption(value);
        else await input.fill(value);
      }
      const [response] = await Promise.all([page.waitForNavigation(), scope.locator('button[type=submit]').first().click()]);
      await check(`${name} (form → ${response?.status()})`, response?.status() ?? 0);
    };
    await post('a new org', '/console/orgs/new', 'form[action="/console/orgs"]', { slug: `made-${tag}`, name: `Made ${tag}` });
    await post('a new key and its secret', `/console/orgs/${ORG}/keys`, `form[action="/console/orgs/${ORG}/keys"]`, {
      name: `key-${tag}`,
      role: 'member',
    });
    await post('an invitation sent', `/console/orgs/${ORG}/members`, `form[action="/console/orgs/${ORG}/invitations"]`, {
      email: `new-${tag}@example.org`,
      role: 'member',
    });
    const policy = JSON.stringify(
      octoRepoPolicy(github.issuer, `${worker.url}/orgs/${ORG}`, {
        id: `a11y-${tag}`,
        grant: { project: 'web', scopes: ['read'] },
      }),
    );
    const policyForm = `form[action="/console/orgs/${ORG}/policies"]`;
    await post('a policy made (JSON)', `/console/orgs/${ORG}/policies/new?preset=json`, policyForm, { policy });
    await post('a policy refused (the form again)', `/console/orgs/${ORG}/policies/new?preset=json`, policyForm, { policy: '{' });
    const token = await github.sign(GITHUB.branchPush, { audience: `${worker.url}/orgs/${ORG}` });
    await post(
      'a dry-run result',
      `/console/orgs/${ORG}/policies/dry-run`,
      `form[action="/console/orgs/${ORG}/policies/dry-run"]`,
      { subject_token: token },
    );
    await post('an audit trail filtered', `/console/orgs/${ORG}/audit`, 'form.filter', { actor: OWNER, limit: '5' });
    await post('an operator lookup', '/console/operator', 'form[action="/console/operator"]', { email: OWNER });

    // Error pages in the console look.
    for (const path of [`/console/orgs/nowhere`, '/console/no-such-page', `/console/orgs/${ORG}/audit?limit=nope`]) {
      const response = await page.goto(`${worker.url}${path}`);
      await check(`error page GET ${path}`, response?.status() ?? 0);
    }
    return visits;
  } finally {
    await context.close();
  }
}

function report(visits: Visit[]): string {
  return visits
    .filter((visit) => visit.problems.length > 0)
    .map((visit) => `${visit.name} [${visit.status}]\n  ${visit.problems.join('\n  ')}`)
    .join('\n\n');
}

before(async () => {
  github = await startFakeCiIssuer();
  [worker, browser] = await Promise.all([
    startWorker({ LATCHKEY_OPERATORS: OWNER, LATCHKEY_CI_ISSUERS: `${github.issuer}=repository_owner_id` }),
    launchChromium(),
  ]);
  // A populated org: projects, members, a pending invitation, keys, policies, audit entries,
  // the owner's CLI session, and an invitation of the owner's to another org.
  ownerToken = (await deviceLogin(worker.url, OWNER)).access_token;
  const call = async (method: string, path: string, body?: Record<string, unknown>, token = ownerToken) => {
    const answer = await apiCall(worker.url, method, path, token, body);
    assert.ok(answer.status < 300, `${method} ${path}: ${answer.status} ${answer.text}`);
    return answer.json;
  };
  await call('POST', '/v1/orgs', { slug: ORG, name: 'Acme Corp' });
  for (const project of ['web', 'api']) await call('POST', `/v1/orgs/${ORG}/projects`, { slug: project });
  await addMember(worker.url, ownerToken, ORG, 'admin@acme.example', 'admin');
  await addMember(worker.url, ownerToken, ORG, 'dev@acme.example', 'member');
  await call('POST', `/v1/orgs/${ORG}/invitations`, { email: 'later@example.org', role: 'member' });
  await call('POST', `/v1/orgs/${ORG}/keys`, { name: 'ci-deploy', role: 'member', project: 'web' });
  await call('POST', `/v1/orgs/${ORG}/keys`, { name: 'ops-admin', role: 'admin' });
  await call(
    'POST',
    `/v1/orgs/${ORG}/trust-policies`,
    octoRepoPolicy(github.issuer, `${worker.url}/orgs/${ORG}`, {
      id: 'main-deploy',
      grant: { project: 'web', scopes: ['read'] },
    }),
  );
  const other = (await deviceLogin(worker.url, 'boss@globex.example')).access_token;
  await call('POST', '/v1/orgs', { slug: 'globex', name: 'Globex' }, other);
  await call('POST', '/v1/orgs/globex/invitations', { email: OWNER, role: 'admin' }, other);
});
after(async () => {
  await browser?.close();
  await worker?.stop();
  await github?.stop();
});

describe('every console page passes axe (no serious or critical violation)', () => {
  for (const [tag, viewport] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ] as const) {
    test(`at ${viewport.width} px: the pages reached from /console and the pages answering its forms`, async (t) => {
      const visits = await visitAll(viewport, tag);
      t.diagnostic(`${visits.length} pages: ${visits.map((visit) => visit.name).join(' · ')}`);
      assert.ok(visits.length >= 15, `only ${visits.length} pages visited`);
      assert.equal(report(visits), '', `${visits.length} pages checked`);
    });
  }

  test('the sign-in page, at both widths', async () => {
    for (const viewport of [DESKTOP, PHONE]) {
      const context = await browser.newContext({ viewport });
      try {
        const page = await context.newPage();
        const csp: string[] = [];
        page.on('console', (message) => {
          if (/Content Security Policy/i.test(message.text())) csp.push(message.text());
        });
        const response = await page.goto(`${worker.url}/console/orgs/${ORG}/keys`);
        assert.equal(response?.status(), 200);
        assert.equal(await page.locator('form[action="/signin"]').count(), 1, 'signed out: the sign-in form');
        assert.equal(report([{ name: 'sign-in', status: 200, problems: await problemsOf(page, viewport.width, csp) }]), '');
      } finally {
        await context.close();
      }
    }
  });
});

/**
 * The confirm-it's-you page needs a sign-in older than ten minutes: the app in process on a
 * stepping clock (as test/unit/console-session.test.ts), driven by the same Chromium.
 */
describe('the confirm-it’s-you page', () => {
  let app: InProcess;
  before(async () => {
    app = await startInProcess();
  });
  after(() => app?.close());

  test('asked for an admin key 11 min after signing in, at both widths; confirming makes the key', async () => {
    for (const viewport of [DESKTOP, PHONE]) {
      let context: BrowserContext | undefined;
      try {
        const base = app.base;
        ({ context } = await consoleAs(browser, base, `confirm${viewport.width}@example.net`, viewport));
        const page = context.pages()[0] as Page;
        const slug = `conf-${viewport.width}`;
        await page.goto(`${base}/console/orgs/new`);
        await page.fill('form[action="/console/orgs"] [name="slug"]', slug);
        await Promise.all([page.waitForNavigation(), page.click('form[action="/console/orgs"] button[type=submit]')]);
        app.step(11 * 60_000);
        await page.goto(`${base}/console/orgs/${slug}/keys`);
        const form = page.locator(`form[action="/console/orgs/${slug}/keys"]`);
        await form.locator('[name="name"]').fill('deployer');
        await form.locator('[name="role"]').selectOption('admin');
        await Promise.all([page.waitForNavigation(), form.locator('button[type=submit]').click()]);
        assert.equal(await page.locator('#reauth').count(), 1, 'the confirm-it’s-you page');
        assert.equal(report([{ name: 'confirm', status: 200, problems: await problemsOf(page, viewport.width, []) }]), '');
        if (viewport === PHONE) await screenshot(page, 'console-confirm-phone');
        await signInHere(page, `confirm${viewport.width}@example.net`);
        assert.equal(page.url(), `${base}/console/orgs/${slug}/keys`, 'back where the person was');
      } finally {
        await context?.close();
      }
    }
  });
});
