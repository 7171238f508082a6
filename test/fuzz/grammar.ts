/**
 * Generated requests for every endpoint (fast-check arbitraries): each endpoint's fields
 * come from the shared zod schema its route parses with, and each value from a grammar of
 * what real clients, scanners and attackers send: the right value, one of the live
 * credentials of the run, missing, repeated, oversized, of the wrong type, unicode
 * confusables, control characters, broken percent-encoding, deep JSON, and values shaped
 * to inject into headers, HTML or a prototype.
 */
import fc from 'fast-check';
import type { z } from 'zod';
import { OrgMfaRequest } from '../../shared/org-mfa.ts';
import {
  AuthorizeRequest,
  DeviceAuthorizationRequest,
  DomainClaimRequest,
  InvitationCreateRequest,
  KeyCreateRequest,
  KeyRotateRequest,
  MemberPutRequest,
  OrgCreateRequest,
  ProjectCreateRequest,
  SsoConnectionWrite,
  TokenLookupRequest,
  TokenRequest,
} from '../../shared/schemas.ts';

/** Live values of one run: a request that names them reaches past the first checks. */
export type Live = {
  org: string;
  /** Credentials of the org's owner: an access token, a refresh token, an API key. */
  access: string;
  refresh: string;
  apiKey: string;
  sessionId: string;
  keyId: string;
  /** A device code already approved, not yet redeemed: the first redemption may win, no second. */
  deviceCode: string;
};

export type Endpoint = {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** As the route declares it, `:name` segments filled per request. */
  route: string;
  body: 'form' | 'json' | 'none';
  fields: string[];
  /** Answers are HTML pages (browser routes), not JSON. */
  page?: boolean;
};

const keysOf = (schema: z.ZodType): string[] => {
  const options = (schema as unknown as { options?: z.ZodType[] }).options;
  if (options) return [...new Set(options.flatMap(keysOf))];
  return Object.keys((schema as unknown as { shape: Record<string, unknown> }).shape);
};

