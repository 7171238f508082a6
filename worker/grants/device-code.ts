/**
 * The device authorization grant (RFC 8628): a device code's whole life, from the
 * device's request through the person's decision to the single redemption.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { USER_CODE_ALPHABET } from '../../shared/schemas.ts';
import { Requester, SignInSubject } from '../accounts/sessions.ts';
import type { Client } from '../clients.ts';
import type { Services } from '../services.ts';
import { parseRecord, readRecord, type Versioned } from '../store/records.ts';
import { type Procedure, storeKey } from '../store/store.ts';
import { generateSecret } from '../tokens/opaque.ts';

/** RFC 8628 §3.5: each slow_down adds five seconds to the interval. */
export const SLOW_DOWN_STEP_SECONDS = 5;
/** After expiry the record lingers this long so polls hear `expired_token`, not `invalid_grant`. */
const EXPIRED_LINGER_SECONDS = 600;

const DeviceRecord = z.object({
  clientId: z.string(),
  clientName: z.string(),
  scope: z.string(),
  userCode: z.string(),
  status: z.enum(['pending', 'approved', 'denied']),
  interval: z.number(),
  lastPollAt: z.number().nullable(),
  expiresAt: z.number(),
  requester: Requester,
  subject: SignInSubject.nullable(),
  /** The org the sign-in is for (approved only by its members); null: none. */
  org: z.string().nullable().default(null),
});
export type DeviceRecord = z.infer<typeof DeviceRecord>;

/** Eight letters from 20 consonants: no words, no look-alikes, 34.6 bits (RFC 8628 §6.1). */
export function generateUserCode(): string {
  const out: string[] = [];
  // Rejection sampling keeps every letter equally likely (256 is not a multiple of 20).
  while (out.length < 8) {
    for (const byte of crypto.getRandomValues(new Uint8Array(16))) {
      if (byte < 240 && out.length < 8) out.push(USER_CODE_ALPHABET[byte % 20] as string);
    }
  }
  return `${out.slice(0, 4).join('')}-${out.slice(4).join('')}`;
}

const deviceKey = async (services: Services, deviceCode: string) =>
  storeKey('deviceCode', await services.hasher.hash('dc', deviceCode));
const userCodeKey = async (services: Services, normalizedUserCode: string) =>
  storeKey('userCode', await services.hasher.hash('uc', normalizedUserCode));

export async function startDeviceAuthorization(
  services: Services,
  request: { client: Client; scope: string; requester: Requester; org: string | null },
): Promise<{ deviceCode: string; userCode: string; expiresIn: number; interval: number }> {
  const { config, store, now } = services;
  const deviceCode = generateSecret(config.branding.prefixes.device_code);
  const dcKey = await deviceKey(services, deviceCode);
  const ttl = config.ttl.deviceCode;
  const record: DeviceRecord = {
    clientId: request.client.id,
    clientName: request.client.name,
    scope: request.scope,
    userCode: '',
    status: 'pending',
    interval: config.ttl.devicePollInterval,
    lastPollAt: null,
    expiresAt: now() + ttl * 1000,
    requester: request.requester,
    subject: null,
    org: request.org,
  };
  // A collision among live user codes is unlikely but possible: claim the code atomically.
  for (let attempt = 0; attempt < 5; attempt++) {
    const userCode = generateUserCode();
    if (await store.swap(await userCodeKey(services, userCode.replace('-', '')), null, dcKey, ttl)) {
      record.userCode = userCode;
      await store.put(dcKey, JSON.stringify(record), ttl + EXPIRED_LINGER_SECONDS);
      return { deviceCode, userCode, expiresIn: ttl, interval: record.interval };
    }
  }
  throw new OAuthError('temporarily_unavailable', 'could not allocate a user code; retry');
}

export type PendingAuthorization = { key: string; found: Versioned<DeviceRecord> };

/** The pending authorization a person typed the code of, or null for a wrong or stale code. */
export async function findPendingByUserCode(
  services: Services,
  normalizedUserCode: string,
): Promise<PendingAuthorization | null> {
  const dcKey = await services.store.get(await userCodeKey(services, normalizedUserCode));
  if (dcKey === null) return null;
  const found = await readRecord(services.store, dcKey, DeviceRecord);
  if (found?.value.status !== 'pending' || found.value.expiresAt <= services.now()) return null;
  return { key: dcKey, found };
}

