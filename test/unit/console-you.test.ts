/**
 * The You and Operator pages in process (the app over a memory store on a stepping clock,
 * served on loopback for the cookie-carrying fixtures): the org registry the operator page
 * lists, the sessions an operator finds by email, and the You page of a person without a
 * verified email.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { youBody } from '../../worker/pages/console/you.ts';
import { storeKey } from '../../worker/store/store.ts';
import { apiJsonCall } from '../fixtures/api-call.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { deviceLogin } from '../fixtures/oauth-client.ts';

let app: InProcess;
let base: string;

before(async () => {
  app = await startInProcess({ LATCHKEY_OPERATORS: 'op@unit.example' }, Date.UTC(2026, 0, 5, 9));
  base = app.base;
});
after(() => app?.close());

const signedIn = (email: string) => consolePerson(base, email);

const orgRows = (html: string) => [...html.matchAll(/<tr data-org="([^"]+)"/g)].map((match) => match[1]);

test('the operator page lists the registry’s orgs, newest first, each once; an org from before the registry is not listed', async () => {
  const owner = (await deviceLogin(base, 'owner@unit.example')).access_token;
  for (const slug of ['first', 'second']) {
    assert.equal((await apiJsonCall(base, 'POST', '/v1/orgs', owner, { slug })).status, 201);
    app.step(60_000);
  }
  assert.equal((await apiJsonCall(base, 'POST', '/v1/orgs', owner, { slug: 'first' })).status, 409);
  // An org as a deployment from before the registry holds it: its record only.
  const old = {
    slug: 'ancient',
    name: 'ancient',
    createdAt: app.now(),
    createdBy: 'usr_x',
    projects: [],
    members: { 'x@unit.example': 'owner' },
  };
  await app.store.put(storeKey('org', 'ancient'), JSON.stringify(old), 3600);

  const operator = await signedIn('op@unit.example');
  const page = await operator.get('/console/operator');
  assert.equal(page.status, 200);
  assert.deepEqual(orgRows(page.html), ['second', 'first']);
  assert.match(page.html, /orgs created before it are not listed/);
});

test('a creation refused by the person’s org limit is not registered', async () => {
  const busy = (await deviceLogin(base, 'busy@unit.example')).access_token;
  for (let n = 0; n < 50; n++)
    assert.equal((await apiJsonCall(base, 'POST', '/v1/orgs', busy, { slug: `busy-${n}` })).status, 201);
  const refused = await apiJsonCall(base, 'POST', '/v1/orgs', busy, { slug: 'busy-over' });
  assert.equal(refused.status, 400);
  const registry = await registered();
  assert.ok(registry.includes('busy-49'));
  assert.ok(!registry.includes('busy-over'));
});

/** Every slug the registry holds, oldest first, read as the store keeps it (a counter, an entry per number). */
async function registered(): Promise<string[]> {
  const count = Number((await app.store.get(storeKey('orgRegistry', 'count'))) ?? 0);
  const entries = await Promise.all(
    Array.from({ length: count }, (_, i) => app.store.get(storeKey('orgRegistry', String(i + 1)))),
  );
  return entries.filter((slug) => slug !== null);
}

test('an operator finds a person’s sessions by email, lower-cased; a bad email is the console’s error page', async () => {
  const dan = (await deviceLogin(base, 'dan@unit.example')).access_token;
  const me = await apiJsonCall(base, 'GET', '/v1/me', dan);
  const operator = await signedIn('op@unit.example');
  const page = await operator.get('/console/operator?email=DAN%40unit.example');
  assert.equal(page.status, 200);
  assert.ok(page.html.includes(`data-session="${me.json.session_id}"`));
  assert.match(page.html, /Sessions of dan@unit\.example/);
  const bad = await operator.get('/console/operator?email=not-an-email');
  assert.equal(bad.status, 400);
  assert.match(bad.html, /Something went wrong/);
});

test('a browser sign-in past its eight hours is neither listed nor let in', async () => {
  const first = await signedIn('eight@unit.example');
  app.step(4 * 3600_000);
  const second = await signedIn('eight@unit.example');
  assert.equal((await second.get('/console')).html.match(/<tr data-browser=/g)?.length, 2);
  app.step(4 * 3600_000 + 1000);
  assert.equal((await second.get('/console')).html.match(/<tr data-browser=/g)?.length, 1);
  assert.match((await first.get('/console')).html, /id="email"/, 'the first browser is asked to sign in again');
});

test('without a verified email, the You page says so where orgs and invitations would be', async () => {
  const html = String(
    await youBody({
      csrf: 'c',
      email: null,
      sessions: [],
      browsers: [],
      thisBrowser: 'web_x',
      orgs: [],
      invitations: [],
      clientName: (id) => id,
    }),
  );
  assert.equal(html.match(/no verified email address/g)?.length, 2);
  assert.doesNotMatch(html, /Create an org/);
});
