/**
 * The web console's authorization matrix and CSRF sweep, generated from the console's own
 * route list (`consoleRoutes.routes`, worker/routes/console/index.ts): every route × every
 * principal (browsers with cookies, signed in through the dev sign-in form) gets the outcome
 * its row names, and every POST route refuses a form without its browser's CSRF token. The
 * file fails on a console route without a row (a new route brings its rows) and on a row
 * whose route is gone, as the API's matrix does (authorization-matrix.test.ts). The rows,
 * the principals and the outcomes they name are in console-route-table.ts.
 *
 * Every page answered (a signed-in person's, and any answer to a post, refusals included) is
 * checked for the page headers (CSP with `frame-ancestors 'none'` and no 'unsafe-inline',
 * X-Frame-Options DENY, no-store), every redirect for no-store, and no answer to someone
 * outside acme shows acme's name or people.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { consoleRoutes } from '../../worker/routes/console/index.ts';
import { type ApiAnswer, apiCall } from '../fixtures/api-call.ts';
import { GITHUB, octoRepoPolicy } from '../fixtures/ci-claims.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { addMember, deviceLogin, FormBrowser } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';
import {
  type Answer,
  type Browser,
  type Cell,
  framed,
  type Outcome,
  PEOPLE,
  PRINCIPALS,
  type Principal,
  ROWS,
  type Row,
  type Target,
  type World,
} from './console-route-table.ts';

const ORG = 'acme';
const GHOST_ORG = 'nowhere';
const GLOBEX_OWNER = 'boss@globex.example';
/** What only acme's people (and the person it invited) may read. */
const MARKERS = ['Acme Console Corp', PEOPLE.owner, PEOPLE.admin, PEOPLE.member];
const INSIDERS: Principal[] = ['owner', 'admin', 'member', 'invited'];
/** To these a thing of acme is what does not exist; to anyone else, acme itself. */
const MEMBERS: Principal[] = ['owner', 'admin', 'member'];

// ---------------------------------------------------------------------------------------
// The world: a running Worker, acme's owner on the API, one browser per principal.

let server: RunningWorker;
let github: FakeCiIssuer;
let ownerToken = '';
/** globex's owner on the API: another tenant's things, to aim acme's forms at. */
let globexToken = '';
let counter = 0;
const unique = () => ++counter;

const browsers: Partial<Record<Principal, Browser>> = {};
/** Every key secret made in the run: no page may show one but the answer that made it. */
const secrets = new Set<string>();
const KEY_SECRET = /lk_(?:test|live)_[\w-]{20,}/g;
const secretsIn = (text: string) => [...secrets].filter((secret) => text.includes(secret));
/** The browsers newBrowser made, by their public id. */
const signedInBrowsers = new Map<string, Browser>();

const api = (method: string, path: string, body?: Record<string, unknown>) => apiCall(server.url, method, path, ownerToken, body);
async function ok(answer: Promise<ApiAnswer>): Promise<Record<string, unknown>> {
  const result = await answer;
  assert.ok(result.status < 300, `setup failed: ${result.status} ${result.text}`);
  return result.json;
}

/** A browser signed in to the console as `email` through its sign-in form (null: left signed out). */
async function signInBrowser(email: string | null): Promise<Browser> {
  const form = new FormBrowser(server.url);
  const page = await form.request('/console');
  assert.equal(page.status, 200);
  // The token is the browser's (derived from its binding cookie), the same before and after signing in.
  const csrf = FormBrowser.field(page.html, 'csrf');
  if (!email) return { email, form, csrf };
  const signedIn = await form.submitSignIn(page.html, email);
  assert.equal(signedIn.status, 303, `sign-in of ${email}: ${signedIn.status} ${signedIn.html.slice(0, 300)}`);
  const you = await form.request('/console');
  assert.match(you.html, /action="\/console\/signout"/, `${email} is not at the console after signing in`);
  assert.equal(FormBrowser.field(you.html, 'csrf'), csrf, 'the CSRF token changed with the sign-in');
  return { email, form, csrf };
}

/** Device-flow sign-ins one at a time: the device page's guess counter per address is one record, which they contend for. */
let deviceQueue: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(run: () => Promise<T>): Promise<T> {
  const turn = deviceQueue.then(run);
  deviceQueue = turn.catch(() => {});
  return turn;
}