/**
 * Records the person's decision on the authorization `found` (as the page's counted lookup
 * just read it). Polls touch the record too, so a lost swap reads it again.
 */
export async function decideDeviceAuthorization(
  services: Services,
  normalizedUserCode: string,
  found: PendingAuthorization,
  /** `org`: the org the person picked at approval, when the device asked for none. */
  decision: { approve: boolean; subject: SignInSubject; org?: string | null },
): Promise<DeviceRecord | null> {
  const { store } = services;
  for (let attempt = 0; attempt < 5; attempt++) {
    const pending = attempt === 0 ? found : await findPendingByUserCode(services, normalizedUserCode);
    if (!pending) return null;
    const { raw, value } = pending.found;
    const next: DeviceRecord = {
      ...value,
      status: decision.approve ? 'approved' : 'denied',
      subject: decision.approve ? decision.subject : null,
      org: decision.approve ? (decision.org ?? value.org) : value.org,
    };
    const ttl = Math.max(1, Math.ceil((value.expiresAt - services.now()) / 1000) + EXPIRED_LINGER_SECONDS);
    if (await store.swap(pending.key, raw, JSON.stringify(next), ttl)) {
      // The code has done its job; it must not be typed in again.
      await store.delete(await userCodeKey(services, normalizedUserCode));
      return next;
    }
  }
  throw new OAuthError('temporarily_unavailable', 'the authorization changed while deciding; retry');
}

type PollInput = { key: string; clientId: string; now: number };
type PollOutcome =
  | { outcome: 'invalid' | 'wrong_client' | 'expired' | 'denied' | 'pending' }
  | { outcome: 'slow_down'; interval: number }
  | { outcome: 'redeemed'; record: DeviceRecord };

/**
 * One poll, run atomically where the device code lives: an approved record is deleted by
 * the poll that reads it, so of concurrent polls exactly one redeems it, in one call.
 */
export const devicePoll: Procedure<PollInput, PollOutcome> = {
  name: 'device.poll',
  home: (input) => input.key,
  run(tx, { key, clientId, now }) {
    const raw = tx.get(key);
    if (raw === null) return { outcome: 'invalid' };
    const value = parseRecord(DeviceRecord, raw);
    if (value.clientId !== clientId) return { outcome: 'wrong_client' };
    if (value.expiresAt <= now) return { outcome: 'expired' };
    if (value.status === 'approved') {
      tx.delete(key);
      return { outcome: 'redeemed', record: value };
    }
    if (value.status === 'denied') return { outcome: 'denied' };
    const tooFast = value.lastPollAt !== null && now - value.lastPollAt < value.interval * 1000;
    const interval = tooFast ? value.interval + SLOW_DOWN_STEP_SECONDS : value.interval;
    const ttl = Math.max(1, Math.ceil((value.expiresAt - now) / 1000) + EXPIRED_LINGER_SECONDS);
    tx.put(key, JSON.stringify({ ...value, lastPollAt: now, interval }), ttl);
    return tooFast ? { outcome: 'slow_down', interval } : { outcome: 'pending' };
  },
};

/** One poll of the token endpoint (RFC 8628 §3.4–3.5). Returns the approved record once. */
export async function pollDeviceCode(services: Services, deviceCode: string, clientId: string): Promise<DeviceRecord> {
  const key = await deviceKey(services, deviceCode);
  const result = await services.store.transact(devicePoll, { key, clientId, now: services.now() });
  switch (result.outcome) {
    case 'redeemed':
      return result.record;
    case 'invalid':
      throw new OAuthError('invalid_grant', 'device code is invalid or was already used');
    case 'wrong_client':
      throw new OAuthError('invalid_grant', 'device code was issued to another client');
    case 'expired':
      throw new OAuthError('expired_token', 'the device code expired; start the login again');
    case 'denied':
      throw new OAuthError('access_denied', 'the request was denied');
    case 'slow_down':
      throw new OAuthError('slow_down', `polling too fast; wait ${result.interval} seconds between requests`);
    case 'pending':
      throw new OAuthError('authorization_pending', 'the person has not yet approved the request');
  }
}
