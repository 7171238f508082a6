/**
 * Every route of the server and who may call it, across tenants: the table the
 * authorization matrix (authorization-matrix.test.ts) is generated from. Each row is one
 * request to one route, with the outcome each principal must get in its own org (acme)
 * and in another tenant's (globex). The matrix fails on a route of worker/routes/ that has
 * no row here (or is not excluded below with its reason), and on a row whose route is gone.
 *
 * Outcomes:
 * - `allowed`: 2xx (or, with a row's `judge`, what counts as success there);
 * - `forbidden`: 403 — the caller is in the org but lacks the role or reach;
 * - `hidden`: the caller learns nothing: the answer is exactly what the same request gets
 *   for an org (and target) that does not exist — 404 on the org API, `active: false` on
 *   introspection, the same `invalid_target` on the token endpoint;
 * - `unauthenticated`: 401, no (valid) credential;
 * - `refused`: any other 4xx (400, 404 of a thing that is not there, 409).
 */
import { type ApiAnswer, apiCall } from '../fixtures/api-call.ts';
import { octoRepoPolicy } from '../fixtures/ci-claims.ts';

export const PRINCIPALS = [
  'owner',
  'admin',
  'member',
  /** Invited to acme, not (yet) accepted. */
  'invited',
  /** Signed in, a member of no org. */
  'outsider',
  /** A person listed in LATCHKEY_OPERATORS (signed in for no org), a member of none. */
  'operator',
  /** An API key of acme for the whole org, role admin. */
  'orgKey',
  /** An API key of acme for project web only, role admin. */
  'projectKey',
  /** An API key of globex (the other tenant), role admin. */
  'otherKey',
  /** A CI token of acme's project web, exchanged under acme's trust policy. */
  'ci',
  /** The owner's access token narrowed (RFC 8693) to acme's project web. */
  'narrowed',
  /**
   * A person who is an admin of both acme and globex, signed in for acme (device flow with
   * `org=acme`): that sign-in acts in acme only. Unless a row names it, it gets what admin gets.
   */
  'boundAdmin',
  /** No credential at all. */
  'anonymous',
] as const;
export type Principal = (typeof PRINCIPALS)[number];

