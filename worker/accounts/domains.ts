/**
 * Email domains an org claims and proves by DNS: a claim hands out a TXT record
 * (`_latchkey-challenge.<domain>`, a value random per claim), and the domain is verified
 * once a DNS-over-HTTPS lookup finds exactly that value there.
 *
 * A domain is verified for one org at a time. Two records say so: the org's own list
 * (`dom:<org>`, the claim and its state) and the domain's claim (`domc:<domain>`, which org
 * holds it), taken create-if-absent, so of two orgs verifying at once only one swap
 * succeeds. The claim is taken before the org's list is marked and given back if the claim
 * went away meanwhile, so a domain is verified for an org only when both agree. A claim
 * left by an org whose list no longer holds the entry that proved it (a removal cut off
 * halfway; an entry made again since is a new claim, not yet proven) is stale: the next
 * org to prove the domain takes it over. So is a live one whose value the domain's TXT
 * record no longer holds, once another org's value is there: a domain changes hands (it
 * lapses and is registered again), and whoever controls its DNS now decides, or its old org
 * would keep signing in, and shutting out, the new owner's people for ever.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { DomainClaimRequest, type DomainInfo, DomainName, MAX_DOMAIN_LENGTH } from '../../shared/schemas.ts';
import { DohError, lookupTxt } from '../dns/doh.ts';
import { parseInput } from '../http/form.ts';
import { authorize, type Permission, type Principal } from '../policy/roles.ts';
import type { Services } from '../services.ts';
import { parseRecord, readRecord, updateRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { base64url, randomBytes } from '../tokens/opaque.ts';
import { type AuditSource, appendAudit, SERVER_ACTOR } from './audit.ts';
import { type OrgRecord, readOrg } from './orgs.ts';

const StoredDomain = z.object({
  domain: z.string(),
  /** Published in DNS by the org, so no secret: kept as it is. */
  token: z.string(),
  claimedAt: z.number(),
  claimedBy: z.string(),
  verifiedAt: z.number().nullable(),
});
type StoredDomain = z.infer<typeof StoredDomain>;
const OrgDomains = z.array(StoredDomain);
const Claim = z.object({
  org: z.string(),
  verifiedAt: z.number(),
  /**
   * The org's claim (its token) that proved the domain: two claims' writes never compare
   * equal, so a verification giving back what it wrote cannot give back another's.
   */
  token: z.string().optional(),
});
type Claim = z.infer<typeof Claim>;

/** Kept as long as the org (ten years); the store needs some TTL. */
const DOMAIN_TTL_SECONDS = 10 * 365 * 86400;
/** An org's list stays a few KiB, far under the smallest value limit of the stores (Deno KV: 64 KiB). */
export const MAX_DOMAINS_PER_ORG = 50;
/** Where the proof is published: under the domain, so only who controls its DNS can put it there. */
export const CHALLENGE_LABEL = '_latchkey-challenge';
export const CHALLENGE_PREFIX = 'latchkey-domain-verification=';
/** DNS lookups an org's verifications may make per fixed window (see countLookup). */
export const LOOKUPS_PER_WINDOW = 30;
const LOOKUP_WINDOW_SECONDS = 3600;

const listKey = (org: string) => storeKey('domains', org);
const claimKey = (domain: string) => storeKey('domainClaim', domain);

const view = (stored: StoredDomain): DomainInfo => ({
  domain: stored.domain,
  state: stored.verifiedAt === null ? 'pending' : 'verified',
  claimed_at: Math.floor(stored.claimedAt / 1000),
  claimed_by: stored.claimedBy,
  verified_at: stored.verifiedAt === null ? null : Math.floor(stored.verifiedAt / 1000),
  record: { type: 'TXT', name: `${CHALLENGE_LABEL}.${stored.domain}`, value: `${CHALLENGE_PREFIX}${stored.token}` },
});

async function readDomains(services: Services, org: string): Promise<StoredDomain[]> {
  return (await readRecord(services.store, listKey(org), OrgDomains))?.value ?? [];
}

const updateDomains = (services: Services, org: string, change: (current: StoredDomain[]) => StoredDomain[]) =>
  updateRecord(
    services.store,
    listKey(org),
    OrgDomains,
    { ifAbsent: () => [], ttlSeconds: DOMAIN_TTL_SECONDS, what: "org's domains" },
    change,
  );