/** Whether an access token or API key still works as a credential. */
const works = async (credential: string) => (await apiCall(server.url, 'GET', '/v1/me', credential)).status === 200;
async function membersOfAcme(): Promise<Record<string, string>> {
  const org = await ok(api('GET', `/v1/orgs/${ORG}`));
  return Object.fromEntries((org.members as { email: string; role: string }[]).map((m) => [m.email, m.role]));
}

/** The last sequence number of acme's audit trail: any change to acme is an entry. */
async function auditHead(): Promise<number> {
  let afterSeq = 0;
  for (;;) {
    const page = await ok(api('GET', `/v1/orgs/${ORG}/audit?after=${afterSeq}&limit=200`));
    const entries = page.entries as { seq: number }[];
    if (entries.length > 0) afterSeq = entries[entries.length - 1]?.seq ?? afterSeq;
    if (page.next_after === null || page.next_after === undefined) return afterSeq;
    afterSeq = Math.max(afterSeq, Number(page.next_after));
  }
}

const world: World = {
  ciIdToken: () => github.sign(GITHUB.branchPush, { audience: `${server.url}/orgs/${ORG}` }),
  /** A thing of globex (the other tenant), made by its owner: a key, a policy or an invitation. */
  async globexKey(): Promise<Target> {
    const created = await ok(
      apiCall(server.url, 'POST', '/v1/orgs/globex/keys', globexToken, { name: `g${unique()}`, role: 'member' }),
    );
    secrets.add(String(created.key));
    return { id: String(created.id), key: String(created.key) };
  },
  async globexPolicy(): Promise<Target> {
    // An id acme has too: the same id in two tenants must name two policies.
    const id = `shared${unique()}`;
    const body = (org: string) =>
      octoRepoPolicy(github.issuer, `${server.url}/orgs/${org}`, { id, grant: { project: 'web', scopes: ['read'] } });
    await ok(apiCall(server.url, 'POST', '/v1/orgs/globex/trust-policies', globexToken, body('globex')));
    return { id };
  },
  async globexPolicyIds(): Promise<string[]> {
    const listed = await ok(apiCall(server.url, 'GET', '/v1/orgs/globex/trust-policies', globexToken));
    return (listed.policies as { id: string }[]).map((policy) => policy.id);
  },
  async globexInvitation(): Promise<Target> {
    const created = await ok(
      apiCall(server.url, 'POST', '/v1/orgs/globex/invitations', globexToken, {
        email: `g${unique()}@example.org`,
        role: 'member',
      }),
    );
    return { id: String(created.id) };
  },
  async globexInvitationIds(): Promise<string[]> {
    const listed = await ok(apiCall(server.url, 'GET', '/v1/orgs/globex/invitations', globexToken));
    return (listed.invitations as { id: string }[]).map((invitation) => invitation.id);
  },
  /** An invitation of the invited principal to a fresh org of globex's owner (acme's own stays pending). */
  async invitationOfInvited(): Promise<Target> {
    const org = `inv-${unique()}`;
    await ok(apiCall(server.url, 'POST', '/v1/orgs', globexToken, { slug: org }));
    const created = await ok(
      apiCall(server.url, 'POST', `/v1/orgs/${org}/invitations`, globexToken, { email: PEOPLE.invited, role: 'member' }),
    );
    return { id: String(created.id), org };
  },
  async pendingIn(org: string): Promise<string[]> {
    const listed = await ok(apiCall(server.url, 'GET', `/v1/orgs/${org}/invitations`, globexToken));
    return (listed.invitations as { id: string }[]).map((invitation) => invitation.id);
  },
  /** A fresh owner of acme (invited as one by the owner). */
  async newOwner(): Promise<Target> {
    return world.newMember('owner');
  },
  /** A fresh member of acme: invited by the owner through the API, accepted in their browser at the console. */
  async newMember(role: 'member' | 'admin' | 'owner' = 'member'): Promise<Target> {
    const email = `m${unique()}@acme.example`;
    const invitation = await ok(api('POST', `/v1/orgs/${ORG}/invitations`, { email, role }));
    const browser = await signInBrowser(email);
    const accepted = await browser.form.request(`/console/invitations/${invitation.id}/accept`, { csrf: browser.csrf });
    assert.equal(accepted.status, 303, `accepting at the console: ${accepted.status} ${text(accepted.html)}`);
    return { email };
  },
  async newInvitation(role = 'member'): Promise<Target> {
    const email = `i${unique()}@example.org`;
    const created = await ok(api('POST', `/v1/orgs/${ORG}/invitations`, { email, role }));
    return { id: String(created.id), email };
  },
  async newKey(role = 'member', project?: string): Promise<Target> {
    const created = await ok(
      api('POST', `/v1/orgs/${ORG}/keys`, { name: `k${unique()}`, role, ...(project ? { project } : {}) }),
    );
    secrets.add(String(created.key));
    return { id: String(created.id), key: String(created.key) };
  },
  /** A policy of acme's project web trusting the fake CI issuer's example repository. */
  policyBody(id: string) {
    return octoRepoPolicy(github.issuer, `${server.url}/orgs/${ORG}`, { id, grant: { project: 'web', scopes: ['read'] } });
  },
  async newPolicy(): Promise<Target> {
    const created = await ok(api('POST', `/v1/orgs/${ORG}/trust-policies`, world.policyBody(`t${unique()}`)));
    return { id: String(created.id) };
  },
  /** A fresh person's CLI sign-in (device flow): its session id and access token. */
  async newSession(email = `s${unique()}@example.org`): Promise<Target> {
    const access = (await oneAtATime(() => deviceLogin(server.url, email))).access_token;
    const me = await ok(apiCall(server.url, 'GET', '/v1/me', access));
    return { sid: String(me.session_id), access };
  },
  /** A fresh person's signed-in browser, its public id as their You page shows it. */
  async newBrowser(email = `b${unique()}@example.org`): Promise<Target> {
    const browser = await signInBrowser(email);
    const you = await browser.form.request('/console');
    const id = /data-browser="(web_[\w-]{20})" class="this-one"/.exec(you.html)?.[1];
    assert.ok(id, 'no signed-in browser listed on the You page');
    signedInBrowsers.set(id, browser);
    return { id };
  },
  /** Whether acme's audit trail has an entry of `action` about `subject`. */
  async audited(action: string, subject: string): Promise<boolean> {
    for (let afterSeq = 0; ; ) {
      const page = await ok(api('GET', `/v1/orgs/${ORG}/audit?after=${afterSeq}&limit=200`));
      const entries = page.entries as { seq: number; action: string; subject: string }[];
      if (entries.some((entry) => entry.action === action && entry.subject === subject)) return true;
      if (page.next_after === null || page.next_after === undefined) return false;
      afterSeq = Number(page.next_after);
    }
  },
  async invitationIds(): Promise<string[]> {
    const listed = await ok(api('GET', `/v1/orgs/${ORG}/invitations`));
    return (listed.invitations as { id: string }[]).map((invitation) => invitation.id);
  },
  async policyIds(): Promise<string[]> {
    const listed = await ok(api('GET', `/v1/orgs/${ORG}/trust-policies`));
    return (listed.policies as { id: string }[]).map((policy) => policy.id);
  },
  signedInBrowser: (id) => signedInBrowsers.get(id) as Browser,
  works,
  membersOfAcme,
};

