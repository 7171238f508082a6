/**
 * The cross-tenant authorization matrix, generated from the route table (route-table.ts):
 * every row (a request to a route) × every principal × own org (acme) and another tenant's
 * (globex). Each cell checks the outcome class; a `hidden` one is compared with the same
 * request against an org (and target) that does not exist, so an outsider learns nothing;
 * a destructive row acts on a fresh target per cell, left intact by a refusal and changed
 * by a success; and no answer names another tenant's people or name to someone outside it.
 * The table is checked against the routes the server really has (worker/routes/*.ts), so a
 * new route fails here until it has its rows.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type ApiAnswer, apiCall } from '../fixtures/api-call.ts';
import { GITHUB } from '../fixtures/ci-claims.ts';
import { type FakeCiIssuer, startFakeCiIssuer } from '../fixtures/fake-ci-issuer.ts';
import { addMember, CLIENT_ID, deviceLogin, FormBrowser, pollToken, postForm } from '../fixtures/oauth-client.ts';
import { type RunningWorker, startWorker } from '../fixtures/worker-server.ts';
import {
  type Cell,
  ciPolicy,
  EXCLUDED,
  expected,
  type Outcome,
  PRINCIPALS,
  type Principal,
  ROWS,
  type Row,
  type Side,
  type Target,
  type World,
} from './route-table.ts';

/**
 * Cells in flight at once, per principal and principals at once (4 in all): enough to keep
 * a slow runtime busy; more makes one org's writes (its audit chain) contend past the
 * store's retries on Redis.
 */
const CONCURRENCY = 2;
const PRINCIPALS_AT_ONCE = 2;
const ORGS: Record<Side, string> = { own: 'acme', other: 'globex' };
const SECOND: Record<Side, string> = { own: 'api', other: 'vault' };
/** An org no one created: what a hidden answer must be indistinguishable from. */
const GHOST = 'nowhere';
const PEOPLE = {
  owner: 'owner@acme.example',
  admin: 'admin@acme.example',
  member: 'member@acme.example',
  invited: 'invited@example.net',
  outsider: 'outsider@example.net',
  operator: 'ops@example.net',
} as const;
const GLOBEX_OWNER = 'boss@globex.example';
/** The boundAdmin principal's person: an admin of both orgs. */
const BOTH = 'both@example.com';
const EMAILS: Partial<Record<Principal, string>> = { ...PEOPLE, boundAdmin: BOTH };
/** What only an org's insiders may ever read: its name and its people's emails. */
const MARKERS: Record<Side, string[]> = {
  own: ['Acme Matrix Corp', PEOPLE.owner, PEOPLE.admin],
  other: ['Globex Matrix Inc', GLOBEX_OWNER],
};
/** Who is in each org: to them a target of their org is hidden, not the org itself. */
const MEMBERS: Record<Side, Principal[]> = {
  own: ['owner', 'admin', 'member', 'orgKey', 'projectKey', 'ci', 'narrowed', 'boundAdmin'],
  // boundAdmin is an admin of globex too, but its sign-in is for acme: it must see nothing of globex.
  other: ['otherKey'],
};
/** Who may read an org's name and people: its members, and the person it invited. */
const INSIDERS: Record<Side, Principal[]> = { own: [...MEMBERS.own, 'invited'], other: MEMBERS.other };

let server: RunningWorker;
let github: FakeCiIssuer;
const bearers: Partial<Record<Principal, string>> = {};
const owners: Partial<Record<Side, string>> = {};
let counter = 0;
const unique = () => ++counter;

const call = (method: string, path: string, bearer: string | null, body?: Record<string, unknown> | URLSearchParams) =>
  apiCall(server.url, method, path, bearer, body);
async function ok(answer: Promise<ApiAnswer>): Promise<Record<string, unknown>> {
  const result = await answer;
  assert.ok(result.status < 300, `setup failed: ${result.status} ${result.text}`);
  return result.json;
}
const ownerOf = (side: Side) => owners[side] as string;