async function orgFor(services: Services, principal: Principal, slug: string, permission: Permission): Promise<OrgRecord> {
  const org = await readOrg(services, slug);
  authorize(org, principal, permission);
  return org;
}

/** `GET /v1/orgs/{org}/domains`: the org's domains, oldest claim first. */
export async function listDomains(services: Services, principal: Principal, slug: string): Promise<DomainInfo[]> {
  const org = await orgFor(services, principal, slug, 'domains:read');
  return (await readDomains(services, org.slug)).map(view);
}

/**
 * `POST /v1/orgs/{org}/domains`: claims a domain (pending) and gives the TXT record that
 * proves it. Claiming one the org already claimed gives that claim again (`created` false).
 * A domain verified for another org may still be claimed; it is verified here only once
 * that org lets it go.
 */
export async function claimDomain(
  services: Services,
  principal: Principal,
  slug: string,
  body: () => Promise<unknown>,
  source: AuditSource,
): Promise<{ created: boolean; domain: DomainInfo }> {
  const org = await orgFor(services, principal, slug, 'domains:write');
  const { domain } = parseInput(DomainClaimRequest, await body());
  // The record's name must itself be a DNS name, or the claim could never be proven.
  const longest = MAX_DOMAIN_LENGTH - CHALLENGE_LABEL.length - 1;
  if (domain.length > longest) {
    throw new OAuthError(
      'invalid_request',
      `a claimed domain is at most ${longest} characters, so that its TXT record's name (${CHALLENGE_LABEL}.<domain>) fits in DNS`,
    );
  }
  const fresh: StoredDomain = {
    domain,
    token: base64url(randomBytes(24)),
    claimedAt: services.now(),
    claimedBy: source.actor,
    verifiedAt: null,
  };
  let existing: StoredDomain | undefined;
  await updateDomains(services, org.slug, (current) => {
    existing = current.find((stored) => stored.domain === domain);
    if (existing) return current;
    if (current.length >= MAX_DOMAINS_PER_ORG)
      throw new OAuthError('invalid_request', `an org claims at most ${MAX_DOMAINS_PER_ORG} domains; remove one first`);
    return [...current, fresh];
  });
  if (existing) return { created: false, domain: view(existing) };
  await appendAudit(services, org.slug, source, {
    action: 'domain.claimed',
    subject: domain,
    detail: `TXT ${CHALLENGE_LABEL}.${domain}`,
  });
  return { created: true, domain: view(fresh) };
}

/**
 * `POST /v1/orgs/{org}/domains/{domain}/verify`: looks the TXT record up and, when it holds
 * this claim's exact value and no other org holds the domain (or the one that does no longer
 * has its value there), marks it verified. A domain already verified here answers as it is.
 */