// ---------------------------------------------------------------------------------------
// The routes the console really has.

type Served = { method: string; path: string; handler: unknown };
function servedRoutes(): string[] {
  const routes = (consoleRoutes as unknown as { routes: Served[] }).routes;
  // The sign-in middleware (GET/HEAD on /console and /console/*) is registered with
  // `.on()`, so it is listed as routes; its handler is the one on the wildcard.
  const middleware = new Set(routes.filter((route) => route.path === '/console/*').map((route) => route.handler));
  const served = new Set<string>();
  for (const { method, path, handler } of routes) {
    if (middleware.has(handler)) continue;
    if (method === 'ALL' && path.endsWith('*')) continue;
    served.add(`${method} ${path}`);
  }
  return [...served].sort();
}

// ---------------------------------------------------------------------------------------
// One cell: a request, its outcome, the checks around it.

const signInForm = (html: string) => /<form[^>]+action="\/signin"/.test(html);

async function send(row: Row, cell: Cell, override?: { csrf?: string | null; browser?: Browser }): Promise<Answer> {
  const [method, route] = row.route.split(' ') as [string, string];
  const values: Record<string, string> = { ...cell.target, org: cell.org };
  const path = (row.path ?? route).replace(/:([a-z]+)(\{[^}]*\})?/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`${row.route}: nothing fills ${whole}`);
    return encodeURIComponent(value);
  });
  const browser = override?.browser ?? cell.browser;
  if (method === 'GET') return browser.form.request(path);
  const csrf = override && 'csrf' in override ? override.csrf : browser.csrf;
  const fields = { ...(row.form?.(cell, world) ?? {}), ...(csrf === null || csrf === undefined ? {} : { csrf }) };
  return browser.form.request(path, fields);
}