/** A device-flow sign-in, for an org if named; the token endpoint's answer. */
async function signIn(email: string | null, org: string | null): Promise<ApiAnswer> {
  const started = await postForm(`${server.url}/oauth/device_authorization`, {
    client_id: CLIENT_ID,
    ...(org ? { org } : {}),
  });
  if (started.status !== 200) return { status: started.status, json: started.json, text: started.text };
  const { device_code, user_code } = started.json as { device_code: string; user_code: string };
  // A key, a CI token or nobody has no person to approve with: the code stays pending.
  if (email) {
    const browser = new FormBrowser(server.url);
    await browser.signIn(email, user_code);
    const page = await browser.request(`/device?user_code=${encodeURIComponent(user_code)}`);
    // Refused before the consent page: the page's message is the answer.
    if (!page.html.includes('name="decision"')) {
      const message = /<h1>[\s\S]*?<\/p>/.exec(page.html)?.[0] ?? page.html;
      return { status: page.status === 200 ? 400 : page.status, json: {}, text: message };
    }
    await browser.request('/device/decision', { csrf: FormBrowser.field(page.html, 'csrf'), user_code, decision: 'approve' });
  }
  const polled = await pollToken(server.url, device_code);
  return { status: polled.status, json: polled.json, text: polled.text };
}

const world: World = {
  get base() {
    return server.url;
  },
  get ciIssuer() {
    return github.issuer;
  },
  unique,
  org: (side) => ORGS[side],
  bearer: (principal) => bearers[principal] ?? null,
  ownerOf,
  emailOf: (side) => (side === 'own' ? PEOPLE.member : BOTH),
  ciIdToken: (side) => github.sign(GITHUB.branchPush, { audience: `${server.url}/orgs/${ORGS[side]}` }),
  async newKey(side, role, project) {
    const created = await ok(
      call('POST', `/v1/orgs/${ORGS[side]}/keys`, ownerOf(side), { name: 'target', role, ...(project ? { project } : {}) }),
    );
    return { id: String(created.id), key: String(created.key) };
  },
  async newCiToken(side) {
    const exchanged = await ok(
      postForm(`${server.url}/oauth/token`, {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await github.sign(GITHUB.featurePush, { audience: `${server.url}/orgs/${ORGS[side]}` }),
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        audience: `${server.url}/orgs/${ORGS[side]}/projects/web`,
      }),
    );
    return { token: String(exchanged.access_token) };
  },
  async newMember(side, role) {
    const email = `m${unique()}@${ORGS[side]}.example`;
    const access = await addMember(server.url, ownerOf(side), ORGS[side], email, role as 'member');
    return { email, access };
  },
  async newPolicy(side, project) {
    const created = await ok(
      call('POST', `/v1/orgs/${ORGS[side]}/trust-policies`, ownerOf(side), ciPolicy(world, ORGS[side], `t${unique()}`, project)),
    );
    return { id: String(created.id) };
  },
  async newSession(side, forOrg) {
    const { email, access } = await this.newMember(side, 'member');
    const tokens = forOrg ? (await signIn(email as string, ORGS[side])).json : { access_token: access, refresh_token: '' };
    const me = await ok(call('GET', '/v1/me', String(tokens.access_token)));
    return {
      email: email as string,
      sid: String(me.session_id),
      access: String(tokens.access_token),
      refresh: String(tokens.refresh_token),
    };
  },
  async newInvitation(side, role) {
    const email = `i${unique()}@example.org`;
    const created = await ok(call('POST', `/v1/orgs/${ORGS[side]}/invitations`, ownerOf(side), { email, role }));
    return { id: String(created.id), email };
  },
  keyWorks: async (key) => (await call('GET', '/v1/me', key)).status === 200,
  tokenWorks: async (token) => (await call('GET', '/v1/me', token)).status === 200,
  async readOrg(side) {
    const org = await ok(call('GET', `/v1/orgs/${ORGS[side]}`, ownerOf(side)));
    const members = Object.fromEntries((org.members as { email: string; role: string }[]).map((m) => [m.email, m.role]));
    return { members, projects: org.projects as string[] };
  },
  async policyIds(side) {
    const listed = await ok(call('GET', `/v1/orgs/${ORGS[side]}/trust-policies`, ownerOf(side)));
    return (listed.policies as { id: string }[]).map((policy) => policy.id);
  },
  async removePolicy(side, id) {
    await ok(call('DELETE', `/v1/orgs/${ORGS[side]}/trust-policies/${id}`, ownerOf(side)));
  },
  async invitationIds(side) {
    const listed = await ok(call('GET', `/v1/orgs/${ORGS[side]}/invitations`, ownerOf(side)));
    return (listed.invitations as { id: string }[]).map((invitation) => invitation.id);
  },
  signInFor: (principal, org) => signIn(EMAILS[principal] ?? null, org),
};