/** Every endpoint of worker/routes/ (the fuzz test checks the list against the router). */
export const ENDPOINTS: Endpoint[] = [
  { method: 'GET', route: '/healthz', body: 'none', fields: [] },
  { method: 'GET', route: '/.well-known/jwks.json', body: 'none', fields: [] },
  { method: 'GET', route: '/.well-known/oauth-authorization-server', body: 'none', fields: [] },
  { method: 'GET', route: '/.well-known/openid-configuration', body: 'none', fields: [] },
  { method: 'GET', route: '/assets/latchkey.css', body: 'none', fields: [] },
  { method: 'GET', route: '/assets/passkey.js', body: 'none', fields: [] },
  { method: 'POST', route: '/oauth/device_authorization', body: 'form', fields: keysOf(DeviceAuthorizationRequest) },
  { method: 'POST', route: '/oauth/token', body: 'form', fields: keysOf(TokenRequest) },
  { method: 'POST', route: '/oauth/revoke', body: 'form', fields: [...keysOf(TokenLookupRequest), 'client_id'] },
  { method: 'POST', route: '/oauth/introspect', body: 'form', fields: keysOf(TokenLookupRequest) },
  { method: 'GET', route: '/oauth/authorize', body: 'none', fields: keysOf(AuthorizeRequest), page: true },
  { method: 'POST', route: '/oauth/authorize/decision', body: 'form', fields: ['csrf', 'request', 'decision'], page: true },
  { method: 'GET', route: '/device', body: 'none', fields: ['user_code'], page: true },
  { method: 'POST', route: '/device/verify', body: 'form', fields: ['csrf', 'user_code'], page: true },
  { method: 'POST', route: '/device/decision', body: 'form', fields: ['csrf', 'user_code', 'decision'], page: true },
  { method: 'POST', route: '/signin', body: 'form', fields: ['csrf', 'email', 'return_to'], page: true },
  { method: 'GET', route: '/signin/callback', body: 'none', fields: ['code', 'state', 'error'], page: true },
  { method: 'GET', route: '/signin/two-step', body: 'none', fields: [], page: true },
  { method: 'POST', route: '/signin/two-step', body: 'form', fields: ['csrf', 'code', 'response'], page: true },
  { method: 'GET', route: '/v1/me', body: 'none', fields: [] },
  { method: 'POST', route: '/v1/orgs', body: 'json', fields: keysOf(OrgCreateRequest) },
  { method: 'GET', route: '/v1/orgs', body: 'none', fields: [] },
  { method: 'GET', route: '/v1/orgs/:org', body: 'none', fields: [] },
  { method: 'GET', route: '/v1/orgs/:org/mfa', body: 'none', fields: [] },
  { method: 'PUT', route: '/v1/orgs/:org/mfa', body: 'json', fields: keysOf(OrgMfaRequest) },
  { method: 'POST', route: '/v1/orgs/:org/projects', body: 'json', fields: keysOf(ProjectCreateRequest) },
  { method: 'PUT', route: '/v1/orgs/:org/members/:email', body: 'json', fields: keysOf(MemberPutRequest) },
  { method: 'DELETE', route: '/v1/orgs/:org/members/:email', body: 'none', fields: [] },
  { method: 'POST', route: '/v1/orgs/:org/keys', body: 'json', fields: keysOf(KeyCreateRequest) },
  { method: 'GET', route: '/v1/orgs/:org/keys', body: 'none', fields: [] },
  { method: 'POST', route: '/v1/orgs/:org/keys/:id/:action{revoke|rotate}', body: 'json', fields: keysOf(KeyRotateRequest) },
  { method: 'POST', route: '/v1/orgs/:org/invitations', body: 'json', fields: keysOf(InvitationCreateRequest) },
  { method: 'GET', route: '/v1/orgs/:org/invitations', body: 'none', fields: [] },
  { method: 'DELETE', route: '/v1/orgs/:org/invitations/:id', body: 'none', fields: [] },
  { method: 'POST', route: '/v1/orgs/:org/invitations/:id/resend', body: 'none', fields: [] },
  { method: 'GET', route: '/v1/invitations', body: 'none', fields: [] },
  { method: 'POST', route: '/v1/invitations/:id/:answer{accept|decline}', body: 'none', fields: [] },
  { method: 'GET', route: '/v1/sessions', body: 'none', fields: ['org', 'email'] },
  { method: 'POST', route: '/v1/sessions/:sid/revoke', body: 'none', fields: [] },
  { method: 'GET', route: '/v1/orgs/:org/sessions', body: 'none', fields: ['member'] },
  { method: 'POST', route: '/v1/orgs/:org/sessions/:sid/revoke', body: 'none', fields: [] },
  { method: 'GET', route: '/v1/orgs/:org/audit', body: 'none', fields: ['after', 'limit'] },
  { method: 'POST', route: '/v1/trust-policies/dry-run', body: 'form', fields: ['subject_token', 'audience'] },
  { method: 'GET', route: '/v1/orgs/:org/trust-policies', body: 'none', fields: [] },
  {
    method: 'POST',
    route: '/v1/orgs/:org/trust-policies',
    body: 'json',
    fields: ['id', 'issuer', 'audience', 'claims', 'grant'],
  },
  { method: 'POST', route: '/v1/orgs/:org/trust-policies/dry-run', body: 'form', fields: ['subject_token', 'audience'] },
  { method: 'DELETE', route: '/v1/orgs/:org/trust-policies/:id', body: 'none', fields: [] },
  { method: 'GET', route: '/v1/orgs/:org/domains', body: 'none', fields: [] },
  { method: 'POST', route: '/v1/orgs/:org/domains', body: 'json', fields: keysOf(DomainClaimRequest) },
  { method: 'POST', route: '/v1/orgs/:org/domains/:domain/verify', body: 'none', fields: [] },
  { method: 'DELETE', route: '/v1/orgs/:org/domains/:domain', body: 'none', fields: [] },
  { method: 'GET', route: '/v1/orgs/:org/sso', body: 'none', fields: [] },
  { method: 'PUT', route: '/v1/orgs/:org/sso', body: 'json', fields: keysOf(SsoConnectionWrite) },
  { method: 'DELETE', route: '/v1/orgs/:org/sso', body: 'none', fields: [] },
  { method: 'POST', route: '/v1/orgs/:org/sso/test', body: 'none', fields: [] },
  { method: 'GET', route: '/sso/callback', body: 'none', fields: ['code', 'state', 'error'], page: true },
];

export type Generated = {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
};