function outcomeOf(row: Row, answer: Answer, principal: Principal, want: Outcome): Outcome | 'error' {
  const post = row.route.startsWith('POST ');
  const { status, html } = answer;
  if (status === 303 || status === 302) {
    return (answer.headers.get('location') ?? '').startsWith('/console') ? 'allowed' : 'refused';
  }
  if (status === 200 || status === 201) {
    if (row.route === 'GET /assets/console.js') return 'allowed';
    if (framed(html)) return 'allowed';
    // The sign-in form: to someone signed out, or asking a signed-in person to confirm.
    if (signInForm(html)) return principal === 'anonymous' && !post ? 'signin' : 'refused';
    return 'error';
  }
  if (status === 403) return principal === 'anonymous' && post ? 'signin' : 'forbidden';
  if (status === 404) return want === 'refused' ? 'refused' : 'hidden';
  return status < 500 ? 'refused' : 'error';
}

/** The answer with the org and target named alike, so a real one's and the ghost's compare. */
function normalized(answer: Answer, cell: Cell): string {
  let text = `${answer.status} ${answer.headers.get('location') ?? ''} ${answer.html}`;
  text = text.replace(new RegExp(`\\b${cell.org}\\b`, 'g'), '<org>');
  for (const [name, value] of Object.entries(cell.target)) if (value) text = text.replaceAll(value, `<${name}>`);
  return text;
}

/** The page headers every console page a signed-in person gets must carry; a list of what is wrong. */
export function pageHeaderProblems(headers: Headers): string[] {
  const problems: string[] = [];
  const csp = headers.get('content-security-policy') ?? '';
  if (!/frame-ancestors 'none'/.test(csp)) problems.push(`CSP without frame-ancestors 'none': ${csp || '(none)'}`);
  if (/unsafe-inline|unsafe-eval/.test(csp)) problems.push(`CSP allows inline or eval: ${csp}`);
  if (/script-src[^;]*(\*|https?:)/.test(csp)) problems.push(`CSP allows scripts from elsewhere: ${csp}`);
  if (headers.get('x-frame-options') !== 'DENY') problems.push(`X-Frame-Options ${headers.get('x-frame-options')}`);
  if (!/no-store/.test(headers.get('cache-control') ?? '')) problems.push(`Cache-Control ${headers.get('cache-control')}`);
  return problems;
}

const sharedTargets = new Map<string, Promise<Target>>();
const queues = new Map<string, Promise<unknown>>();

function runCell(row: Row, principal: Principal): Promise<void> {
  const want = row.expect[principal];
  if (row.own)
    return row.own(principal === 'anonymous' ? 'owner' : principal, world).then((target) => check(row, principal, target));
  const make = row.target;
  if (!make) return check(row, principal, {});
  const key = `${row.route} ${row.does}`;
  const shared = () => {
    let target = sharedTargets.get(key);
    if (!target) sharedTargets.set(key, (target = make(world)));
    return target;
  };
  if (!row.intact) return shared().then((target) => check(row, principal, target));
  if (want === 'allowed') return make(world).then((target) => check(row, principal, target));
  // Refused cells share a target, one at a time, so a change is the last cell's doing.
  const turn = (queues.get(key) ?? Promise.resolve()).then(async () => {
    const target = await shared();
    try {
      await check(row, principal, target);
    } finally {
      if (!(await row.intact?.(world, target))) sharedTargets.delete(key);
    }
  });
  queues.set(
    key,
    turn.catch(() => {}),
  );
  return turn;
}

async function browserOf(row: Row, principal: Principal): Promise<Browser> {
  if (row.freshBrowser) return signInBrowser(principal === 'anonymous' ? null : PEOPLE[principal]);
  return browsers[principal] as Browser;
}

