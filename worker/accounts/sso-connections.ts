/**
 * An org's SSO connection: any OpenID provider by issuer, client id and client secret, one
 * per org (`sso:<org>`). The secret is sealed at rest, bound to the org and the connection
 * id (tokens/sealed.ts), and shown to nobody again. A connection is enabled only after a
 * test sign-in through it worked (accounts/sso-sign-in.ts records `testedAt`), and
 * enforced only while enabled. A new issuer or client id is a new provider: its test is
 * gone, and with it enabled and enforced.
 *
 * Who may: an org's owners and admins, as people; API keys may read it. The same people
 * and the same rule as the org's verified domains (`domains:*`), and for the same reason:
 * the connection decides whose sign-ins the org's provider takes for those domains.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { type SsoConnectionInfo, SsoConnectionWrite, SsoJitRole } from '../../shared/schemas.ts';
import { parseInput } from '../http/form.ts';
import { discoverProvider, type OidcClient } from '../identity/oidc.ts';
import { tenantUrl } from '../identity/tenant-url.ts';
import { authorize, type Permission, type Principal } from '../policy/roles.ts';
import type { Services } from '../services.ts';
import { readRecord, updateRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { generateId } from '../tokens/opaque.ts';
import { openSecret, sealSecret } from '../tokens/sealed.ts';
import { type AuditEvent, type AuditSource, appendAudit } from './audit.ts';
import { type OrgRecord, readOrg } from './orgs.ts';

const StoredConnection = z.object({
  /** `sso_…`, new whenever the issuer, client id or secret changes: the seal and a test sign-in are bound to it. */
  id: z.string(),
  issuer: z.string(),
  clientId: z.string(),
  sealedSecret: z.string(),
  enabled: z.boolean(),
  enforced: z.boolean(),
  testedAt: z.number().nullable(),
  testedBy: z.string().nullable(),
  /** Just-in-time membership's role (accounts/sso-membership.ts); null: off. Records from before: off. */
  jitRole: SsoJitRole.nullable().default(null),
  createdAt: z.number(),
  createdBy: z.string(),
  updatedAt: z.number(),
});
export type StoredConnection = z.infer<typeof StoredConnection>;

/** A connection as the rest of the server reads it: everything but the sealed secret. */
export type SsoConnection = Omit<StoredConnection, 'sealedSecret'>;

/** Kept as long as the org (ten years); the store needs some TTL. */
const CONNECTION_TTL_SECONDS = 10 * 365 * 86400;

export const ENFORCE_NEEDS_ENABLED = 'Cannot enforce SSO when SSO is not enabled';

const connectionKey = (org: string) => storeKey('ssoConnection', org);
/** What the seal of a connection's secret is bound to. */
const sealOwner = (org: string, id: string) => [org, id] as const;

/** Where an org's provider sends people back; registered with the provider as the client's redirect URI. */
export const ssoCallbackUri = (services: Services) => `${services.config.base}/sso/callback`;

const view = (services: Services, stored: StoredConnection): SsoConnectionInfo => ({
  issuer: stored.issuer,
  client_id: stored.clientId,
  enabled: stored.enabled,
  enforced: stored.enforced,
  jit_role: stored.jitRole,
  tested_at: stored.testedAt === null ? null : Math.floor(stored.testedAt / 1000),
  tested_by: stored.testedBy,
  created_at: Math.floor(stored.createdAt / 1000),
  created_by: stored.createdBy,
  updated_at: Math.floor(stored.updatedAt / 1000),
  redirect_uri: ssoCallbackUri(services),
});

async function orgFor(services: Services, principal: Principal, slug: string, permission: Permission): Promise<OrgRecord> {
  const org = await readOrg(services, slug);
  authorize(org, principal, permission);
  return org;
}

const readStored = (services: Services, org: string) => readRecord(services.store, connectionKey(org), StoredConnection);

const noConnection = (org: string) =>
  new OAuthError('not_found', `org "${org}" has no SSO connection; set one with PUT /v1/orgs/${org}/sso`);

/** The org's connection, secret left out; null when it has none. For sign-in (accounts/sso-realm.ts: discovery, enforcement). */
export async function ssoConnectionOf(services: Services, org: string): Promise<SsoConnection | null> {
  const stored = (await readStored(services, org))?.value;
  if (!stored) return null;
  const { sealedSecret: _, ...connection } = stored;
  return connection;
}

/**
 * The OpenID client of a connection, its secret opened: only for talking to its provider,
 * never to show. The connection must be the one read (by id): a secret sealed under another
 * does not open.
 */