before(async () => {
  github = await startFakeCiIssuer();
  server = await startWorker({
    LATCHKEY_CI_ISSUERS: `${github.issuer}=repository_owner_id`,
    LATCHKEY_OPERATORS: PEOPLE.operator,
    // Revocations answer after the session cache bound; no cache, no wait.
    LATCHKEY_SESSION_CACHE: '0',
  });
  // One sign-in at a time: the device page's guess counter per address is one record.
  for (const [principal, email] of Object.entries(PEOPLE)) {
    bearers[principal as Principal] = (await deviceLogin(server.url, email)).access_token;
  }
  owners.own = bearers.owner as string;
  owners.other = (await deviceLogin(server.url, GLOBEX_OWNER)).access_token;

  for (const [side, name] of [
    ['own', 'Acme Matrix Corp'],
    ['other', 'Globex Matrix Inc'],
  ] as const) {
    await ok(call('POST', '/v1/orgs', ownerOf(side), { slug: ORGS[side], name }));
    // Both orgs have a project web: the same slug in two tenants.
    for (const project of ['web', SECOND[side]]) {
      await ok(call('POST', `/v1/orgs/${ORGS[side]}/projects`, ownerOf(side), { slug: project }));
    }
  }
  await addMember(server.url, ownerOf('own'), 'acme', PEOPLE.admin, 'admin', bearers.admin);
  await addMember(server.url, ownerOf('own'), 'acme', PEOPLE.member, 'member', bearers.member);
  await ok(call('POST', '/v1/orgs/acme/invitations', ownerOf('own'), { email: PEOPLE.invited, role: 'member' }));
  const both = (await deviceLogin(server.url, BOTH)).access_token;
  await addMember(server.url, ownerOf('own'), 'acme', BOTH, 'admin', both);
  await addMember(server.url, ownerOf('other'), 'globex', BOTH, 'admin', both);
  const bound = await signIn(BOTH, 'acme');
  assert.equal(bound.status, 200, `sign-in for acme: ${bound.text}`);
  bearers.boundAdmin = String(bound.json.access_token);

  const key = async (side: Side, project?: string) => String((await world.newKey(side, 'admin', project)).key);
  bearers.orgKey = await key('own');
  bearers.projectKey = await key('own', 'web');
  bearers.otherKey = await key('other');

  // A policy of each project in each org, so a listing's filter to one project is seen.
  for (const side of ['own', 'other'] as const) for (const project of ['web', SECOND[side]]) await world.newPolicy(side, project);
  const ci = await postForm(`${server.url}/oauth/token`, {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: await world.ciIdToken('own'),
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    audience: `${server.url}/orgs/acme/projects/web`,
  });
  assert.equal(ci.status, 200, `CI exchange: ${ci.text}`);
  bearers.ci = String(ci.json.access_token);
  const narrowed = await postForm(`${server.url}/oauth/token`, {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: bearers.owner as string,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    audience: `${server.url}/orgs/acme/projects/web`,
  });
  assert.equal(narrowed.status, 200, `narrowing: ${narrowed.text}`);
  bearers.narrowed = String(narrowed.json.access_token);
});
after(async () => {
  await server?.stop();
  await github?.stop();
});