async function check(row: Row, principal: Principal, target: Target): Promise<void> {
  const want = row.expect[principal];
  const cell: Cell = { principal, n: unique(), org: ORG, target, browser: await browserOf(row, principal) };
  const answer = await send(row, cell);
  let got: Outcome | 'error' = outcomeOf(row, answer, principal, want);
  const problems: string[] = [];

  if (want === 'hidden' && got !== 'allowed') {
    // To a member a target of acme is what does not exist; to anyone else, acme.
    const member = MEMBERS.includes(principal) && !row.ghostPath;
    if (member && !row.ghost) problems.push('the row needs a ghost target to show a member learns nothing');
    const ghostTarget = row.ghost ? row.ghost(target) : target;
    const ghostCell: Cell = { ...cell, org: member ? cell.org : GHOST_ORG, target: ghostTarget };
    const ghost = await send(row.ghostPath ? { ...row, path: row.ghostPath } : row, ghostCell);
    const [real, none] = [normalized(answer, cell), normalized(ghost, ghostCell)];
    if (real === none) got = 'hidden';
    else if (got === 'hidden')
      problems.push(
        `tells acme or the target apart from one that does not exist:\n  ${real.slice(0, 400)}\n  ${none.slice(0, 400)}`,
      );
  }
  if (got !== want)
    problems.push(`expected ${want}, got ${got}: ${answer.status} ${answer.headers.get('location') ?? ''} ${text(answer.html)}`);
  if (got === 'allowed' && row.shows) {
    const shown = row.shows(answer, cell);
    if (shown) problems.push(shown);
  }
  // Every form that posts carries this browser's CSRF token (a form without one is refused, so it would not work either).
  for (const [form] of answer.html.matchAll(/<form\b[^>]*method="post"[\s\S]*?<\/form>/gi)) {
    if (!form.includes(`name="csrf" value="${cell.browser.csrf}"`))
      problems.push(`a form without the CSRF token: ${form.slice(0, 160)}`);
  }
  if (row.route.startsWith('POST ')) for (const [made] of answer.html.matchAll(KEY_SECRET)) secrets.add(made);
  else if (secretsIn(answer.html).length > 0) problems.push('the page shows a key secret');
  if (secretsIn(answer.headers.get('location') ?? '').length > 0) problems.push('a key secret in a redirect URL');
  // Every page (a form's answer, a refusal's page included) carries the page headers; a redirect is not kept either.
  if (row.route.includes(' /console') && answer.status >= 300 && answer.status < 400) {
    if (!/no-store/.test(answer.headers.get('cache-control') ?? '')) problems.push('a redirect without Cache-Control: no-store');
  } else if (row.route.includes(' /console') && (principal !== 'anonymous' || row.route.startsWith('POST '))) {
    problems.push(...pageHeaderProblems(answer.headers).map((problem) => `page headers: ${problem}`));
  }
  if (!INSIDERS.includes(principal) && !(principal === 'operator' && got === 'allowed')) {
    const leaked = MARKERS.filter((marker) => answer.html.includes(marker));
    if (leaked.length > 0) problems.push(`shows acme's ${leaked.join(', ')} to someone outside it`);
  }
  if (row.intact) {
    const intact = await row.intact(world, target);
    if (got === 'allowed' && intact && (row.target || row.own)) problems.push('answered as allowed but the target is unchanged');
    if (got !== 'allowed' && !intact) problems.push(`refused (${answer.status}) but the target was changed`);
  }
  if (row.freshBrowser && principal !== 'anonymous' && row.route === 'POST /console/signout') {
    const after = await cell.browser.form.request('/console');
    if (framed(after.html)) problems.push('still signed in after signing out');
  }
  assert.deepEqual(problems, [], `${row.route} (${row.does}) · ${principal}`);
}