/** Text that has broken servers: confusables, controls, encodings, injections, sizes. */
const hostileText = (live: Live) =>
  fc.oneof(
    fc.constantFrom(
      '',
      ' ',
      'null',
      'undefined',
      '__proto__',
      'constructor',
      'toString',
      'lаtchkey-cli', // Cyrillic а
      'ｌａｔｃｈｋｅｙ', // fullwidth
      'latchkey-cli\u0000',
      'a\u202eb',
      '\u2028',
      '\ud800',
      '%00',
      '%zz',
      '%E2%80%AE',
      '%252e%252e%252f',
      '../../../etc/passwd',
      '<script>alert(1)</script>',
      '"><img src=x onerror=alert(1)>',
      'x\r\nSet-Cookie: a=b',
      '${jndi:ldap://x}',
      "' OR '1'='1",
      '-1',
      '1e309',
      '9007199254740993',
      'NaN',
      'read write admin',
      'openid offline_access',
      'acme',
      live.org,
      live.sessionId,
      live.keyId,
      `${live.access}x`,
      live.refresh.slice(0, -1),
      live.apiKey.toUpperCase(),
    ),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.integer({ min: 100, max: 20_000 }).map((size) => 'A'.repeat(size)),
  );

/** A field's value: mostly what a client would send, often something hostile. */
const fieldValue = (live: Live, field: string) => {
  const plausible: Record<string, string[]> = {
    client_id: ['latchkey-cli'],
    grant_type: [
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
      'authorization_code',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'password',
    ],
    refresh_token: [live.refresh],
    device_code: [live.deviceCode],
    token: [live.access, live.refresh, live.apiKey],
    subject_token: [live.access],
    subject_token_type: ['urn:ietf:params:oauth:token-type:access_token', 'urn:ietf:params:oauth:token-type:id_token'],
    scope: ['read', 'read write', 'admin'],
    slug: ['fuzz-new', live.org],
    role: ['member', 'admin', 'owner'],
    name: ['deploy'],
    email: ['fuzz@example.com'],
    domain: ['fuzz.example', 'Fuzz.Example.'],
    response_type: ['code'],
    code_challenge_method: ['S256', 'plain'],
    decision: ['approve', 'deny'],
  };
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...(plausible[field] ?? ['x'])) },
    { weight: 3, arbitrary: hostileText(live) },
  );
};

/**
 * A JSON value of the wrong kind, or nested past any sane depth, as JSON text (a value
 * 5,000 deep is text here: as an object, the generator's own cloning would recurse on it).
 */