/** The request of a cell: the row's path with `:org`, `:n` and the target's fields filled. */
async function send(row: Row, cell: Cell): Promise<ApiAnswer> {
  if (row.send) return row.send(cell, world);
  const [method, route] = row.route.split(' ') as [string, string];
  const values: Record<string, string> = { ...cell.target, org: cell.org, n: String(cell.n) };
  const path = (row.path ?? route).replace(/:([a-z]+)/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`${row.route}: nothing fills ${whole}`);
    return encodeURIComponent(value);
  });
  const body = row.body ? await row.body(cell, world) : undefined;
  return call(method, path, world.bearer(cell.principal), body);
}

function outcomeOf(row: Row, answer: ApiAnswer, want: Outcome): Outcome | 'error' {
  const judged = row.judge?.(answer);
  if (judged) return judged;
  if (answer.status < 300) return 'allowed';
  if (answer.status === 401) return 'unauthenticated';
  if (answer.status === 403) return 'forbidden';
  if (answer.status === 404) return want === 'refused' ? 'refused' : 'hidden';
  return answer.status < 500 ? 'refused' : 'error';
}

/** The answer with the org and target named alike, so a real org's and the ghost's compare. */
function normalized(answer: ApiAnswer, cell: Cell): string {
  let text = `${answer.status} ${answer.text}`;
  text = text.replace(new RegExp(`\\b${cell.org}\\b`, 'g'), '<org>');
  for (const [name, value] of Object.entries(cell.target)) if (value) text = text.replaceAll(value, `<${name}>`);
  return text;
}

/**
 * Targets cost a sign-in or more (a member, a session), so cells share them where that
 * proves as much: a row that changes nothing shares one per side; a destructive row gives
 * each cell expected to succeed its own, and its refused cells share one, one cell at a
 * time (so a change is the last cell's doing), made anew once a cell changed it.
 */
const sharedTargets = new Map<string, Promise<Target>>();
const queues = new Map<string, Promise<unknown>>();

function runCell(row: Row, side: Side, principal: Principal): Promise<void> {
  const want = expected(row, side, principal);
  const make = row.target;
  if (!make) return check(row, side, principal, {});
  const key = `${row.route} ${row.does} ${side}`;
  const shared = async () => {
    let target = sharedTargets.get(key);
    if (!target) sharedTargets.set(key, (target = make(world, side)));
    return target;
  };
  if (!row.intact) return shared().then((target) => check(row, side, principal, target));
  if (want === 'allowed') return make(world, side).then((target) => check(row, side, principal, target));
  const turn = (queues.get(key) ?? Promise.resolve()).then(async () => {
    const target = await shared();
    try {
      await check(row, side, principal, target);
    } finally {
      if (!(await row.intact?.(world, side, target))) sharedTargets.delete(key);
    }
  });
  queues.set(
    key,
    turn.catch(() => {}),
  );
  return turn;
}

async function check(row: Row, side: Side, principal: Principal, target: Target): Promise<void> {
  const want = expected(row, side, principal);
  const cell: Cell = { side, principal, n: unique(), org: ORGS[side], project: 'web', second: SECOND[side], target };
  const answer = await send(row, cell);
  let got: Outcome | 'error' = outcomeOf(row, answer, want);
  const problems: string[] = [];

  if (want === 'hidden' && got !== 'allowed') {
    // To a member a target of the org is what does not exist; to anyone else, the org.
    const member = MEMBERS[side].includes(principal);
    if (member && !row.ghost) problems.push('the row needs a ghost target to show its member learns nothing');
    const ghostTarget = row.ghost ? row.ghost(target) : target;
    const ghostCell: Cell = { ...cell, org: member ? cell.org : GHOST, target: ghostTarget };
    const ghost = await send(row, ghostCell);
    const [real, none] = [normalized(answer, cell), normalized(ghost, ghostCell)];
    if (real === none) got = 'hidden';
    else if (got === 'hidden') problems.push(`tells the org or target apart from one that does not exist:\n  ${real}\n  ${none}`);
  }

  if (got !== want) problems.push(`expected ${want}, got ${got}: ${answer.status} ${answer.text.slice(0, 300)}`);
  if (got === 'allowed' && row.shows) {
    const shown = row.shows(answer, cell);
    if (shown) problems.push(shown);
  }
  for (const org of ['own', 'other'] as const) {
    if (INSIDERS[org].includes(principal) || (principal === 'operator' && got === 'allowed')) continue;
    const leaked = MARKERS[org].filter((marker) => answer.text.includes(marker));
    if (leaked.length > 0) problems.push(`shows ${ORGS[org]}'s ${leaked.join(', ')} to an outsider`);
  }
  if (row.intact) {
    const intact = await row.intact(world, side, target);
    if (got === 'allowed' && intact) problems.push('answered as allowed but the target is unchanged');
    if (got !== 'allowed' && !intact) problems.push(`refused (${answer.status}) but the target was changed`);
  }
  await row.tidy?.(world, side, target, answer);
  assert.deepEqual(problems, [], `${row.route} (${row.does}) · ${ORGS[side]} · ${principal}`);
}