/** A page's main text, short, for a failure message. */
function text(html: string): string {
  const main = /<main[\s\S]*?<\/main>/.exec(html)?.[0] ?? html;
  return main
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

// ---------------------------------------------------------------------------------------

before(async () => {
  github = await startFakeCiIssuer();
  server = await startWorker({
    LATCHKEY_CI_ISSUERS: `${github.issuer}=repository_owner_id`,
    LATCHKEY_OPERATORS: PEOPLE.operator,
    // A revocation answers on the next request, no cache to wait out.
    LATCHKEY_SESSION_CACHE: '0',
  });
  ownerToken = (await deviceLogin(server.url, PEOPLE.owner)).access_token;
  await ok(api('POST', '/v1/orgs', { slug: ORG, name: 'Acme Console Corp' }));
  await ok(api('POST', `/v1/orgs/${ORG}/projects`, { slug: 'web' }));
  await addMember(server.url, ownerToken, ORG, PEOPLE.admin, 'admin');
  await addMember(server.url, ownerToken, ORG, PEOPLE.member, 'member');
  await ok(api('POST', `/v1/orgs/${ORG}/invitations`, { email: PEOPLE.invited, role: 'member' }));
  const globex = (await deviceLogin(server.url, GLOBEX_OWNER)).access_token;
  globexToken = globex;
  await ok(apiCall(server.url, 'POST', '/v1/orgs', globex, { slug: 'globex', name: 'Globex Console Inc' }));
  await ok(apiCall(server.url, 'POST', '/v1/orgs/globex/projects', globex, { slug: 'web' }));
  await addMember(server.url, globex, 'globex', PEOPLE.otherAdmin, 'admin');
  await Promise.all(
    PRINCIPALS.map(async (principal) => {
      browsers[principal] = await signInBrowser(principal === 'anonymous' ? null : PEOPLE[principal]);
    }),
  );
});
after(async () => {
  await server?.stop();
  await github?.stop();
});

describe('the console table covers every console route', () => {
  test("each route of consoleRoutes has a row; each row's route is served", () => {
    const served = servedRoutes();
    assert.ok(served.includes('POST /console/signout'), `the route list looks wrong: ${served.join(', ')}`);
    const tabled = new Set(ROWS.map((row) => row.route));
    const missing = served.filter((route) => !tabled.has(route));
    const gone = [...tabled].filter((route) => !served.includes(route));
    assert.deepEqual({ missing, gone }, { missing: [], gone: [] });
  });
  test('every row names every principal, and rows of one route say different things', () => {
    for (const row of ROWS) assert.deepEqual(Object.keys(row.expect).sort(), [...PRINCIPALS].sort(), row.route);
    const names = ROWS.map((row) => `${row.route} ${row.does}`);
    assert.equal(new Set(names).size, names.length);
  });
});

describe('the browser sign-in cookie', () => {
  test('HttpOnly, SameSite=Lax, a bounded life; Secure only on an https issuer (the unit test checks that one)', async () => {
    const form = new FormBrowser(server.url);
    const page = await form.request('/console');
    const response = await fetch(`${server.url}/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: (page.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '',
      },
      body: new URLSearchParams({
        csrf: FormBrowser.field(page.html, 'csrf'),
        return_to: '/console',
        email: 'cookie@example.net',
      }),
    });
    assert.equal(response.status, 303);
    const cookie = response.headers.getSetCookie().find((line) => /^lk_session=/.test(line));
    assert.ok(cookie, `no session cookie in ${response.headers.getSetCookie().join(' | ')}`);
    assert.match(cookie, /;\s*HttpOnly/i);
    assert.match(cookie, /;\s*SameSite=Lax/i);
    assert.doesNotMatch(cookie, /;\s*Secure/i, 'Secure on an http issuer: a browser would drop it');
    const maxAge = Number(/Max-Age=(\d+)/i.exec(cookie)?.[1]);
    assert.ok(maxAge > 0 && maxAge <= 8 * 3600, `Max-Age ${maxAge}`);
  });
});

/**
 * Every POST route refuses a forged form before it reads or does anything: no CSRF field,
 * another browser's token, a valid token with no sign-in. Nothing of acme changes (its audit
 * trail, where every change is an entry, has no new entry from the forged posts), nor the
 * owner's orgs, nor a row's own target. Runs before the matrix, which changes things.
 */
describe('CSRF: every console form refuses a forged post', () => {
  const posts = () => ROWS.filter((row) => row.route.startsWith('POST '));
  let orgsBefore = '';
  before(async () => {
    orgsBefore = JSON.stringify((await ok(api('GET', '/v1/orgs'))).orgs);
  });
  const routes = [...new Map(ROWS.filter((row) => row.route.startsWith('POST ')).map((row) => [row.route, row])).values()];
  for (const row of routes) {
    test(`${row.route}: without csrf, with another browser's, and signed out with a valid one → 403`, async () => {
      const target = row.own ? await row.own('owner', world) : row.target ? await row.target(world) : {};
      const owner = row.freshBrowser ? await signInBrowser(PEOPLE.owner) : (browsers.owner as Browser);
      const cell: Cell = { principal: 'owner', n: unique(), org: ORG, target, browser: owner };
      const audited = await auditHead();
      const forged = {
        'no csrf field': await send(row, cell, { csrf: null }),
        "the outsider's token": await send(row, cell, { csrf: (browsers.outsider as Browser).csrf }),
        'a valid token, no sign-in': await send(row, cell, { browser: browsers.anonymous as Browser }),
      };
      for (const [how, answer] of Object.entries(forged)) {
        assert.equal(answer.status, 403, `${how}: ${answer.status} ${text(answer.html)}`);
      }
      if (row.intact) assert.ok(await row.intact(world, target), 'the target was changed by a forged post');
      assert.equal(await auditHead(), audited, "a forged post made an entry in acme's audit trail");
      if (row.freshBrowser)
        assert.ok(framed((await owner.form.request('/console')).html), 'the forged post signed the owner out');
    });
  }
  test('the owner’s orgs are as they were', async () => {
    assert.ok(posts().length > 0);
    assert.equal(JSON.stringify((await ok(api('GET', '/v1/orgs'))).orgs), orgsBefore);
  });
});

describe('console authorization matrix', { concurrency: 6 }, () => {
  for (const row of ROWS) {
    for (const principal of PRINCIPALS) {
      test(`${row.route} · ${row.does} · ${principal} → ${row.expect[principal]}`, () => runCell(row, principal));
    }
  }
});

describe('a key secret is shown once, on the answer that made it', () => {
  test("no console page shows any key secret made in the run, to acme's owner", async () => {
    assert.ok(secrets.size > 5, `only ${secrets.size} secrets made: did the key rows run?`);
    const owner = browsers.owner as Browser;
    const pages = ROWS.filter((row) => row.route.startsWith('GET /console') && row.expect.owner === 'allowed');
    for (const row of pages) {
      const target = row.target ? await row.target(world) : {};
      const answer = await send(row, { principal: 'owner', n: unique(), org: ORG, target, browser: owner });
      assert.equal(answer.status, 200, row.route);
      assert.deepEqual(secretsIn(answer.html), [], `${row.route} shows a key secret`);
    }
  });
});

/**
 * What a person types, and what a link carries, comes back escaped: every route as acme's
 * owner with markup in each query parameter the pages read, in each path parameter and in
 * each form field (an error message that quotes its input included).
 */
describe('no reflected markup', () => {
  const MARKUP = '<b id="x">x</b>';
  const FIELDS = [
    'slug',
    'name',
    'email',
    'role',
    'project',
    'expires_in',
    'grace_seconds',
    'preset',
    'policy',
    'subject_token',
    'audience',
    'id',
    'description',
    'repository',
    'sub',
    'ref',
  ];
  const QUERY = ['notice', 'preset', 'email', 'actor', 'action', 'limit', 'after', 'before'];
  const routes = [...new Set(ROWS.map((row) => row.route))].filter((route) => route.includes(' /console'));
  for (const route of routes) {
    test(`${route}: markup in the URL and the form is escaped`, async (t) => {
      const [method, path] = route.split(' ') as [string, string];
      const owner = browsers.owner as Browser;
      const filled = path.replace(/:([a-z]+)(\{[^}]*\})?/g, (_whole, name: string, choices?: string) =>
        name === 'org' ? ORG : choices ? (choices.slice(1, -1).split('|')[0] as string) : encodeURIComponent(MARKUP),
      );
      const query = new URLSearchParams(QUERY.map((name) => [name, MARKUP])).toString();
      const answer =
        method === 'GET'
          ? await owner.form.request(`${filled}?${query}`)
          : await owner.form.request(`${filled}?${query}`, {
              csrf: owner.csrf,
              ...Object.fromEntries(FIELDS.map((name) => [name, MARKUP])),
            });
      assert.ok(answer.status < 500, `${answer.status} ${text(answer.html)}`);
      assert.equal(answer.html.includes(MARKUP), false, `the markup came back unescaped: ${answer.status} ${text(answer.html)}`);
      if (answer.html.includes('&lt;b id=')) t.diagnostic(`${answer.status}: shown escaped`);
    });
  }
});