export async function ssoClientOf(services: Services, org: string, connectionId: string): Promise<OidcClient> {
  const stored = (await readStored(services, org))?.value;
  if (!stored || stored.id !== connectionId) {
    throw new OAuthError('conflict', `org "${org}"'s SSO connection changed since this sign-in began; start again`);
  }
  const secret = await openSecret(services.hasher, 'sso-client-secret', sealOwner(org, stored.id), stored.sealedSecret);
  if (secret === null) {
    // Sealed under another hash secret (LATCHKEY_HASH_SECRET changed), or not this record's.
    throw new OAuthError(
      'temporarily_unavailable',
      `org "${org}"'s SSO client secret cannot be opened here; an admin must set it again`,
    );
  }
  return { issuer: stored.issuer, clientId: stored.clientId, clientSecret: secret, emailsVerified: false, tenant: true };
}

/** The org and its connection (null: none yet), for those who may read it: the console's page. */
export async function readConnection(
  services: Services,
  principal: Principal,
  slug: string,
): Promise<{ org: OrgRecord; connection: SsoConnectionInfo | null }> {
  const org = await orgFor(services, principal, slug, 'domains:read');
  const stored = (await readStored(services, org.slug))?.value;
  return { org, connection: stored ? view(services, stored) : null };
}

/** `GET /v1/orgs/{org}/sso`. */
export async function showConnection(services: Services, principal: Principal, slug: string): Promise<SsoConnectionInfo> {
  const { org, connection } = await readConnection(services, principal, slug);
  if (!connection) throw noConnection(org.slug);
  return connection;
}

/**
 * `PUT /v1/orgs/{org}/sso`: makes or changes the connection. A new issuer is checked before
 * anything is written: its discovery document must name exactly it, with endpoints an org
 * may have the server use. Enabling wants a test sign-in that worked for this issuer and
 * client id; enforcing wants the connection enabled.
 */
export async function writeConnection(
  services: Services,
  principal: Principal,
  slug: string,
  body: () => Promise<unknown>,
  source: AuditSource,
): Promise<{ created: boolean; connection: SsoConnectionInfo }> {
  const org = await readOrg(services, slug);
  const role = authorize(org, principal, 'domains:write');
  const write = parseInput(SsoConnectionWrite, await body());
  const issuerUrl = tenantUrl(write.issuer, services.config.loopback, 'issuer');
  if (issuerUrl.search || issuerUrl.hash) throw new OAuthError('invalid_request', 'issuer has no query or fragment');

  const before = (await readStored(services, org.slug))?.value ?? null;
  const newProvider = (current: StoredConnection | null) =>
    current === null || current.issuer !== write.issuer || current.clientId !== write.client_id;
  const checkedNew = newProvider(before);
  // Whoever names the provider decides who every address in the org's domains is, in every
  // org those people are in (memberships are by email): the owner's say, as the org's other
  // powers over people are; an admin may still test, switch and re-key the owner's provider.
  if (checkedNew && role !== 'owner')
    throw new OAuthError(
      'forbidden',
      `lacks owner: only an owner of org "${org.slug}" names its identity provider (the issuer and client id)`,
    );
  if (checkedNew && write.client_secret === undefined) {
    // The secret kept would go to a provider it was never given for.
    throw new OAuthError(
      'invalid_request',
      before === null
        ? 'client_secret is required to make a connection'
        : 'client_secret is required when the issuer or client id changes (the old one is never sent to another provider)',
    );
  }
  if (before?.issuer !== write.issuer) {
    await discoverProvider(services, {
      issuer: write.issuer,
      clientId: write.client_id,
      clientSecret: undefined,
      emailsVerified: false,
      tenant: true,
    });
  }

  const id = generateId('sso_');
  const sealed =
    write.client_secret === undefined
      ? null
      : await sealSecret(services.hasher, 'sso-client-secret', sealOwner(org.slug, id), write.client_secret);
  const now = services.now();
  let previous: StoredConnection | null = null;
  const next = await updateRecord(
    services.store,
    connectionKey(org.slug),
    StoredConnection.nullable(),
    { ifAbsent: () => null, ttlSeconds: CONNECTION_TTL_SECONDS, what: "org's SSO connection" },
    (current) => {
      previous = current;
      const fresh = newProvider(current);
      // Another write changed the provider since it was checked: this one's checks no longer hold.
      if (fresh !== checkedNew || (current?.issuer ?? null) !== (before?.issuer ?? null))
        throw new OAuthError('conflict', `org "${org.slug}"'s SSO connection changed meanwhile; retry`);
      const testedAt = fresh || !current ? null : current.testedAt;
      const enabled = write.enabled ?? (fresh || !current ? false : current.enabled);
      if (enabled && testedAt === null) {
        throw new OAuthError(
          'conflict',
          'Cannot enable SSO before a test sign-in through this connection has worked: start one with POST /v1/orgs/{org}/sso/test (latchkey sso test) and sign in at the provider',
        );
      }
      // Turning SSO off turns its requirement off with it, unless the write asks for both.
      const enforced = write.enforced ?? (fresh || !current ? false : current.enforced && enabled);
      if (enforced && !enabled) throw new OAuthError('conflict', ENFORCE_NEEDS_ENABLED);
      const jitRole = write.jit_role === undefined ? (current?.jitRole ?? null) : write.jit_role;
      const unchanged = current !== null && !fresh && sealed === null && current.jitRole === jitRole;
      return {
        id: sealed === null && current ? current.id : id,
        issuer: write.issuer,
        clientId: write.client_id,
        sealedSecret: sealed ?? (current?.sealedSecret as string),
        enabled,
        enforced,
        testedAt,
        testedBy: testedAt === null ? null : (current?.testedBy ?? null),
        jitRole,
        createdAt: current?.createdAt ?? now,
        createdBy: current?.createdBy ?? source.actor,
        updatedAt: unchanged && current.enabled === enabled && current.enforced === enforced ? current.updatedAt : now,
      };
    },
  );
  if (next === null) throw new Error('a connection write wrote none');
  for (const event of changes(previous, next)) await appendAudit(services, org.slug, source, event);
  return { created: previous === null, connection: view(services, next) };
}