export async function verifyDomain(
  services: Services,
  principal: Principal,
  slug: string,
  rawDomain: unknown,
  source: AuditSource,
): Promise<DomainInfo> {
  const org = await orgFor(services, principal, slug, 'domains:write');
  const domain = parseInput(DomainName, rawDomain);
  const claimed = (await readDomains(services, org.slug)).find((stored) => stored.domain === domain);
  if (!claimed) throw notClaimed(org.slug, domain);
  if (claimed.verifiedAt !== null) return view(claimed);
  const holder = await holderElsewhere(services, org.slug, domain);

  await countLookup(services, org.slug);
  const { record } = view(claimed);
  const values = await txtValues(services, record.name);
  // Another org holds it: it keeps it unless DNS now holds this org's value and no longer its own.
  if (holder && (!values.includes(record.value) || values.includes(holder.value))) throw heldElsewhere(domain);
  if (!values.includes(record.value)) {
    const found = values.filter((value) => value.startsWith(CHALLENGE_PREFIX)).length;
    throw new OAuthError(
      'invalid_request',
      values.length === 0
        ? `no TXT record ${record.name} was found; publish one with the value "${record.value}" and try again (DNS changes can take a few minutes to be seen)`
        : `the TXT record ${record.name} does not hold "${record.value}" (it holds ${values.length} other value${values.length === 1 ? '' : 's'}${found ? `, ${found} of them another claim's` : ''}); publish this org's value and try again`,
    );
  }

  const now = services.now();
  const taken = await takeClaim(services, org.slug, domain, claimed.token, now, holder?.raw ?? null);
  let verified: StoredDomain | undefined;
  let marked = false;
  await updateDomains(services, org.slug, (current) => {
    // The same claim (its token), not one removed and made again since the lookup.
    verified = current.find((stored) => stored.domain === domain && stored.token === claimed.token);
    // Already verified: by this org's other verification running at the same time.
    marked = verified !== undefined && verified.verifiedAt === null;
    if (!verified || !marked) return current;
    verified = { ...verified, verifiedAt: now };
    return current.map((stored) => (stored.domain === domain ? (verified as StoredDomain) : stored));
  });
  if (!verified) {
    // Removed while it was being verified: the claim goes back to what it was (nothing, a
    // stale one, or this org's next claim verified meanwhile), unless it changed since.
    await services.store.swap(claimKey(domain), taken.written, taken.previous, DOMAIN_TTL_SECONDS);
    throw notClaimed(org.slug, domain);
  }
  if (marked) {
    await appendAudit(services, org.slug, source, { action: 'domain.verified', subject: domain, detail: `TXT ${record.name}` });
  }
  if (holder && taken.previous === holder.raw) await markLost(services, holder, domain, source.requestId);
  return view(verified);
}

/**
 * The org whose claim another org's proof took over: its entry is pending again (its value
 * published again, and the other's gone, would prove it again), and its trail says so.
 */
async function markLost(services: Services, holder: Holder, domain: string, requestId: string): Promise<void> {
  await updateDomains(services, holder.org, (current) =>
    current.map((stored) =>
      stored.domain === domain && stored.token === holder.token ? { ...stored, verifiedAt: null } : stored,
    ),
  );
  await appendAudit(
    services,
    holder.org,
    { actor: SERVER_ACTOR, requestId },
    {
      action: 'domain.lost',
      subject: domain,
      detail: `its TXT record ${CHALLENGE_LABEL}.${domain} no longer holds this org's value, and another org proved the domain`,
    },
  );
}

/** `DELETE /v1/orgs/{org}/domains/{domain}`: the claim goes, and with it the domain, for any org to prove. */
export async function removeDomain(
  services: Services,
  principal: Principal,
  slug: string,
  rawDomain: unknown,
  source: AuditSource,
): Promise<DomainInfo> {
  const org = await orgFor(services, principal, slug, 'domains:write');
  const domain = parseInput(DomainName, rawDomain);
  let removed: StoredDomain | undefined;
  await updateDomains(services, org.slug, (current) => {
    removed = current.find((stored) => stored.domain === domain);
    return current.filter((stored) => stored !== removed);
  });
  if (!removed) throw notClaimed(org.slug, domain);
  const held = await readClaim(services, domain);
  // Compared and swapped: a claim another org took over meanwhile stays theirs, and one
  // this org's next claim of the domain took (claimed and verified again since the entry
  // went) stays that claim's. One without a token is given back as its org's.
  const ours = held?.value.org === org.slug && (held.value.token ?? removed.token) === removed.token;
  if (held && ours) await services.store.swap(claimKey(domain), held.raw, null, DOMAIN_TTL_SECONDS);
  await appendAudit(services, org.slug, source, {
    action: 'domain.removed',
    subject: domain,
    detail: removed.verifiedAt === null ? 'was pending' : 'was verified',
  });
  return view(removed);
}

/** The org a domain is verified for, if any (the claim and that org's list agree). */
export async function verifiedOwnerOf(services: Services, domain: string): Promise<string | null> {
  const held = await readClaim(services, domain);
  if (!held) return null;
  const listed = (await readDomains(services, held.value.org)).find((stored) => holds(held.value, stored, domain));
  return listed && listed.verifiedAt !== null ? held.value.org : null;
}

/**
 * Whether an org's list entry is the claim's: the same domain and, when the claim says which
 * claim proved it, that one. An entry made again after a removal cut off halfway is a new,
 * unproven claim, and does not make the old claim live.
 */
const holds = (claim: Claim, stored: StoredDomain, domain: string) =>
  stored.domain === domain && (claim.token ?? stored.token) === stored.token;

const notClaimed = (org: string, domain: string) =>
  new OAuthError('not_found', `org "${org}" has not claimed the domain ${domain}; claim it first`);

