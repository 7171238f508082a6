/**
 * The web console's routes and who may call them: the table the console's matrix
 * (console-matrix.test.ts) is generated from. Each row is one request to one console route,
 * with the outcome each principal must get. The matrix fails on a console route with no row
 * here and on a row whose route is gone.
 *
 * Outcomes:
 * - `allowed`: a GET answers 200 with the console's frame; a POST answers 303 back to a
 *   console page, or 200/201 with the frame (a new key's page);
 * - `forbidden`: 403 — in the org, but without the role;
 * - `hidden`: the answer is exactly the same request's for an org (or a target) that does
 *   not exist (404): nothing is learned;
 * - `signin`: signed out: a GET shows the sign-in form (and comes back after it), a POST is 403;
 * - `refused`: another 4xx (a 400 of bad input, a 409).
 */
import { base32Decode, totpCodeAt } from '../../worker/mfa/totp.ts';
import type { FormBrowser } from '../fixtures/oauth-client.ts';

export const PRINCIPALS = [
  'owner',
  'admin',
  'member',
  /** Invited to acme, not (yet) accepted. */
  'invited',
  /** Signed in, a member of no org. */
  'outsider',
  /** Listed in LATCHKEY_OPERATORS, a member of no org. */
  'operator',
  /** An admin of globex, another tenant; a member of no org of acme's. */
  'otherAdmin',
  /** A browser with no sign-in (it has its binding cookie, so a valid CSRF token). */
  'anonymous',
] as const;
export type Principal = (typeof PRINCIPALS)[number];
export const OUTCOMES = ['allowed', 'forbidden', 'hidden', 'signin', 'refused'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export type Expect = Record<Principal, Outcome>;
/** A thing a row acts on, made fresh by acme's owner through the API. */
export type Target = Record<string, string>;
export type Cell = { principal: Principal; n: number; org: string; target: Target; browser: Browser };
/** An answer to a browser's request. */
export type Answer = { status: number; html: string; headers: Headers };
/** A browser with its cookies (null email: signed out) and its CSRF token. */
export type Browser = { email: string | null; form: FormBrowser; csrf: string };

/** What the test gives the rows to build targets and read back what became of them (acme's owner on the API). */
export type World = {
  /** A CI runner's ID token (GitHub-shaped) for acme's audience. */
  ciIdToken(): Promise<string>;
  /** A policy of acme's project web trusting the fake CI issuer's example repository. */
  policyBody(id: string): Record<string, unknown>;
  /** A thing of globex (the other tenant), made by its owner: a key, a policy or an invitation. */
  globexKey(): Promise<Target>;
  globexPolicy(): Promise<Target>;
  globexPolicyIds(): Promise<string[]>;
  globexInvitation(): Promise<Target>;
  globexInvitationIds(): Promise<string[]>;
  /** An invitation of the invited principal to a fresh org of globex's owner (`id`, `org`). */
  invitationOfInvited(): Promise<Target>;
  /** The pending invitations of an org of globex's owner. */
  pendingIn(org: string): Promise<string[]>;
  /** A fresh owner of acme (`email`). */
  newOwner(): Promise<Target>;
  /** A fresh member of acme (`email`), who accepted their invitation at the console. */
  newMember(role?: 'member' | 'admin' | 'owner'): Promise<Target>;
  /** A pending invitation of acme for a fresh email (`id`, `email`). */
  newInvitation(role?: string): Promise<Target>;
  /** A key of acme (`id`, `key`). */
  newKey(role?: string, project?: string): Promise<Target>;
  /** A trust policy of acme (`id`). */
  newPolicy(): Promise<Target>;
  /** A person's CLI sign-in (a fresh person's unless named): its session id and access token. */
  newSession(email?: string): Promise<Target>;
  /** A person's signed-in browser (a fresh person's unless named), its public id (`id`) as their You page shows it. */
  newBrowser(email?: string): Promise<Target>;
  /** A browser newBrowser made, by its public id. */
  signedInBrowser(id: string): Browser;
  /** Whether acme's audit trail has an entry of `action` about `subject`. */
  audited(action: string, subject: string): Promise<boolean>;
  invitationIds(): Promise<string[]>;
  policyIds(): Promise<string[]>;
  /** Whether an access token or API key still works as a credential. */
  works(credential: string): Promise<boolean>;
  /** acme's members: email → role. */
  membersOfAcme(): Promise<Record<string, string>>;
};

export type Row = {
  /** `METHOD path` exactly as the console registers it. */
  route: string;
  does: string;
  /** The request's path if not the route's; `:org` and the target's fields are filled in. */
  path?: string;
  /** A POST's fields but `csrf` (added per cell). */
  form?: (cell: Cell, world: World) => Record<string, string>;
  /** What the request acts on: fresh for each cell expected to succeed, shared by the refused ones. */
  target?: (world: World) => Promise<Target>;
  /** What stands in for the target on the request a hidden answer is compared with. */
  ghost?: (target: Target) => Target;
  /** A path that does not exist, to compare a hidden answer of a route naming no org with. */
  ghostPath?: string;
  /** Instead of `target`: a thing of the cell's own person (the owner's for a signed-out cell), fresh per cell. */
  own?: (principal: Exclude<Principal, 'anonymous'>, world: World) => Promise<Target>;
  /** Whether the target is as it was: unchanged if refused, changed if allowed. */
  intact?: (world: World, target: Target) => Promise<boolean>;
  /** Each cell signs in a browser of its own (the row ends the sign-in it is made with). */
  freshBrowser?: boolean;
  /** Further checks of an allowed answer; a message if one fails. */
  shows?: (answer: Answer, cell: Cell) => string | null;
  expect: Expect;
};

export const PEOPLE: Record<Exclude<Principal, 'anonymous'>, string> = {
  owner: 'owner@acme.example',
  admin: 'admin@acme.example',
  member: 'member@acme.example',
  invited: 'invited@example.net',
  outsider: 'outsider@example.net',
  operator: 'ops@example.net',
  otherAdmin: 'admin@globex.example',
};

/** Builds an expectation naming every principal once; `anonymous` is `signin` unless named. */
export function who(spec: Partial<Record<Outcome, Principal[]>>): Expect {
  const expect: Partial<Expect> = {};
  for (const [outcome, principals] of Object.entries(spec) as [Outcome, Principal[]][]) {
    for (const principal of principals) {
      if (expect[principal]) throw new Error(`${principal} is named twice in an expectation`);
      expect[principal] = outcome;
    }
  }
  expect.anonymous ??= 'signin';
  const missing = PRINCIPALS.filter((principal) => !expect[principal]);
  if (missing.length > 0) throw new Error(`an expectation leaves out ${missing.join(', ')}`);
  return expect as Expect;
}
export const SIGNED_IN: Principal[] = PRINCIPALS.filter((principal) => principal !== 'anonymous');
/** The people outside acme: an org page of acme is hidden from them. */
export const STRANGERS: Principal[] = ['invited', 'outsider', 'operator', 'otherAdmin'];

/** Whether a page is the console's frame (a signed-in person's page). */
export const framed = (html: string) => /action="\/console\/signout"/.test(html);

// ---------------------------------------------------------------------------------------
// The table: one row or more per console route. A route a section adds needs its rows here.

/** An org page of acme: its members read it, anyone else gets the 404 of an org that does not exist. */
const MEMBERS_READ = who({ allowed: ['owner', 'admin', 'member'], hidden: STRANGERS });
/** An admin's page or act in acme. */
const ADMINS = who({ allowed: ['owner', 'admin'], forbidden: ['member'], hidden: STRANGERS });
/** An admin's SSO request past the role check, refused for what it asks (see the SSO rows). */
const SSO_REFUSED = who({ refused: ['owner', 'admin'], forbidden: ['member'], hidden: STRANGERS });
const ghostKey = (target: Target): Target => ({ ...target, id: `key_${'G'.repeat(20)}` });
const ghostInvitation = (target: Target): Target => ({ ...target, id: `inv_${'G'.repeat(20)}` });
const ghostMember = (target: Target): Target => ({ ...target, email: 'nobody@acme.example' });
const memberIs = (role: string | undefined) => async (world: World, target: Target) =>
  (await world.membersOfAcme())[target.email as string] === role;
const keyIntact = (world: World, target: Target) => world.works(target.key as string);

const ghostSession = (target: Target): Target => ({ ...target, sid: `ses_${'G'.repeat(20)}` });
const sessionIntact = (world: World, target: Target) => world.works(target.access as string);
/** Only an operator reaches the operator's pages; to anyone else they are a page that does not exist. */
const OPERATOR_ONLY = who({ allowed: ['operator'], hidden: SIGNED_IN.filter((principal) => principal !== 'operator') });

/** Adds an authenticator app in `browser`, pending until its first code: its id and base32 secret from the page. */
async function pendingAuthenticator(browser: Browser): Promise<{ id: string; secret: string }> {
  const added = await browser.form.request('/console/two-step/totp', { csrf: browser.csrf });
  const id = /\/console\/two-step\/totp\/(mfa_[\w-]{20})\/confirm/.exec(added.html)?.[1];
  const secret = /<code id="totp-secret">([A-Z2-7]+)<\/code>/.exec(added.html)?.[1];
  if (!id || !secret) throw new Error(`no authenticator added: ${added.status}`);
  return { id, secret };
}
/** A code for a base32 secret at the Worker's clock (the real one). */
const codeOf = (secret: string) => totpCodeAt(base32Decode(secret) as Uint8Array, Date.now());
/** A fresh person's pending authenticator (`id`), with the code that would confirm it (`code`). */
async function strangersPendingAuthenticator(world: World): Promise<Target> {
  const browser = (await world.newBrowser()).id as string;
  const { id, secret } = await pendingAuthenticator(world.signedInBrowser(browser));
  return { id, code: await codeOf(secret), browser };
}
/** A fresh person's confirmed authenticator (`id`) and their browser (`browser`), which lists it. */
async function strangersAuthenticator(world: World): Promise<Target> {
  const browserId = (await world.newBrowser()).id as string;
  const browser = world.signedInBrowser(browserId);
  const { id, secret } = await pendingAuthenticator(browser);
  const confirmed = await browser.form.request(`/console/two-step/totp/${id}/confirm`, {
    csrf: browser.csrf,
    code: await codeOf(secret),
  });
  if (confirmed.status !== 303) throw new Error(`the authenticator was not confirmed: ${confirmed.status}`);
  return { id, browser: browserId };
}
const ghostFactor = (target: Target): Target => ({ ...target, id: `mfa_${'G'.repeat(20)}` });
const factorListed = async (world: World, target: Target) =>
  (await world.signedInBrowser(target.browser as string).form.request('/console/two-step')).html.includes(
    `data-factor="${target.id}"`,
  );

export const ROWS: Row[] = [
  // You (worker/routes/console/you.ts).
  { route: 'GET /console', does: 'read one’s own page', expect: who({ allowed: SIGNED_IN }) },
  {
    route: 'POST /console/sessions/:sid/revoke',
    does: "end another person's CLI session",
    target: (world) => world.newSession(),
    ghost: ghostSession,
    intact: sessionIntact,
    // As POST /v1/sessions/{sid}/revoke: someone else's session is none, but to an operator.
    expect: who({ allowed: ['operator'], hidden: SIGNED_IN.filter((principal) => principal !== 'operator') }),
  },
  {
    route: 'POST /console/sessions/:sid/revoke',
    does: "end one's own CLI session",
    own: (principal, world) => world.newSession(PEOPLE[principal]),
    intact: sessionIntact,
    expect: who({ allowed: SIGNED_IN }),
  },
  {
    route: 'POST /console/browsers/:id/end',
    does: "sign out one's own other browser",
    own: (principal, world) => world.newBrowser(PEOPLE[principal]),
    intact: async (world, target) => framed((await world.signedInBrowser(target.id as string).form.request('/console')).html),
    expect: who({ allowed: SIGNED_IN }),
  },
  {
    route: 'POST /console/browsers/:id/end',
    does: "sign out another person's browser",
    target: (world) => world.newBrowser(),
    ghost: (target) => ({ ...target, id: `web_${'G'.repeat(20)}` }),
    intact: async (world, target) => framed((await world.signedInBrowser(target.id as string).form.request('/console')).html),
    // Only one's own browsers: not even an operator ends another's here.
    expect: who({ hidden: SIGNED_IN }),
  },
  {
    route: 'POST /console/invitations/:id/:answer{accept|decline}',
    path: '/console/invitations/:id/accept',
    does: "accept someone else's invitation to acme",
    target: (world) => world.newInvitation(),
    ghost: ghostInvitation,
    intact: async (world, target) => (await world.invitationIds()).includes(target.id as string),
    expect: who({ hidden: SIGNED_IN }),
  },
  {
    route: 'POST /console/invitations/:id/:answer{accept|decline}',
    path: '/console/invitations/:id/decline',
    does: "decline someone else's invitation to acme",
    target: (world) => world.newInvitation(),
    ghost: ghostInvitation,
    intact: async (world, target) => (await world.invitationIds()).includes(target.id as string),
    expect: who({ hidden: SIGNED_IN }),
  },

  ...(['accept', 'decline'] as const).map(
    (answer): Row => ({
      route: 'POST /console/invitations/:id/:answer{accept|decline}',
      path: `/console/invitations/:id/${answer}`,
      does: `${answer} an invitation of the invited person's`,
      target: (world) => world.invitationOfInvited(),
      ghost: ghostInvitation,
      intact: async (world, target) => (await world.pendingIn(target.org as string)).includes(target.id as string),
      // Only the person it was made for answers it: not the org's people, not an operator.
      expect: who({ allowed: ['invited'], hidden: SIGNED_IN.filter((principal) => principal !== 'invited') }),
    }),
  ),

  // Two-step sign-in (worker/routes/console/two-step.ts): a person's own factors only. No
  // row confirms a principal's own authenticator: that would turn on two-step sign-in for
  // them, and the rows sign them in again in one step (recovery codes alone turn nothing on).
  { route: 'GET /console/two-step', does: 'read one’s own sign-in factors', expect: who({ allowed: SIGNED_IN }) },
  {
    route: 'POST /console/two-step/totp',
    does: 'add an authenticator app, pending until its first code',
    expect: who({ allowed: SIGNED_IN }),
    shows: (answer) =>
      /<svg [^>]*class="qr"/.test(answer.html) && /<code id="totp-secret">/.test(answer.html) ? null : 'no QR code or secret',
  },
  {
    route: 'POST /console/two-step/recovery',
    does: 'make one’s own recovery codes',
    expect: who({ allowed: SIGNED_IN }),
    shows: (answer) => ((answer.html.match(/<li><code>/g) ?? []).length === 10 ? null : 'not ten recovery codes'),
  },
  {
    route: 'POST /console/two-step/totp/:id/confirm',
    does: "confirm another person's pending authenticator with its right code",
    target: strangersPendingAuthenticator,
    ghost: ghostFactor,
    form: (cell) => ({ code: cell.target.code as string }),
    expect: who({ hidden: SIGNED_IN }),
  },
  {
    route: 'POST /console/two-step/:id/remove',
    does: "remove another person's authenticator",
    target: strangersAuthenticator,
    ghost: ghostFactor,
    intact: factorListed,
    expect: who({ hidden: SIGNED_IN }),
  },
  {
    route: 'POST /console/two-step/:id/remove',
    does: "remove one's own pending authenticator",
    own: async (principal, world) => {
      const browser = (await world.newBrowser(PEOPLE[principal])).id as string;
      return { id: (await pendingAuthenticator(world.signedInBrowser(browser))).id };
    },
    expect: who({ allowed: SIGNED_IN }),
    shows: (answer) => (answer.headers.get('location')?.endsWith('notice=factor-removed') ? null : 'no factor-removed notice'),
  },
  {
    route: 'POST /console/two-step/passkey',
    does: 'begin adding a passkey (the registration options, for this browser sign-in)',
    expect: who({ allowed: SIGNED_IN }),
    shows: (answer) => (/data-passkey="create" data-options="\{/.test(answer.html) ? null : 'no registration options'),
  },
  {
    // The challenge is kept for the person and browser sign-in that began it: none began here, so nothing is added.
    route: 'POST /console/two-step/passkey/confirm',
    does: 'finish adding a passkey no registration of this browser began',
    form: () => ({ response: '{}', name: 'Stolen' }),
    expect: who({ refused: SIGNED_IN }),
  },

  // Operator (worker/routes/console/operator.ts).
  { route: 'GET /console/operator', does: 'open the operator page', ghostPath: '/console/no-such-page', expect: OPERATOR_ONLY },
  {
    route: 'GET /console/operator',
    path: `/console/operator?email=${encodeURIComponent(PEOPLE.owner)}`,
    does: "list a person's sessions",
    ghostPath: '/console/no-such-page',
    expect: OPERATOR_ONLY,
  },
  {
    route: 'POST /console/operator/sessions/:sid/revoke',
    does: "end a person's CLI session",
    target: (world) => world.newSession(),
    ghostPath: '/console/operator/sessions/:sid/nothing',
    intact: sessionIntact,
    expect: OPERATOR_ONLY,
  },

  // CI trust policies (worker/routes/console/policies.ts).
  { route: 'GET /console/orgs/:org/policies', does: "list the org's trust policies", ghost: (t) => t, expect: MEMBERS_READ },
  ...['github', 'gitlab', 'json'].map(
    (preset): Row => ({
      route: 'GET /console/orgs/:org/policies/new',
      path: `/console/orgs/:org/policies/new?preset=${preset}`,
      does: `open the ${preset} policy form`,
      ghost: (t) => t,
      // The form is a page a member may read (posting it is an admin's); as the list is.
      expect: MEMBERS_READ,
    }),
  ),
  {
    route: 'POST /console/orgs/:org/policies',
    does: 'create a policy (JSON)',
    form: (cell, world) => ({ preset: 'json', policy: JSON.stringify(world.policyBody(`made${cell.n}`)) }),
    expect: ADMINS,
    shows: (answer) => (answer.headers.get('location')?.includes('notice=policy-created') ? null : 'no policy-created notice'),
  },
  {
    route: 'POST /console/orgs/:org/policies/:id/delete',
    does: 'delete a policy',
    target: (world) => world.newPolicy(),
    ghost: (target) => ({ ...target, id: 'no-such-policy' }),
    intact: async (world, target) => (await world.policyIds()).includes(target.id as string),
    expect: ADMINS,
  },
  {
    route: 'POST /console/orgs/:org/policies/:id/delete',
    does: "delete globex's policy (an id acme does not have) through acme's page",
    target: (world) => world.globexPolicy(),
    ghost: (target) => ({ ...target, id: 'no-such-policy' }),
    intact: async (world, target) => (await world.globexPolicyIds()).includes(target.id as string),
    // A member, who may read acme's policies, is told there is no such one (as DELETE /v1 tells them).
    expect: who({ hidden: ['owner', 'admin', 'member', 'invited', 'outsider', 'operator', 'otherAdmin'] }),
  },
  { route: 'GET /console/orgs/:org/policies/dry-run', does: 'open the dry-run form', ghost: (t) => t, expect: MEMBERS_READ },
  {
    route: 'POST /console/orgs/:org/policies/dry-run',
    does: "try a CI token against the org's policies",
    ghost: (t) => t,
    target: async (world) => ({ token: await world.ciIdToken() }),
    form: (cell) => ({ subject_token: cell.target.token as string, audience: 'web' }),
    // As POST /v1/orgs/{org}/trust-policies/dry-run: any member.
    expect: MEMBERS_READ,
    shows: (answer, cell) =>
      answer.html.includes(cell.target.token as string) ? 'the pasted CI token is written back into the page' : null,
  },
  // SSO (worker/routes/console/sso.ts): an org's owners and admins. No connection exists in the
  // matrix (its issuer would have to serve a discovery document): a cell past the role check
  // is refused for what it asks (no connection; an issuer that does not answer).
  { route: 'GET /console/orgs/:org/sso', does: "read the org's SSO page", ghost: (t) => t, expect: ADMINS },
  {
    route: 'POST /console/orgs/:org/sso',
    does: 'set an SSO connection whose issuer does not answer',
    form: () => ({ issuer: 'http://127.0.0.1:9', client_id: 'matrix', client_secret: 'matrix-sso-secret' }),
    // Naming the provider is the owner's alone: an admin is refused before the issuer is asked.
    expect: who({ refused: ['owner'], forbidden: ['admin', 'member'], hidden: STRANGERS }),
    shows: (answer) => (answer.html.includes('matrix-sso-secret') ? 'the client secret is written back into the page' : null),
  },
  {
    route: 'POST /console/orgs/:org/sso/switch',
    does: 'enable SSO (there is no connection)',
    form: () => ({ to: 'enable' }),
    expect: SSO_REFUSED,
  },
  { route: 'POST /console/orgs/:org/sso/test', does: 'start an SSO test sign-in (there is no connection)', expect: SSO_REFUSED },
  { route: 'POST /console/orgs/:org/sso/remove', does: 'remove the SSO connection (there is none)', expect: SSO_REFUSED },
  // Orgs (worker/routes/console/orgs.ts).
  { route: 'GET /console/orgs/new', does: 'open the new-org form', expect: who({ allowed: SIGNED_IN }) },
  {
    route: 'POST /console/orgs',
    does: 'create an org',
    form: (cell) => ({ slug: `made-${cell.n}`, name: `Made ${cell.n}` }),
    // A person at the console is a whole sign-in: anyone may make an org, as on POST /v1/orgs.
    expect: who({ allowed: SIGNED_IN }),
    shows: (answer, cell) =>
      answer.headers.get('location')?.startsWith(`/console/orgs/made-${cell.n}`) ? null : 'not sent to the new org',
  },
  { route: 'GET /console/orgs/:org', does: "read the org's overview", ghost: (t) => t, expect: MEMBERS_READ },
  {
    route: 'POST /console/orgs/:org/projects',
    does: 'create a project',
    form: (cell) => ({ slug: `p${cell.n}` }),
    expect: ADMINS,
  },
  {
    route: 'POST /console/orgs/:org/mfa',
    // Off, as it is: on would refuse every browser of the matrix without a second factor.
    does: 'say the org does not require two-step sign-in',
    form: () => ({ required: 'false' }),
    expect: who({ allowed: ['owner'], forbidden: ['admin', 'member'], hidden: STRANGERS }),
    shows: (answer) =>
      answer.headers.get('location')?.includes('notice=mfa-not-required') ? null : 'no mfa-not-required notice',
  },

  // Members and invitations (worker/routes/console/members.ts).
  { route: 'GET /console/orgs/:org/members', does: 'read members and invitations', ghost: (t) => t, expect: MEMBERS_READ },
  {
    route: 'POST /console/orgs/:org/members/:email/role',
    does: 'make a member an admin',
    target: (world) => world.newMember('member'),
    ghost: ghostMember,
    form: () => ({ role: 'admin' }),
    intact: memberIs('member'),
    expect: ADMINS,
  },
  {
    route: 'POST /console/orgs/:org/members/:email/role',
    does: 'make a member an owner',
    target: (world) => world.newMember('member'),
    ghost: ghostMember,
    form: () => ({ role: 'owner' }),
    intact: memberIs('member'),
    // Only an owner makes owners (the /v1 rule).
    expect: who({ allowed: ['owner'], forbidden: ['admin', 'member'], hidden: STRANGERS }),
  },
  {
    route: 'POST /console/orgs/:org/members/:email/remove',
    does: 'remove a member',
    target: (world) => world.newMember('member'),
    ghost: ghostMember,
    intact: memberIs('member'),
    expect: ADMINS,
  },
  {
    route: 'POST /console/orgs/:org/members/:email/remove',
    does: 'remove an admin',
    target: (world) => world.newMember('admin'),
    ghost: ghostMember,
    intact: memberIs('admin'),
    expect: ADMINS,
  },
  {
    route: 'POST /console/orgs/:org/invitations',
    does: 'invite someone',
    form: (cell) => ({ email: `new${cell.n}@example.org`, role: 'member' }),
    expect: ADMINS,
  },
  {
    route: 'POST /console/orgs/:org/invitations/:id/:action{resend|withdraw}',
    path: '/console/orgs/:org/invitations/:id/withdraw',
    does: 'withdraw an invitation',
    target: (world) => world.newInvitation(),
    ghost: ghostInvitation,
    intact: async (world, target) => (await world.invitationIds()).includes(target.id as string),
    expect: ADMINS,
  },
  {
    route: 'POST /console/orgs/:org/invitations/:id/:action{resend|withdraw}',
    path: '/console/orgs/:org/invitations/:id/resend',
    does: 'send an invitation again',
    target: (world) => world.newInvitation(),
    ghost: ghostInvitation,
    expect: ADMINS,
  },

  // An owner is an owner's business (the /v1 rule): an admin neither demotes, removes nor invites one.
  {
    route: 'POST /console/orgs/:org/members/:email/role',
    does: 'make an owner a member',
    target: (world) => world.newOwner(),
    ghost: ghostMember,
    form: () => ({ role: 'member' }),
    intact: memberIs('owner'),
    expect: who({ allowed: ['owner'], forbidden: ['admin', 'member'], hidden: STRANGERS }),
  },
  {
    route: 'POST /console/orgs/:org/members/:email/remove',
    does: 'remove an owner',
    target: (world) => world.newOwner(),
    ghost: ghostMember,
    intact: memberIs('owner'),
    expect: who({ allowed: ['owner'], forbidden: ['admin', 'member'], hidden: STRANGERS }),
  },
  {
    route: 'POST /console/orgs/:org/invitations',
    does: 'invite an owner',
    form: (cell) => ({ email: `owner${cell.n}@example.org`, role: 'owner' }),
    expect: who({ allowed: ['owner'], forbidden: ['admin', 'member'], hidden: STRANGERS }),
  },
  {
    route: 'POST /console/orgs/:org/invitations/:id/:action{resend|withdraw}',
    path: '/console/orgs/:org/invitations/:id/withdraw',
    does: "withdraw an owner's invitation",
    target: (world) => world.newInvitation('owner'),
    ghost: ghostInvitation,
    intact: async (world, target) => (await world.invitationIds()).includes(target.id as string),
    expect: who({ allowed: ['owner'], forbidden: ['admin', 'member'], hidden: STRANGERS }),
  },
  {
    route: 'POST /console/orgs/:org/invitations/:id/:action{resend|withdraw}',
    path: '/console/orgs/:org/invitations/:id/resend',
    does: "send an owner's invitation again",
    target: (world) => world.newInvitation('owner'),
    ghost: ghostInvitation,
    // A resend is its audit entry (its new expiry may fall in the same second as the old one).
    intact: async (world, target) => !(await world.audited('invitation.resent', target.email as string)),
    expect: who({ allowed: ['owner'], forbidden: ['admin', 'member'], hidden: STRANGERS }),
  },
  {
    route: 'POST /console/orgs/:org/invitations/:id/:action{resend|withdraw}',
    path: '/console/orgs/:org/invitations/:id/withdraw',
    does: "withdraw globex's invitation through acme's page",
    target: (world) => world.globexInvitation(),
    ghost: ghostInvitation,
    intact: async (world, target) => (await world.globexInvitationIds()).includes(target.id as string),
    expect: who({ hidden: ['owner', 'admin', 'invited', 'outsider', 'operator', 'otherAdmin'], forbidden: ['member'] }),
  },

  // API keys (worker/routes/console/keys.ts).
  { route: 'GET /console/orgs/:org/keys', does: "list the org's keys", ghost: (t) => t, expect: ADMINS },
  {
    route: 'POST /console/orgs/:org/keys',
    does: 'create a member key',
    form: (cell) => ({ name: `made${cell.n}`, role: 'member' }),
    expect: ADMINS,
    shows: (answer) => (answer.status === 201 && /lk_/.test(answer.html) ? null : 'no new secret on the answer'),
  },
  {
    route: 'POST /console/orgs/:org/keys',
    does: 'create an owner key',
    form: (cell) => ({ name: `made${cell.n}`, role: 'owner' }),
    // An admin may not hold (so may not make) an owner key: mayHoldKey, as on /v1.
    expect: who({ allowed: ['owner'], forbidden: ['admin', 'member'], hidden: STRANGERS }),
  },
  {
    route: 'POST /console/orgs/:org/keys/:id/rotate',
    does: 'rotate a member key (no grace)',
    target: (world) => world.newKey('member'),
    ghost: ghostKey,
    form: () => ({ grace_seconds: '0' }),
    intact: keyIntact,
    expect: ADMINS,
  },
  {
    route: 'POST /console/orgs/:org/keys/:id/rotate',
    does: 'rotate an owner key (no grace)',
    target: (world) => world.newKey('owner'),
    ghost: ghostKey,
    form: () => ({ grace_seconds: '0' }),
    intact: keyIntact,
    expect: who({ allowed: ['owner'], forbidden: ['admin', 'member'], hidden: STRANGERS }),
  },
  {
    route: 'POST /console/orgs/:org/keys/:id/revoke',
    does: 'revoke a member key',
    target: (world) => world.newKey('member'),
    ghost: ghostKey,
    intact: keyIntact,
    expect: ADMINS,
  },
  {
    route: 'POST /console/orgs/:org/keys/:id/revoke',
    does: 'revoke an owner key',
    target: (world) => world.newKey('owner'),
    ghost: ghostKey,
    intact: keyIntact,
    expect: who({ allowed: ['owner'], forbidden: ['admin', 'member'], hidden: STRANGERS }),
  },

  // Another tenant's key through acme's pages: no one reaches it, globex's own admin included.
  ...(['revoke', 'rotate'] as const).map(
    (action): Row => ({
      route: `POST /console/orgs/:org/keys/:id/${action}`,
      does: `${action} globex's key through acme's page`,
      target: (world) => world.globexKey(),
      ghost: ghostKey,
      form: (): Record<string, string> => (action === 'rotate' ? { grace_seconds: '0' } : {}),
      intact: keyIntact,
      expect: who({ hidden: ['owner', 'admin', 'invited', 'outsider', 'operator', 'otherAdmin'], forbidden: ['member'] }),
    }),
  ),

  // Audit (worker/routes/console/audit.ts).
  { route: 'GET /console/orgs/:org/audit', does: "read the org's audit trail", ghost: (t) => t, expect: ADMINS },

  {
    route: 'GET /assets/console.js',
    does: 'read the console script (a static file)',
    expect: who({ allowed: PRINCIPALS.slice() }),
  },
  {
    route: 'POST /console/signout',
    does: 'sign out this browser',
    freshBrowser: true,
    // Anyone signed in may end their own sign-in; signed out there is nothing to end.
    expect: who({ allowed: SIGNED_IN }),
    shows: (answer) => (answer.headers.get('location') === '/console' ? null : 'sign-out does not go back to /console'),
  },
];