/** What a write changed, as audit events: never the secret, only that it was replaced. */
function changes(before: StoredConnection | null, after: StoredConnection): AuditEvent[] {
  const subject = after.issuer;
  const events: AuditEvent[] = [];
  if (before === null) {
    events.push({ action: 'sso.connection_created', subject, detail: `client ${after.clientId}` });
  } else if (before.issuer !== after.issuer || before.clientId !== after.clientId) {
    events.push({
      action: 'sso.connection_updated',
      subject,
      detail: `was ${before.issuer} client ${before.clientId}; now client ${after.clientId}; its test sign-in is needed again`,
    });
  } else if (before.id !== after.id) {
    events.push({ action: 'sso.connection_updated', subject, detail: 'client secret replaced' });
  }
  if ((before?.jitRole ?? null) !== after.jitRole) {
    events.push({
      action: 'sso.connection_updated',
      subject,
      detail: after.jitRole === null ? 'just-in-time membership off' : `just-in-time membership as ${after.jitRole}`,
    });
  }
  const wasEnabled = before?.enabled ?? false;
  const wasEnforced = before?.enforced ?? false;
  if (!wasEnabled && after.enabled) events.push({ action: 'sso.connection_enabled', subject });
  if (wasEnabled && !after.enabled) events.push({ action: 'sso.connection_disabled', subject });
  if (!wasEnforced && after.enforced) events.push({ action: 'sso.connection_enforced', subject });
  if (wasEnforced && !after.enforced) events.push({ action: 'sso.connection_unenforced', subject });
  return events;
}

/** `DELETE /v1/orgs/{org}/sso`: the connection and its sealed secret go; people sign in as before. */
export async function removeConnection(
  services: Services,
  principal: Principal,
  slug: string,
  source: AuditSource,
): Promise<SsoConnectionInfo> {
  const org = await orgFor(services, principal, slug, 'domains:write');
  for (let attempt = 0; attempt < 5; attempt++) {
    const held = await readStored(services, org.slug);
    if (!held) throw noConnection(org.slug);
    if (await services.store.swap(connectionKey(org.slug), held.raw, null, CONNECTION_TTL_SECONDS)) {
      await appendAudit(services, org.slug, source, {
        action: 'sso.connection_removed',
        subject: held.value.issuer,
        detail: `client ${held.value.clientId}${held.value.enforced ? '; was enforced' : held.value.enabled ? '; was enabled' : ''}`,
      });
      return view(services, held.value);
    }
  }
  throw new OAuthError('temporarily_unavailable', `org "${org.slug}"'s SSO connection kept changing; retry`);
}

/** The connection an org's admin may start a test sign-in of (`domains:write`), or 404. */
export async function connectionToTest(services: Services, principal: Principal, slug: string): Promise<SsoConnection> {
  const org = await orgFor(services, principal, slug, 'domains:write');
  const connection = await ssoConnectionOf(services, org.slug);
  if (!connection) throw noConnection(org.slug);
  return connection;
}

/**
 * Records that a test sign-in worked, on the connection it began on only: one changed
 * since (another issuer, client id or secret) stays untested. Returns the connection as marked.
 */
export async function markTested(
  services: Services,
  org: string,
  connectionId: string,
  testedBy: string,
): Promise<StoredConnection> {
  const now = services.now();
  const next = await updateRecord(
    services.store,
    connectionKey(org),
    StoredConnection.nullable(),
    { ifAbsent: () => null, ttlSeconds: CONNECTION_TTL_SECONDS, what: "org's SSO connection" },
    (current) => {
      if (current?.id !== connectionId) {
        throw new OAuthError('conflict', `org "${org}"'s SSO connection changed since this test began; start the test again`);
      }
      return { ...current, testedAt: now, testedBy, updatedAt: now };
    },
  );
  if (next === null) throw new Error('a test marked no connection');
  return next;
}