function heldElsewhere(domain: string): OAuthError {
  // Which org is not said: a domain's holder is no business of another tenant.
  return new OAuthError(
    'conflict',
    `the domain ${domain} is verified by another org; it can be verified here only once that org removes it, or once its TXT record holds this org's value and no longer that org's`,
  );
}

async function readClaim(services: Services, domain: string) {
  const raw = await services.store.get(claimKey(domain));
  return raw === null ? null : { raw, value: parseRecord(Claim, raw) };
}

/** Whether another org's claim is live: its list still holds the claim's entry (pending or verified). */
async function liveElsewhere(services: Services, org: string, held: Claim, domain: string): Promise<boolean> {
  if (held.org === org) return false;
  return (await readDomains(services, held.org)).some((stored) => holds(held, stored, domain));
}

/** Another org's live claim of a domain: the record as read, and the TXT value that proved it. */
type Holder = { raw: string; org: string; token: string; value: string };

async function holderElsewhere(services: Services, org: string, domain: string): Promise<Holder | null> {
  const held = await readClaim(services, domain);
  if (!held || held.value.org === org) return null;
  const entry = (await readDomains(services, held.value.org)).find((stored) => holds(held.value, stored, domain));
  return entry ? { raw: held.raw, org: held.value.org, token: entry.token, value: `${CHALLENGE_PREFIX}${entry.token}` } : null;
}

/**
 * Takes the domain's claim for `org`: create-if-absent, or over a stale claim by compare
 * and swap, or over `superseding` (a live claim whose value DNS no longer holds, exactly as
 * read). Returns the text written and what it replaced; 409 if another org holds it. A claim the org holds
 * already is written again too: another org that found it stale and is about to take it
 * over then fails its swap and looks again (finding this org's list naming the domain),
 * where leaving it as it is would let both orgs mark the domain verified.
 */
async function takeClaim(
  services: Services,
  org: string,
  domain: string,
  token: string,
  now: number,
  superseding: string | null,
): Promise<{ written: string; previous: string | null }> {
  const mine = JSON.stringify({ org, verifiedAt: now, token });
  for (let attempt = 0; attempt < 5; attempt++) {
    const held = await readClaim(services, domain);
    if (held && held.raw !== superseding && (await liveElsewhere(services, org, held.value, domain))) throw heldElsewhere(domain);
    const previous = held?.raw ?? null;
    if (await services.store.swap(claimKey(domain), previous, mine, DOMAIN_TTL_SECONDS)) return { written: mine, previous };
  }
  throw new OAuthError('temporarily_unavailable', `the claim on ${domain} kept changing; retry`);
}

/**
 * Each verification costs a request to the resolver; an org makes at most
 * LOOKUPS_PER_WINDOW of them per fixed window, so nobody turns the server into a client
 * that gets its address refused by the resolver everyone's verifications use.
 */
async function countLookup(services: Services, org: string): Promise<void> {
  const windowMs = LOOKUP_WINDOW_SECONDS * 1000;
  const window = Math.floor(services.now() / windowMs);
  const made = await services.store.increment(storeKey('rateLimit', `dv:${org}:${window}`), 2 * LOOKUP_WINDOW_SECONDS);
  if (made <= LOOKUPS_PER_WINDOW) return;
  const wait = Math.ceil(((window + 1) * windowMs - services.now()) / 1000);
  throw new OAuthError(
    'rate_limited',
    `org "${org}" has asked DNS ${LOOKUPS_PER_WINDOW} times this hour; verify again in ${Math.ceil(wait / 60)} min`,
    { headers: { 'Retry-After': String(wait) } },
  );
}

/** The TXT values at `name`; a resolver that fails is the server's trouble (502/503), never a 500. */
async function txtValues(services: Services, name: string): Promise<string[]> {
  try {
    return await lookupTxt(services.fetch, services.config.dohUrl, name);
  } catch (error) {
    if (!(error instanceof DohError)) throw error;
    const down = error.code === 'unreachable' || error.code === 'timeout';
    throw new OAuthError('temporarily_unavailable', `could not check the TXT record ${name}: ${error.message}; try again later`, {
      status: down ? 503 : 502,
      cause: error,
      ...(down ? { headers: { 'Retry-After': '30' } } : {}),
    });
  }
}