describe('the route table covers every route of the server', () => {
  test('each route of worker/routes/*.ts has a row or a reasoned exclusion; each row a route', async () => {
    const dir = join(import.meta.dirname, '../../worker/routes');
    const served = new Set<string>();
    for (const file of (await readdir(dir)).filter((name) => name.endsWith('.ts')).sort()) {
      const module = (await import(pathToFileURL(join(dir, file)).href)) as Record<string, unknown>;
      for (const value of Object.values(module)) {
        const routes = (value as { routes?: unknown } | null)?.routes;
        if (!Array.isArray(routes)) continue;
        for (const { method, path } of routes as { method: string; path: string }[]) {
          // `.use()` middleware is registered as ALL on a wildcard; it is no endpoint.
          if (method === 'ALL' && path.endsWith('*')) continue;
          served.add(`${method} ${path}`);
        }
      }
    }
    assert.ok(served.size > 20, `found only ${served.size} routes: is worker/routes/ where the table thinks?`);
    // Routes live in worker/routes/; app.ts only mounts them (and answers GET /v1/me early).
    const app = await readFile(join(dir, '../app.ts'), 'utf8');
    assert.equal(/\bapp\.(get|post|put|patch|delete|all|on)\(/.test(app), false, 'app.ts registers a route of its own');
    const tabled = new Set(ROWS.map((row) => row.route));
    const missing = [...served].filter((route) => !tabled.has(route) && !(route in EXCLUDED));
    const gone = [...tabled, ...Object.keys(EXCLUDED)].filter((route) => !served.has(route));
    const both = Object.keys(EXCLUDED).filter((route) => tabled.has(route));
    assert.deepEqual({ missing, gone, both }, { missing: [], gone: [], both: [] });
  });

  test('every row names every principal, and rows of one route say different things', () => {
    for (const row of ROWS) assert.deepEqual(Object.keys(row.expect).sort(), [...PRINCIPALS].sort(), row.route);
    const names = ROWS.map((row) => `${row.route} ${row.does}`);
    assert.equal(new Set(names).size, names.length);
  });
});

// Row after row, a principal at a time (two at once, the second from the last row up): the
// cells in flight together are mostly of different rows, so cells waiting on a row's shared
// target do not hold every slot.
describe('authorization matrix', { concurrency: PRINCIPALS_AT_ONCE }, () => {
  PRINCIPALS.forEach((principal, i) => {
    const rows = i % 2 === 0 ? ROWS : [...ROWS].reverse();
    describe(`every route as ${principal}, in its own org and another`, { concurrency: CONCURRENCY }, () => {
      for (const side of ['own', 'other'] as const) {
        for (const row of rows) {
          if (side === 'other' && row.sides === 'none') continue;
          const want = expected(row, side, principal);
          const name = `${row.route} · ${row.does} · ${row.sides === 'none' ? '-' : ORGS[side]} · ${principal} → ${want}`;
          const todo = side === 'own' ? row.todo?.own?.[principal] : row.todo?.other?.[principal];
          test(name, todo ? { todo } : {}, () => runCell(row, side, principal));
        }
      }
    });
  });
});
