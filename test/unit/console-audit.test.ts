/**
 * The console's audit trail page in process (createApp over a memory store, served on a
 * loopback port): a stored entry changed behind the server's back shows as the first bad
 * link, and who may see the page, and what bad input gets, over HTTP with cookies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { auditEntryHash } from '../../shared/audit.ts';
import { AUDIT_WALK_MAX } from '../../worker/accounts/audit.ts';
import { apiCall, ok } from '../fixtures/api-call.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { addMember, deviceLogin, FormBrowser } from '../fixtures/oauth-client.ts';

let app: InProcess;
let base: string;
let owner: string;

before(async () => {
  app = await startInProcess({}, Date.UTC(2026, 2, 2, 9));
  base = app.base;
  owner = (await deviceLogin(base, 'owner@audit.example')).access_token;
  await ok(apiCall(base, 'POST', '/v1/orgs', owner, { slug: 'acme' }));
  for (const slug of ['web', 'api', 'docs']) {
    app.step(1000);
    await ok(apiCall(base, 'POST', '/v1/orgs/acme/projects', owner, { slug }));
  }
});
after(() => app?.close());

const signedIn = (email: string) => consolePerson(base, email);

const auditPath = (org: string, query = '') => `/console/orgs/${org}/audit${query}`;

describe('the audit page in process', () => {
  test('an intact trail is verified whole and shows the head the JSON API ends with', async () => {
    const person = await signedIn('owner@audit.example');
    const page = await person.get(auditPath('acme'));
    assert.equal(page.status, 200, page.html);
    const api = await ok(apiCall(base, 'GET', '/v1/orgs/acme/audit?limit=200', owner));
    const entries = api.entries as { seq: number; hash: string }[];
    const head = entries.at(-1);
    assert.ok(head);
    assert.match(page.html, new RegExp(`Chain verified: ${entries.length} entries`));
    assert.match(page.html, new RegExp(`<code id="audit-head">${head.hash}</code>`));
    assert.doesNotMatch(page.html, /audit-break/);
  });

  test('a stored entry changed behind the server: the page names the first bad entry, whatever the filter', async () => {
    const key = 'aud:acme:3';
    const stored = await app.store.get(key);
    assert.ok(stored, `no ${key} in the store: ${Object.keys(app.store.dump()).filter((name) => name.startsWith('aud'))}`);
    await app.store.put(key, JSON.stringify({ ...JSON.parse(stored), actor: 'mallory@audit.example' }), 3600);
    try {
      const person = await signedIn('owner@audit.example');
      for (const query of ['', '?action=org.created', '?actor=nobody', '?limit=1&before=2']) {
        const page = await person.get(auditPath('acme', query));
        assert.equal(page.status, 200, page.html);
        assert.match(page.html, /<span id="audit-break-seq">3<\/span>/, query);
        assert.match(page.html, /entry 3 was changed after it was written/, query);
        assert.match(page.html, /role="alert" id="audit-break"/);
        assert.doesNotMatch(page.html, /Chain verified/, query);
      }
      // The changed row is shown as stored: the verdict, not the rows, says it is bad.
      assert.match((await person.get(auditPath('acme', '?actor=mallory'))).html, /<tr data-seq="3">/);
    } finally {
      await app.store.put(key, stored, 3600);
    }
  });

  test('a missing entry is a break at its number', async () => {
    const key = 'aud:acme:2';
    const stored = await app.store.get(key);
    assert.ok(stored);
    await app.store.delete(key);
    try {
      const page = await (await signedIn('owner@audit.example')).get(auditPath('acme'));
      assert.match(page.html, /<span id="audit-break-seq">2<\/span>/);
      assert.match(page.html, /entry 2 is missing/);
    } finally {
      await app.store.put(key, stored, 3600);
    }
  });
});

describe('who may open the audit page, and bad input', () => {
  test('a member (not admin) gets the 403 page; an admin the trail', async () => {
    await addMember(base, owner, 'acme', 'member@audit.example', 'member');
    await addMember(base, owner, 'acme', 'admin@audit.example', 'admin');
    const member = await (await signedIn('member@audit.example')).get(auditPath('acme'));
    assert.equal(member.status, 403);
    assert.match(member.html, /audit:read/);
    assert.doesNotMatch(member.html, /audit-rows|Chain verified/);
    const admin = await (await signedIn('admin@audit.example')).get(auditPath('acme'));
    assert.equal(admin.status, 200);
    assert.match(admin.html, /Chain verified/);
  });

  test("another org's admin, an invited person who has not accepted, and an outsider get 404", async () => {
    const other = (await deviceLogin(base, 'other@audit.example')).access_token;
    await ok(apiCall(base, 'POST', '/v1/orgs', other, { slug: 'other' }));
    await ok(apiCall(base, 'POST', '/v1/orgs/acme/invitations', owner, { email: 'invited@audit.example', role: 'admin' }));
    for (const email of ['other@audit.example', 'invited@audit.example', 'outsider@audit.example']) {
      const page = await (await signedIn(email)).get(auditPath('acme'));
      assert.equal(page.status, 404, email);
      assert.match(page.html, /no org &quot;acme&quot;|no org "acme"/, email);
      assert.doesNotMatch(page.html, /audit-rows|Chain/, email);
    }
    // Their own org's page is theirs; a missing org is the same 404 as a foreign one.
    assert.equal((await (await signedIn('other@audit.example')).get(auditPath('other'))).status, 200);
    assert.equal((await (await signedIn('owner@audit.example')).get(auditPath('nope'))).status, 404);
  });

  test('signed out: the sign-in form, which comes back to the page', async () => {
    const browser = new FormBrowser(base);
    const page = await browser.request(auditPath('acme', '?action=org.created'));
    assert.equal(page.status, 200);
    assert.match(page.html, /action="\/signin"/);
    assert.equal(FormBrowser.field(page.html, 'return_to').replace(/&amp;/g, '&'), auditPath('acme', '?action=org.created'));
    assert.doesNotMatch(page.html, /audit-rows|Chain/);
    const signed = await browser.submitSignIn(page.html, 'owner@audit.example');
    assert.equal(signed.headers.get('location'), auditPath('acme', '?action=org.created'));
    const back = await browser.request(auditPath('acme', '?action=org.created'));
    assert.equal(back.status, 200);
    assert.match(back.html, /<tr data-seq="1"><td>1<\/td>/);
    assert.match(back.html, /Chain verified/);
  });

  test('bad after, before, limit and action values: the 400 page, never a 500', async () => {
    const person = await signedIn('owner@audit.example');
    for (const query of [
      '?after=-1',
      '?after=abc',
      '?after=1e3',
      '?before=1.5',
      '?after=99999999999999999999',
      '?limit=0',
      '?limit=201',
      '?limit=ten',
      '?action=org.deleted',
      '?action=%3Cscript%3E',
      '?after=1&before=5',
      '?unknown=1',
      `?actor=${'a'.repeat(400)}`,
    ]) {
      const page = await person.get(auditPath('acme', query));
      assert.equal(page.status, 400, `${query}: ${page.html.slice(0, 300)}`);
      assert.match(page.html, /role="alert"/, query);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    }
  });

  test('cursors at and past either end answer a page whose links all answer too', async () => {
    const person = await signedIn('owner@audit.example');
    for (const query of [
      '?before=0',
      '?before=1',
      '?after=0',
      '?after=999999999999999',
      '?before=999999999999999',
      '?limit=1&after=2',
    ]) {
      const page = await person.get(auditPath('acme', query));
      assert.equal(page.status, 200, `${query}: ${page.html.slice(0, 300)}`);
      const links = [...page.html.matchAll(/id="audit-(?:older|newer|newest)" href="([^"]+)"/g)].map((match) =>
        String(match[1]).replace(/&amp;/g, '&'),
      );
      for (const link of links) assert.equal((await person.get(link)).status, 200, `${query} -> ${link}`);
    }
  });

  test('the actor filter is shown escaped, never as markup', async () => {
    const person = await signedIn('owner@audit.example');
    const actor = '"><script>alert(1)</script>';
    const page = await person.get(auditPath('acme', `?actor=${encodeURIComponent(actor)}`));
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.html, /<script>alert/);
    assert.match(page.html, /value="&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
    assert.match(page.html, /id="audit-empty"/);
  });
});

describe('paging and filtering in process', () => {
  test('newest first, pages of `limit`, older and newer links that carry the filter', async () => {
    const person = await signedIn('owner@audit.example');
    const api = await ok(apiCall(base, 'GET', '/v1/orgs/acme/audit?limit=200', owner));
    const all = (api.entries as { seq: number; action: string }[]).map((entry) => entry.seq);
    const seqsOf = (html: string) => [...html.matchAll(/<tr data-seq="(\d+)">/g)].map((match) => Number(match[1]));
    const first = await person.get(auditPath('acme', '?limit=2'));
    assert.deepEqual(seqsOf(first.html), all.slice(-2).reverse());
    assert.doesNotMatch(first.html, /id="audit-newer"/);
    const olderHref = /id="audit-older" href="([^"]+)"/.exec(first.html)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(olderHref);
    const second = await person.get(olderHref);
    assert.deepEqual(seqsOf(second.html), all.slice(-4, -2).reverse());
    const newerHref = /id="audit-newer" href="([^"]+)"/.exec(second.html)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(newerHref);
    assert.deepEqual(seqsOf((await person.get(newerHref)).html), all.slice(-2).reverse());

    const projects = await person.get(auditPath('acme', '?action=project.created&limit=1'));
    const projectSeqs = (api.entries as { seq: number; action: string }[])
      .filter((entry) => entry.action === 'project.created')
      .map((entry) => entry.seq);
    assert.deepEqual(seqsOf(projects.html), projectSeqs.slice(-1));
    const next = /id="audit-older" href="([^"]+)"/.exec(projects.html)?.[1]?.replace(/&amp;/g, '&') ?? '';
    assert.match(next, /action=project.created/);
    assert.deepEqual(seqsOf((await person.get(next)).html), projectSeqs.slice(-2, -1));
  });
});

describe('a trail longer than one request checks', () => {
  test('the page checks the first AUDIT_WALK_MAX entries, says so, and still shows the newest rows', async () => {
    const long = (await deviceLogin(base, 'long@audit.example')).access_token;
    await ok(apiCall(base, 'POST', '/v1/orgs', long, { slug: 'long' }));
    // Appended straight into the store as the server writes them (a chain of valid links): 50 past the cap.
    const first = JSON.parse((await app.store.get('aud:long:1')) ?? 'null');
    assert.ok(first);
    let prev = first.hash as string;
    const total = AUDIT_WALK_MAX + 50;
    for (let seq = 2; seq <= total; seq++) {
      const unhashed = {
        seq,
        time: app.now(),
        action: 'project.created' as const,
        actor: seq === total ? 'last@audit.example' : 'long@audit.example',
        subject: `p${seq}`,
        detail: null,
        request_id: `req_${seq}`,
        prev,
      };
      const hash = await auditEntryHash(unhashed);
      await app.store.put(`aud:long:${seq}`, JSON.stringify({ ...unhashed, hash }), 3600);
      prev = hash;
    }
    await app.store.put('audh:long', JSON.stringify({ seq: total, hash: prev }), 3600);
    const person = await signedIn('long@audit.example');
    const seqsOf = (html: string) => [...html.matchAll(/<tr data-seq="(\d+)">/g)].map((match) => Number(match[1]));

    const page = await person.get(auditPath('long', '?limit=3'));
    assert.equal(page.status, 200, page.html.slice(0, 500));
    assert.match(page.html, new RegExp(`Chain verified for its first ${AUDIT_WALK_MAX} entries`));
    assert.match(page.html, new RegExp(`id="audit-partial">The trail is longer \\(its head record is at entry ${total}\\)`));
    assert.deepEqual(seqsOf(page.html), [total, total - 1, total - 2]);
    // Rows past what the check read, by filter, and the oldest, read on demand.
    assert.deepEqual(seqsOf((await person.get(auditPath('long', '?actor=last@'))).html), [total]);
    assert.deepEqual(seqsOf((await person.get(auditPath('long', '?action=org.created'))).html), [1]);
    assert.deepEqual(seqsOf((await person.get(auditPath('long', `?limit=2&after=${AUDIT_WALK_MAX - 1}`))).html), [
      AUDIT_WALK_MAX + 1,
      AUDIT_WALK_MAX,
    ]);
  });
});