const wrongJson = fc.oneof(
  fc.constantFrom('null', 'true', '0', '-1', '1.5', '1e400', '[]', '{}', '["a"]', '{"$ne":1}', '{"__proto__":{"admin":true}}'),
  fc.integer({ min: 200, max: 5000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 200, max: 5000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc.object({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
);

/** A path segment for `text`; a lone surrogate (which encodeURIComponent refuses) as the bytes of one, invalid UTF-8. */
const percentEncoded = (text: string) => {
  try {
    return encodeURIComponent(text);
  } catch {
    return `${encodeURIComponent(text.replace(/[\ud800-\udfff]/g, ''))}%ED%A0%80`;
  }
};

const segment = (live: Live, name: string) =>
  fc.oneof(
    fc.constantFrom(
      ...({ org: [live.org, 'acme'], sid: [live.sessionId], id: [live.keyId], email: ['fuzz@example.com'] }[name] ?? ['x']),
    ),
    hostileText(live).map((text) => percentEncoded(text).slice(0, 3000) || '%20'),
    fc.constantFrom('..', '%2e%2e', '%2F', '%00', '%', '%zz', '.', 'a%2Fb'),
  );

const credential = (live: Live) =>
  fc.oneof(
    fc.constant<string | null>(null),
    fc.constantFrom(
      `Bearer ${live.access}`,
      `Bearer ${live.apiKey}`,
      `bearer ${live.access}`,
      `Basic ${btoa(`x:${live.apiKey}`)}`,
    ),
    fc.stringMatching(/^[\x21-\x7e]{0,300}$/).map((text) => `Bearer ${text}`),
    fc.constantFrom('Bearer', 'Bearer ', `Bearer  ${live.access}`, `Bearer ${live.access}, Bearer ${live.apiKey}`),
  );

/** Form, JSON or query parameters: a subset of the fields, some repeated, some unknown. */
const mutated = (live: Live, endpoint: Endpoint) =>
  fc
    .tuple(
      fc
        .subarray(endpoint.fields)
        .chain((fields) => fc.tuple(...fields.map((field) => fieldValue(live, field).map((value) => [field, value] as const)))),
      fc.array(
        fc.tuple(
          fc.oneof(fc.constantFrom(...(endpoint.fields.length ? endpoint.fields : ['x'])), hostileText(live)),
          hostileText(live),
        ),
        {
          maxLength: 2,
        },
      ),
    )
    .map(([known, extra]) => [...known, ...extra] as [string, string][]);

/**
 * Well-formed requests an endpoint serves, from the run's live values: a share of every
 * run is one of these, as it is or with one hostile field added, so the fuzz reaches what
 * happens after the parser (a redemption, a second one) and not only its refusals.
 */
const WELL_FORMED: Record<string, (live: Live) => [string, string][][]> = {
  'POST /oauth/token': (live) => [
    [
      ['grant_type', 'refresh_token'],
      ['refresh_token', live.refresh],
      ['client_id', 'latchkey-cli'],
    ],
    [
      ['grant_type', 'urn:ietf:params:oauth:grant-type:device_code'],
      ['device_code', live.deviceCode],
      ['client_id', 'latchkey-cli'],
    ],
  ],
  'POST /oauth/introspect': (live) => [[['token', live.refresh]], [['token', live.apiKey]]],
  'POST /v1/orgs/:org/projects': () => [[['slug', 'fuzzed']]],
};

/** Form, JSON or query parameters: mostly mutated (a subset of the fields, some repeated, some unknown), a share well formed. */
const params = (live: Live, endpoint: Endpoint) => {
  const formed = WELL_FORMED[`${endpoint.method} ${endpoint.route}`]?.(live);
  if (!formed) return mutated(live, endpoint);
  const wellFormed = fc
    .tuple(fc.constantFrom(...formed), fc.option(fc.tuple(hostileText(live), hostileText(live)), { freq: 4 }))
    .map(([fields, extra]) => (extra === null ? [...fields] : [...fields, extra]));
  return fc.oneof({ weight: 3, arbitrary: mutated(live, endpoint) }, { weight: 1, arbitrary: wellFormed });
};

export function requestFor(live: Live, endpoint: Endpoint): fc.Arbitrary<Generated> {
  // `:name` segments get values; `:action{revoke|rotate}` one of its words.
  const names = [...endpoint.route.matchAll(/:(\w+)(?!\w|\{)/g)].map((match) => match[1] as string);
  const choice = /:\w+\{([^}]*)\}/.exec(endpoint.route)?.[1]?.split('|') ?? [''];
  const path = fc
    .tuple(fc.tuple(...names.map((name) => segment(live, name))), fc.constantFrom(...choice))
    .map(([values, word]) => {
      let filled = endpoint.route.replace(/:\w+\{[^}]*\}/, word);
      names.forEach((name, index) => {
        filled = filled.replace(`:${name}`, values[index] as string);
      });
      return filled;
    });
  const body = fc.oneof(
    { weight: 6, arbitrary: fc.constant(endpoint.body) },
    { weight: 1, arbitrary: fc.constantFrom<'form' | 'json' | 'garbage'>('form', 'json', 'garbage') },
  );
  return fc
    .record({
      path,
      parameters: params(live, endpoint),
      body,
      wrong: fc.option(wrongJson, { freq: 4 }),
      authorization: credential(live),
      contentType: fc.option(fc.constantFrom('text/plain', 'application/json; charset=utf-16', 'multipart/form-data', ''), {
        freq: 8,
      }),
      garbage: fc.uint8Array({ maxLength: 200 }),
    })
    .map(({ path: resolved, parameters, body: kind, wrong, authorization, contentType, garbage }) => {
      const headers: Record<string, string> = {};
      if (authorization !== null) headers.authorization = authorization;
      let path_ = resolved;
      let payload: string | undefined;
      const form = new URLSearchParams(parameters).toString();
      if (endpoint.method === 'GET' || endpoint.method === 'DELETE' || kind === 'none') {
        if (form) path_ += `?${form}`;
      } else if (kind === 'form') {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        payload = form;
      } else if (kind === 'json') {
        headers['content-type'] = 'application/json';
        const object = JSON.stringify(Object.fromEntries(parameters));
        if (wrong === null) payload = object;
        else if (parameters.length === 0) payload = wrong;
        // The first field's value replaced by the wrong one, as text.
        else payload = `{${JSON.stringify(parameters[0]?.[0])}:${wrong}${object.length > 2 ? `,${object.slice(1)}` : '}'}`;
      } else {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        payload = Buffer.from(garbage).toString('latin1');
      }
      if (contentType !== null && payload !== undefined) headers['content-type'] = contentType;
      return { method: endpoint.method, path: path_, headers, ...(payload === undefined ? {} : { body: payload }) };
    });
}