export const OUTCOMES = ['allowed', 'forbidden', 'hidden', 'unauthenticated', 'refused'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export type Expect = Record<Principal, Outcome>;

/** `own`: acme, the org of every principal but otherKey; `other`: globex, another tenant. */
export type Side = 'own' | 'other';

/** What a cell's request is built from: the org and projects of its side, and its fresh target. */
export type Cell = {
  side: Side;
  principal: Principal;
  /** Unique per cell (its ghost request shares it), for slugs and emails the request makes. */
  n: number;
  org: string;
  /** The side's project every row uses (web in both orgs: the same slug in two tenants). */
  project: string;
  /** Another project of the side's org (api in acme, vault in globex). */
  second: string;
  target: Target;
};

/** A fresh thing a row acts on: a key, a member, a policy, a session, an invitation. */
export type Target = Record<string, string>;

/** What the test gives the rows to build requests and targets with. */
export type World = {
  base: string;
  /** The fake CI issuer every org's policies trust. */
  ciIssuer: string;
  /** A number no other call gets, for fresh emails and ids. */
  unique(): number;
  org(side: Side): string;
  /** The credential of a principal (null: anonymous). */
  bearer(principal: Principal): string | null;
  /** An owner's access token of the side's org. */
  ownerOf(side: Side): string;
  /** A member's email of the side's org (neither an owner nor a principal of the matrix). */
  emailOf(side: Side): string;
  /** A CI runner's ID token (GitHub-shaped) for the side's org audience, not yet exchanged. */
  ciIdToken(side: Side): Promise<string>;
  newKey(side: Side, role: string, project?: string): Promise<Target>;
  /**
   * A CI token of the side's project web (`token`), exchanged under the side's policy from a
   * runner's token of another ref than the ci principal's: not its own by subject.
   */
  newCiToken(side: Side): Promise<Target>;
  /** A member of the side's org (by invitation and acceptance), with their access token. */
  newMember(side: Side, role: string): Promise<Target>;
  newPolicy(side: Side, project: string): Promise<Target>;
  /** A fresh member's sign-in; `forOrg`: established for the side's org. Gives sid, access, refresh. */
  newSession(side: Side, forOrg: boolean): Promise<Target>;
  /** A pending invitation of the side's org for a fresh email. */
  newInvitation(side: Side, role: string): Promise<Target>;
  /** Whether an API key (its secret) still works as a credential. */
  keyWorks(key: string): Promise<boolean>;
  /** Whether an access token still works as a credential. */
  tokenWorks(token: string): Promise<boolean>;
  /** The side org's record as its owner reads it. */
  readOrg(side: Side): Promise<{ members: Record<string, string>; projects: string[] }>;
  policyIds(side: Side): Promise<string[]>;
  removePolicy(side: Side, id: string): Promise<void>;
  invitationIds(side: Side): Promise<string[]>;
  /** A sign-in through the device flow, for a person (by principal) asking to sign in for `org`. */
  signInFor(principal: Principal, org: string): Promise<ApiAnswer>;
};

export type Row = {
  /** `METHOD path` exactly as the route registers it. */
  route: string;
  /** What the request does, for the cells' names. */
  does: string;
  /** 'both': once per side; 'none': nothing in it names an org, one column. */
  sides: 'both' | 'none';
  /** The request's path if not the route's; `:org`, `:n` and the target's fields are filled in. */
  path?: string;
  body?: (cell: Cell, world: World) => Record<string, unknown> | URLSearchParams | Promise<URLSearchParams>;
  /** A whole custom exchange instead of one request (a sign-in flow). */
  send?: (cell: Cell, world: World) => Promise<ApiAnswer>;
  /**
   * What the request acts on, made by the side's owner: a fresh one for each cell expected
   * to succeed; the others share one (see runCell in the test).
   */
  target?: (world: World, side: Side) => Promise<Target>;
  /** What stands in for the target on a request to an org (and target) that does not exist. */
  ghost?: (target: Target) => Target;
  /** Whether the target is as it was; checked after each cell: unchanged if refused, changed if allowed. */
  intact?: (world: World, side: Side, target: Target) => Promise<boolean>;
  /** Removes what an allowed cell made, where an org holds only so many (25 trust policies). */
  tidy?: (world: World, side: Side, target: Target, answer: ApiAnswer) => Promise<void>;
  /** Turns an answer into an outcome where the status alone does not tell (introspection). */
  judge?: (answer: ApiAnswer) => Outcome | null;
  /** A further check of an allowed answer (what a listing may show); a message if it fails. */
  shows?: (answer: ApiAnswer, cell: Cell) => string | null;
  /** In the own org. */
  expect: Expect;
  /**
   * In the other org: by default every principal is `hidden` but the other org's key (which
   * gets what the org key gets at home) and the anonymous caller; these override.
   */
  other?: Partial<Expect>;
  /**
   * Cells whose expectation the server does not meet yet and that are no security hole
   * (stricter than the design); run as todo, with the reason.
   */
  todo?: Partial<Record<Side, Partial<Record<Principal, string>>>>;
};

/**
 * Builds an expectation naming every principal once; `anonymous` is `unauthenticated` and
 * `boundAdmin` what `admin` gets unless named.
 */
export function who(spec: Partial<Record<Outcome, Principal[]>>): Expect {
  const expect: Partial<Expect> = {};
  for (const [outcome, principals] of Object.entries(spec) as [Outcome, Principal[]][]) {
    for (const principal of principals) {
      if (expect[principal]) throw new Error(`${principal} is named twice in an expectation`);
      expect[principal] = outcome;
    }
  }
  expect.anonymous ??= 'unauthenticated';
  if (expect.admin) expect.boundAdmin ??= expect.admin;
  const missing = PRINCIPALS.filter((principal) => !expect[principal]);
  if (missing.length > 0) throw new Error(`an expectation leaves out ${missing.join(', ')}`);
  return expect as Expect;
}

/** The expectation of a cell (see Row.other). */
export function expected(row: Row, side: Side, principal: Principal): Outcome {
  if (side === 'own') return row.expect[principal];
  const override = row.other?.[principal];
  if (override) return override;
  if (principal === 'otherKey') return row.expect.orgKey;
  if (principal === 'anonymous') return row.expect.anonymous;
  return 'hidden';
}

/** Every principal's outcome the same. */
const all = (outcome: Outcome, except: Partial<Expect> = {}): Expect => ({
  ...(Object.fromEntries(PRINCIPALS.map((principal) => [principal, outcome])) as Expect),
  ...except,
});

/** The operators' dry-run names no org: the same on both sides. */
const OPERATOR_ONLY = who({
  allowed: ['operator'],
  forbidden: ['owner', 'admin', 'member', 'invited', 'outsider', 'orgKey', 'projectKey', 'otherKey', 'ci', 'narrowed'],
});
/** Someone else's session: it does not exist, but to an operator; only a person has sessions. */
const ANOTHERS_SESSION = who({
  allowed: ['operator'],
  hidden: ['owner', 'admin', 'member', 'invited', 'outsider', 'narrowed'],
  forbidden: ['orgKey', 'projectKey', 'otherKey', 'ci'],
});

/** The people who are in no org (or not yet): nothing of acme is theirs. */
const STRANGERS: Principal[] = ['invited', 'outsider', 'operator', 'otherKey'];

/**
 * Browser pages: a web session cookie and a CSRF token authenticate them, never a Bearer
 * credential (a Bearer header is ignored). Their checks are in device-and-refresh,
 * authorization-code and the browser tests; the org a sign-in is for is in this table
 * through the device flow (POST /oauth/device_authorization).
 */
export const EXCLUDED: Record<string, string> = {
  'GET /device': 'verification page: cookie session + CSRF, no Bearer',
  'POST /device/verify': 'verification page form: cookie session + CSRF, no Bearer',
  'POST /device/decision': 'consent form: cookie session + CSRF, no Bearer',
  'GET /oauth/authorize': 'browser sign-in page: cookie session + CSRF, no Bearer',
  'POST /oauth/authorize/decision': 'consent form: cookie session + CSRF, no Bearer',
  'POST /signin': 'sign-in form: CSRF, no Bearer',
  'GET /signin/callback': 'upstream provider redirect: state bound to the browser, no Bearer',
  'GET /sso/callback': "an org's provider's redirect (a connection's test): single-use state, no Bearer",
  'GET /signin/two-step': 'second sign-in step page: a pending first step bound to the browser by cookie, no Bearer',
  'POST /signin/two-step': "second sign-in step form: CSRF + the pending first step's cookie, no Bearer",
  'GET /assets/latchkey.css': 'a static stylesheet',
  'GET /assets/passkey.js': 'a static script (the passkey ceremony of the two-step pages)',
};

const projectUri = (base: string, org: string, project: string) => `${base}/orgs/${org}/projects/${project}`;
const form = (params: Record<string, string>) => new URLSearchParams(params);
const items = (answer: ApiAnswer, field: string) => (answer.json[field] ?? []) as Record<string, unknown>[];

/** A listing a project-bound caller gets shows its project's part of the org only. */
const onlyProject = (field: string, project: (item: Record<string, unknown>) => unknown) => (answer: ApiAnswer, cell: Cell) => {
  if (cell.principal !== 'projectKey' && cell.principal !== 'narrowed') return null;
  const outside = items(answer, field).filter((item) => project(item) !== cell.project);
  return outside.length === 0 ? null : `a caller bound to project ${cell.project} was shown ${outside.length} ${field} of others`;
};

const keyIntact = (world: World, _side: Side, target: Target) => world.keyWorks(target.key as string);
const memberIs = (role: string | undefined) => async (world: World, side: Side, target: Target) =>
  (await world.readOrg(side)).members[target.email as string] === role;
const sessionIntact = (world: World, _side: Side, target: Target) => world.tokenWorks(target.access as string);
const ghostSession = (target: Target): Target => ({ ...target, sid: `ses_${'G'.repeat(20)}` });
const ghostInvitation = (target: Target): Target => ({ ...target, id: `inv_${'G'.repeat(20)}` });

/** Claiming, verifying and removing a domain: a person who is an owner or admin, never a key. */
const DOMAIN_WRITERS = who({
  allowed: ['owner', 'admin'],
  forbidden: ['member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
  hidden: STRANGERS,
});
const domainsPath = (world: World, side: Side) => `/v1/orgs/${world.org(side)}/domains`;
/** A domain the side's owner claimed (pending: nothing is published for it). */
async function claimedDomain(world: World, side: Side): Promise<Target> {
  const domain = `t${world.unique()}.${world.org(side)}.example`;
  const claimed = await apiCall(world.base, 'POST', domainsPath(world, side), world.ownerOf(side), { domain });
  if (claimed.status !== 201) throw new Error(`claiming ${domain}: ${claimed.status} ${claimed.text}`);
  return { domain };
}
async function domainsOf(world: World, side: Side): Promise<string[]> {
  const listed = await apiCall(world.base, 'GET', domainsPath(world, side), world.ownerOf(side));
  return ((listed.json.domains ?? []) as { domain: string }[]).map((entry) => entry.domain);
}
async function dropDomain(world: World, side: Side, domain: string): Promise<void> {
  await apiCall(world.base, 'DELETE', `${domainsPath(world, side)}/${domain}`, world.ownerOf(side));
}
/**
 * A verification that got past the role check to the DNS lookup: refused for want of the
 * record, or (no resolver reachable from the test) the resolver's 503 or 502.
 */
function lookedUp(answer: ApiAnswer): Outcome | null {
  if (answer.status === 502 || answer.status === 503) return 'allowed';
  const described = String(answer.json.error_description ?? '');
  return answer.status === 400 && /TXT record/.test(described) ? 'allowed' : null;
}

/**
 * An SSO call that got past the role check: to the org's missing connection, or (setting
 * one) to its issuer's discovery document, which the matrix's issuer does not fill in.
 */
function ssoReached(answer: ApiAnswer): Outcome | null {
  const described = String(answer.json.error_description ?? '');
  if (answer.status === 404 && /has no SSO connection/.test(described)) return 'allowed';
  return answer.status === 503 && /discovery document/.test(described) ? 'allowed' : null;
}

/** Key operations on keys of three kinds: org-wide member, project web member, owner. */
function keyRows(action: 'revoke' | 'rotate'): Row[] {
  const route = 'POST /v1/orgs/:org/keys/:id/:action{revoke|rotate}';
  const path = `/v1/orgs/:org/keys/:id/${action}`;
  const common = { route, path, sides: 'both' as const, intact: keyIntact, ...(action === 'rotate' ? { body: () => ({}) } : {}) };
  return [
    {
      ...common,
      does: `${action} an org-wide member key`,
      target: (world, side) => world.newKey(side, 'member'),
      expect: who({
        allowed: ['owner', 'admin', 'orgKey'],
        forbidden: ['member', 'projectKey', 'ci', 'narrowed'],
        hidden: STRANGERS,
      }),
    },
    {
      ...common,
      does: `${action} a member key of project web`,
      target: (world, side) => world.newKey(side, 'member', 'web'),
      expect: who({
        allowed: ['owner', 'admin', 'orgKey', 'projectKey'],
        // A narrowed token changes nothing: what it made or rotated would outlive it.
        forbidden: ['member', 'ci', 'narrowed'],
        hidden: STRANGERS,
      }),
    },
    {
      ...common,
      does: `${action} an owner key`,
      target: (world, side) => world.newKey(side, 'owner'),
      expect: who({
        allowed: ['owner'],
        forbidden: ['admin', 'member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
        hidden: STRANGERS,
      }),
    },
  ];
}

export const ROWS: Row[] = [
  // Public documents: the same for everyone, no credential needed.
  ...['/healthz', '/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/.well-known/jwks.json'].map(
    (path): Row => ({ route: `GET ${path}`, does: 'read a public document', sides: 'none', expect: all('allowed') }),
  ),

  {
    route: 'GET /v1/me',
    does: 'describe the presented credential',
    sides: 'none',
    expect: all('allowed', { anonymous: 'unauthenticated' }),
  },
  {
    route: 'GET /v1/orgs',
    does: "list the caller's orgs",
    sides: 'none',
    expect: who({
      allowed: ['owner', 'admin', 'member', 'invited', 'outsider', 'operator', 'orgKey', 'projectKey', 'otherKey', 'narrowed'],
      forbidden: ['ci'],
    }),
  },
  {
    route: 'POST /v1/orgs',
    does: 'create an org',
    sides: 'none',
    body: (cell) => ({ slug: `made-${cell.n}` }),
    expect: who({
      allowed: ['owner', 'admin', 'member', 'invited', 'outsider', 'operator'],
      // A token narrowed to one project reaches that project, and a sign-in established
      // for one org acts in that org: neither makes new orgs.
      forbidden: ['orgKey', 'projectKey', 'otherKey', 'ci', 'narrowed', 'boundAdmin'],
    }),
  },
  {
    route: 'GET /v1/orgs/:org',
    does: 'read the org',
    sides: 'both',
    expect: who({
      allowed: ['owner', 'admin', 'member', 'orgKey', 'projectKey', 'narrowed'],
      forbidden: ['ci'],
      hidden: STRANGERS,
    }),
  },
  // Whether the org requires two-step sign-in: members read it; its owner, as a person, sets it.
  {
    route: 'GET /v1/orgs/:org/mfa',
    does: 'read whether the org requires two-step sign-in',
    sides: 'both',
    expect: who({
      allowed: ['owner', 'admin', 'member', 'orgKey', 'projectKey', 'narrowed'],
      forbidden: ['ci'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'PUT /v1/orgs/:org/mfa',
    // Off, as it is: turning it on would refuse every person of the matrix without a second factor.
    does: 'say the org does not require two-step sign-in',
    sides: 'both',
    body: () => ({ required: false }),
    expect: who({
      allowed: ['owner'],
      forbidden: ['admin', 'member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'POST /v1/orgs/:org/projects',
    does: 'create a project',
    sides: 'both',
    body: (cell) => ({ slug: `p-${cell.n}` }),
    expect: who({
      allowed: ['owner', 'admin', 'orgKey'],
      forbidden: ['member', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },

  // Members: only existing members' roles change here; people join by invitation.
  {
    route: 'PUT /v1/orgs/:org/members/:email',
    does: 'make a member an admin',
    sides: 'both',
    target: (world, side) => world.newMember(side, 'member'),
    body: () => ({ role: 'admin' }),
    intact: memberIs('member'),
    expect: who({
      allowed: ['owner', 'admin'],
      forbidden: ['member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'PUT /v1/orgs/:org/members/:email',
    does: 'make a member an owner',
    sides: 'both',
    target: (world, side) => world.newMember(side, 'member'),
    body: () => ({ role: 'owner' }),
    intact: memberIs('member'),
    expect: who({
      allowed: ['owner'],
      forbidden: ['admin', 'member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'PUT /v1/orgs/:org/members/:email',
    does: 'add a person who was never invited',
    sides: 'both',
    target: async (world) => ({ email: `stranger${world.unique()}@example.com` }),
    body: () => ({ role: 'member' }),
    intact: memberIs(undefined),
    // Nothing makes a person a member but their own acceptance: not even the owner.
    expect: who({
      refused: ['owner', 'admin'],
      forbidden: ['member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'DELETE /v1/orgs/:org/members/:email',
    does: 'remove a member',
    sides: 'both',
    target: (world, side) => world.newMember(side, 'member'),
    intact: memberIs('member'),
    expect: who({
      allowed: ['owner', 'admin'],
      forbidden: ['member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'DELETE /v1/orgs/:org/members/:email',
    does: 'remove an owner',
    sides: 'both',
    target: (world, side) => world.newMember(side, 'owner'),
    intact: memberIs('owner'),
    expect: who({
      allowed: ['owner'],
      forbidden: ['admin', 'member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },

  // Invitations.
  {
    route: 'POST /v1/orgs/:org/invitations',
    does: 'invite a person as member',
    sides: 'both',
    body: (cell) => ({ email: `invitee-${cell.n}@example.com`, role: 'member' }),
    expect: who({
      allowed: ['owner', 'admin'],
      forbidden: ['member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'POST /v1/orgs/:org/invitations',
    does: 'invite a person as owner',
    sides: 'both',
    body: (cell) => ({ email: `invitee-${cell.n}@example.com`, role: 'owner' }),
    expect: who({
      allowed: ['owner'],
      forbidden: ['admin', 'member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'GET /v1/orgs/:org/invitations',
    does: "list the org's pending invitations",
    sides: 'both',
    expect: who({
      allowed: ['owner', 'admin', 'member', 'orgKey'],
      forbidden: ['projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'DELETE /v1/orgs/:org/invitations/:id',
    does: 'withdraw a pending invitation',
    sides: 'both',
    target: (world, side) => world.newInvitation(side, 'member'),
    intact: async (world, side, target) => (await world.invitationIds(side)).includes(target.id as string),
    expect: who({
      allowed: ['owner', 'admin'],
      forbidden: ['member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'POST /v1/orgs/:org/invitations/:id/resend',
    does: 'resend a pending invitation with a new expiry',
    sides: 'both',
    target: (world, side) => world.newInvitation(side, 'member'),
    expect: who({
      allowed: ['owner', 'admin'],
      forbidden: ['member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'GET /v1/invitations',
    does: "list the caller's own invitations",
    sides: 'none',
    shows: (answer, cell) => {
      const orgs = items(answer, 'invitations').map((item) => item.org);
      const want = cell.principal === 'invited' ? ['acme'] : [];
      return JSON.stringify(orgs) === JSON.stringify(want) ? null : `shown invitations of ${JSON.stringify(orgs)}`;
    },
    expect: who({
      allowed: ['owner', 'admin', 'member', 'invited', 'outsider', 'operator'],
      // A sign-in for one org neither sees nor answers invitations to others.
      forbidden: ['orgKey', 'projectKey', 'otherKey', 'ci', 'narrowed', 'boundAdmin'],
    }),
  },
  ...(['accept', 'decline'] as const).map(
    (answer): Row => ({
      route: 'POST /v1/invitations/:id/:answer{accept|decline}',
      does: `${answer} someone else's invitation`,
      path: `/v1/invitations/:id/${answer}`,
      sides: 'both',
      target: (world, side) => world.newInvitation(side, 'admin'),
      ghost: ghostInvitation,
      intact: async (world, side, target) => (await world.invitationIds(side)).includes(target.id as string),
      // Only the invited email answers an invitation; to anyone else it does not exist.
      expect: who({
        hidden: ['owner', 'admin', 'member', 'invited', 'outsider', 'operator'],
        forbidden: ['orgKey', 'projectKey', 'otherKey', 'ci', 'narrowed'],
      }),
    }),
  ),

  // API keys.
  {
    route: 'POST /v1/orgs/:org/keys',
    does: 'create an org-wide member key',
    sides: 'both',
    body: () => ({ name: 'matrix', role: 'member' }),
    expect: who({
      allowed: ['owner', 'admin', 'orgKey'],
      forbidden: ['member', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'POST /v1/orgs/:org/keys',
    does: 'create a member key of project web',
    sides: 'both',
    body: () => ({ name: 'matrix', role: 'member', project: 'web' }),
    expect: who({
      allowed: ['owner', 'admin', 'orgKey', 'projectKey'],
      // A key made by a narrowed token would outlive it and its revocation.
      forbidden: ['member', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'POST /v1/orgs/:org/keys',
    does: 'create an owner key',
    sides: 'both',
    body: () => ({ name: 'matrix', role: 'owner' }),
    expect: who({
      allowed: ['owner'],
      forbidden: ['admin', 'member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'GET /v1/orgs/:org/keys',
    does: "list the org's keys",
    sides: 'both',
    shows: onlyProject('keys', (key) => key.project),
    expect: who({
      allowed: ['owner', 'admin', 'orgKey', 'projectKey', 'narrowed'],
      forbidden: ['member', 'ci'],
      hidden: STRANGERS,
    }),
  },
  ...keyRows('revoke'),
  ...keyRows('rotate'),

  // Trust policies.
  {
    route: 'GET /v1/orgs/:org/trust-policies',
    does: "list the org's trust policies",
    sides: 'both',
    shows: onlyProject('policies', (policy) => (policy.grant as { project?: string } | undefined)?.project),
    expect: who({
      allowed: ['owner', 'admin', 'member', 'orgKey', 'projectKey', 'narrowed'],
      forbidden: ['ci'],
      hidden: STRANGERS,
    }),
  },
  ...(['web', 'second'] as const).map(
    (which): Row => ({
      route: 'POST /v1/orgs/:org/trust-policies',
      does: `create a trust policy for ${which === 'web' ? 'project web' : 'another project'}`,
      sides: 'both',
      body: (cell, world) => ciPolicy(world, cell.org, `m-${cell.n}`, which === 'web' ? cell.project : cell.second),
      tidy: async (world, side, _target, answer) => {
        if (answer.status < 300) await world.removePolicy(side, String(answer.json.id));
      },
      expect: who({
        allowed: ['owner', 'admin', 'orgKey', ...(which === 'web' ? (['projectKey'] as const) : [])],
        // A narrowed token changes nothing, not even its own project's policies.
        forbidden: ['member', 'ci', 'narrowed', ...(which === 'web' ? [] : (['projectKey'] as const))],
        hidden: STRANGERS,
      }),
    }),
  ),
  {
    route: 'POST /v1/orgs/:org/trust-policies/dry-run',
    does: "try a CI token against the org's policies for project web",
    sides: 'both',
    body: async (cell, world) => form({ subject_token: await world.ciIdToken(cell.side), audience: cell.project }),
    expect: who({
      allowed: ['owner', 'admin', 'member', 'orgKey', 'projectKey', 'narrowed'],
      forbidden: ['ci'],
      hidden: STRANGERS,
    }),
  },
  ...(['web', 'second'] as const).map(
    (which): Row => ({
      route: 'DELETE /v1/orgs/:org/trust-policies/:id',
      does: `delete a trust policy for ${which === 'web' ? 'project web' : 'another project'}`,
      sides: 'both',
      target: (world, side) => world.newPolicy(side, which === 'web' ? 'web' : side === 'own' ? 'api' : 'vault'),
      intact: async (world, side, target) => (await world.policyIds(side)).includes(target.id as string),
      expect: who({
        allowed: ['owner', 'admin', 'orgKey', ...(which === 'web' ? (['projectKey'] as const) : [])],
        // A narrowed token changes nothing, not even its own project's policies.
        forbidden: ['member', 'ci', 'narrowed', ...(which === 'web' ? [] : (['projectKey'] as const))],
        hidden: STRANGERS,
      }),
    }),
  ),
  {
    route: 'POST /v1/trust-policies/dry-run',
    does: "try a CI token against every policy on the server (operators')",
    sides: 'both',
    body: async (cell, world) => form({ subject_token: await world.ciIdToken(cell.side) }),
    expect: OPERATOR_ONLY,
    other: OPERATOR_ONLY,
  },

  // Email domains: an org's owners and admins claim, prove and remove them; its keys only list them.
  {
    route: 'GET /v1/orgs/:org/domains',
    does: "list the org's domains",
    sides: 'both',
    expect: who({
      allowed: ['owner', 'admin', 'orgKey'],
      forbidden: ['member', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'POST /v1/orgs/:org/domains',
    does: 'claim a domain',
    sides: 'both',
    body: (cell) => ({ domain: `d${cell.n}.${cell.org}.example` }),
    tidy: async (world, side, _target, answer) => {
      if (answer.status < 300) await dropDomain(world, side, String(answer.json.domain));
    },
    expect: DOMAIN_WRITERS,
  },
  {
    route: 'POST /v1/orgs/:org/domains/:domain/verify',
    does: 'verify a claimed domain (its TXT record was never published)',
    sides: 'both',
    target: claimedDomain,
    judge: lookedUp,
    expect: DOMAIN_WRITERS,
  },
  {
    route: 'DELETE /v1/orgs/:org/domains/:domain',
    does: 'remove a claimed domain',
    sides: 'both',
    target: claimedDomain,
    intact: async (world, side, target) => (await domainsOf(world, side)).includes(target.domain as string),
    expect: DOMAIN_WRITERS,
  },

  // An org's SSO connection: its owners and admins, as people, read, test, switch and remove it (only an owner names
  // its provider); its keys only read it.
  // No connection exists in the matrix (none can: its issuer would have to serve a full
  // discovery document); a cell that got past the role check to "no connection", or to the
  // issuer's discovery, is allowed.
  {
    route: 'GET /v1/orgs/:org/sso',
    does: "read the org's SSO connection",
    sides: 'both',
    judge: ssoReached,
    expect: who({
      allowed: ['owner', 'admin', 'orgKey'],
      forbidden: ['member', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'PUT /v1/orgs/:org/sso',
    does: "set the org's SSO connection (its issuer publishes no usable discovery document)",
    sides: 'both',
    body: (_cell, world) => ({ issuer: world.ciIssuer, client_id: 'matrix', client_secret: 'matrix-secret' }),
    judge: ssoReached,
    // Naming the provider (a new issuer or client id) is the owner's alone.
    expect: who({
      allowed: ['owner'],
      forbidden: ['admin', 'member', 'orgKey', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'POST /v1/orgs/:org/sso/test',
    does: "start a test sign-in of the org's SSO connection",
    sides: 'both',
    judge: ssoReached,
    expect: DOMAIN_WRITERS,
  },
  {
    route: 'DELETE /v1/orgs/:org/sso',
    does: "remove the org's SSO connection",
    sides: 'both',
    judge: ssoReached,
    expect: DOMAIN_WRITERS,
  },

  // Audit.
  {
    route: 'GET /v1/orgs/:org/audit',
    does: "read the org's audit trail",
    sides: 'both',
    expect: who({
      allowed: ['owner', 'admin', 'orgKey'],
      forbidden: ['member', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },

  // Sessions.
  {
    route: 'GET /v1/sessions',
    does: "list the caller's own sessions",
    sides: 'none',
    expect: who({
      allowed: ['owner', 'admin', 'member', 'invited', 'outsider', 'operator'],
      // A token narrowed to a project does not reach the person's sign-ins everywhere.
      forbidden: ['orgKey', 'projectKey', 'otherKey', 'ci', 'narrowed'],
    }),
  },
  {
    route: 'GET /v1/sessions',
    does: "list another person's sessions (?email=, operators')",
    sides: 'both',
    path: '/v1/sessions?email=:email',
    target: async (world, side) => ({ email: world.emailOf(side) }),
    expect: OPERATOR_ONLY,
    other: OPERATOR_ONLY,
  },
  {
    route: 'POST /v1/sessions/:sid/revoke',
    does: "end another person's session (established for the org)",
    sides: 'both',
    target: (world, side) => world.newSession(side, true),
    ghost: ghostSession,
    intact: sessionIntact,
    expect: ANOTHERS_SESSION,
    other: ANOTHERS_SESSION,
  },
  {
    route: 'GET /v1/orgs/:org/sessions',
    does: 'list the sessions established for the org',
    sides: 'both',
    shows: (answer, cell) => {
      const foreign = items(answer, 'sessions').filter((session) => session.org !== cell.org);
      return foreign.length === 0 ? null : `shown ${foreign.length} session(s) not established for ${cell.org}`;
    },
    expect: who({
      allowed: ['owner', 'admin', 'orgKey'],
      forbidden: ['member', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'POST /v1/orgs/:org/sessions/:sid/revoke',
    does: "end a member's session established for the org",
    sides: 'both',
    target: (world, side) => world.newSession(side, true),
    ghost: ghostSession,
    intact: sessionIntact,
    expect: who({
      allowed: ['owner', 'admin', 'orgKey'],
      forbidden: ['member', 'projectKey', 'ci', 'narrowed'],
      hidden: STRANGERS,
    }),
  },
  {
    route: 'POST /v1/orgs/:org/sessions/:sid/revoke',
    does: "end a member's session not established for the org",
    sides: 'both',
    target: (world, side) => world.newSession(side, false),
    ghost: ghostSession,
    intact: sessionIntact,
    // The org's power reaches only what was established for it: to its admins that
    // session does not exist.
    expect: who({
      hidden: ['owner', 'admin', 'orgKey', 'narrowed', ...STRANGERS],
      forbidden: ['member', 'projectKey', 'ci'],
    }),
  },

  // OAuth endpoints: what a credential of one tenant can learn or do about another's.
  {
    route: 'POST /oauth/device_authorization',
    does: 'sign in (device flow) for the org',
    sides: 'both',
    send: (cell, world) => world.signInFor(cell.principal, cell.org),
    // Only a member signs in for an org; a key, a CI token or nobody has no person to sign in.
    expect: who({
      allowed: ['owner', 'admin', 'member'],
      hidden: ['invited', 'outsider', 'operator'],
      refused: ['orgKey', 'projectKey', 'otherKey', 'ci', 'narrowed', 'anonymous'],
    }),
    other: {
      // A person signs in for any org they are in, whatever their other sign-ins are for.
      boundAdmin: 'allowed',
      otherKey: 'refused',
      orgKey: 'refused',
      projectKey: 'refused',
      ci: 'refused',
      narrowed: 'refused',
      anonymous: 'refused',
    },
  },
  {
    route: 'POST /oauth/token',
    does: "narrow the credential to the org's project web (named by URI)",
    sides: 'both',
    path: '/oauth/token',
    body: (cell, world) => narrowing(cell, world, projectUri(world.base, cell.org, cell.project)),
    expect: who({
      allowed: ['owner', 'admin', 'member', 'ci', 'narrowed'],
      hidden: ['invited', 'outsider', 'operator'],
      refused: ['orgKey', 'projectKey', 'otherKey', 'anonymous'],
    }),
    other: { otherKey: 'refused', anonymous: 'refused' },
  },
  {
    route: 'POST /oauth/token',
    does: "narrow the credential to the org's other project (named by slug)",
    sides: 'both',
    path: '/oauth/token',
    body: (cell, world) => narrowing(cell, world, cell.second),
    expect: who({
      allowed: ['owner', 'admin', 'member'],
      // ci and narrowed are bound to project web.
      refused: ['ci', 'narrowed', 'orgKey', 'projectKey', 'otherKey', 'anonymous'],
      hidden: ['invited', 'outsider', 'operator'],
    }),
    other: { otherKey: 'refused', anonymous: 'refused', ci: 'refused', narrowed: 'refused' },
  },
  {
    route: 'POST /oauth/token',
    does: 'pass the credential off as a CI ID token for the org',
    sides: 'both',
    path: '/oauth/token',
    body: (cell, world) =>
      form({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: world.bearer(cell.principal) ?? 'none',
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        audience: projectUri(world.base, cell.org, cell.project),
      }),
    expect: all('refused'),
    other: all('refused'),
  },
  // DESIGN: the caller learns about its own tokens or, as one who may read the org's keys
  // (an admin or above; a project key or a narrowed token within its project), its org's.
  {
    route: 'POST /oauth/introspect',
    does: 'introspect a member key of the org (org-wide)',
    sides: 'both',
    target: (world, side) => world.newKey(side, 'member'),
    body: (cell) => form({ token: cell.target.key as string }),
    ghost: (target) => ({ ...target, key: `${(target.key as string).slice(0, -8)}GGGGGGGG` }),
    judge: activeOrNot,
    expect: who({
      allowed: ['owner', 'admin', 'orgKey'],
      hidden: ['member', 'invited', 'outsider', 'operator', 'otherKey', 'projectKey', 'ci', 'narrowed'],
    }),
  },
  {
    route: 'POST /oauth/introspect',
    does: "introspect a CI token of the org's project web",
    sides: 'both',
    target: (world, side) => world.newCiToken(side),
    body: (cell) => form({ token: cell.target.token as string }),
    ghost: ghostJwt('token'),
    judge: activeOrNot,
    expect: who({
      allowed: ['owner', 'admin', 'orgKey', 'projectKey', 'narrowed'],
      // ci: another run's token (another ref), and a CI token has no role in the org.
      hidden: ['member', 'invited', 'outsider', 'operator', 'otherKey', 'ci'],
    }),
  },
  {
    route: 'POST /oauth/introspect',
    does: "introspect a member's refresh token (session established for the org)",
    sides: 'both',
    target: (world, side) => world.newSession(side, true),
    body: (cell) => form({ token: cell.target.refresh as string }),
    ghost: (target) => ({ ...target, refresh: `lk_rt_${'G'.repeat(43)}` }),
    judge: activeOrNot,
    // The session is the org's as a whole: no project key's or narrowed token's.
    expect: who({
      allowed: ['owner', 'admin', 'orgKey'],
      hidden: ['member', 'invited', 'outsider', 'operator', 'otherKey', 'projectKey', 'ci', 'narrowed'],
    }),
  },
  {
    route: 'POST /oauth/introspect',
    does: "introspect a member's access token (session established for the org)",
    sides: 'both',
    target: (world, side) => world.newSession(side, true),
    body: (cell) => form({ token: cell.target.access as string }),
    ghost: ghostJwt('access'),
    judge: activeOrNot,
    expect: who({
      allowed: ['owner', 'admin', 'orgKey'],
      hidden: ['member', 'invited', 'outsider', 'operator', 'otherKey', 'projectKey', 'ci', 'narrowed'],
    }),
  },
  {
    route: 'POST /oauth/introspect',
    does: "introspect a member's access token (their own sign-in, for no org)",
    sides: 'both',
    target: (world, side) => world.newSession(side, false),
    body: (cell) => form({ token: cell.target.access as string }),
    ghost: ghostJwt('access'),
    judge: activeOrNot,
    // DESIGN Tenancy: what a person did for no org is no org's business.
    expect: who({ hidden: PRINCIPALS.filter((principal) => principal !== 'anonymous') }),
  },
  {
    route: 'POST /oauth/revoke',
    does: 'revoke a key of the org by its id (not its secret)',
    sides: 'both',
    target: (world, side) => world.newKey(side, 'member'),
    body: (cell) => form({ token: cell.target.id as string }),
    ghost: (target) => ({ ...target, id: `key_${'G'.repeat(20)}` }),
    intact: keyIntact,
    judge: (answer) => (answer.status === 200 ? 'hidden' : null),
    // RFC 7009: 200 whatever the token was; only holding a token is the right to revoke it.
    expect: all('hidden'),
    other: all('hidden'),
  },
  {
    route: 'POST /oauth/revoke',
    does: "revoke a member's session by its id (not a token)",
    sides: 'both',
    target: (world, side) => world.newSession(side, true),
    body: (cell) => form({ token: cell.target.sid as string }),
    ghost: ghostSession,
    intact: sessionIntact,
    judge: (answer) => (answer.status === 200 ? 'hidden' : null),
    expect: all('hidden'),
    other: all('hidden'),
  },
];

/** RFC 8693 down-scoping of the principal's own credential. */
function narrowing(cell: Cell, world: World, audience: string) {
  return form({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: world.bearer(cell.principal) ?? 'none',
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    audience,
    scope: 'read',
  });
}

/** An access token of the target's `field` with its signature spoiled: a token of no one. */
function ghostJwt(field: string) {
  return (target: Target): Target => ({ ...target, [field]: `${target[field]?.slice(0, -8)}GGGGGGGG` });
}

/** Introspection answers 200 either way: active is `allowed`, inactive is `hidden`. */
function activeOrNot(answer: ApiAnswer): Outcome | null {
  if (answer.status !== 200) return null;
  return answer.json.active === true ? 'allowed' : 'hidden';
}

/** A GitHub Actions policy of the org, pinned to the example repository's immutable ids, for one project. */
export function ciPolicy(world: World, org: string, id: string, project: string) {
  return octoRepoPolicy(world.ciIssuer, `${world.base}/orgs/${org}`, { id, grant: { project, scopes: ['read'] } });
}
