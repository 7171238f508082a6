/**
 * The device flow's waiting half (RFC 8628 §3.4-3.5): ask for a code, hand it to the
 * caller's UI, then poll at the server's interval — five seconds more after each
 * slow_down — until it is approved, denied or expires. The countdown is an event; the
 * wait is the injected sleep, so a test steps a clock instead of sleeping.
 */
import type { TokenResponse } from '../../../shared/schemas.ts';
import type { LatchkeyClient } from './client.ts';
import type { ClientDeps } from './deps.ts';
import { LatchkeyError } from './errors.ts';
import { productOf } from './product.ts';
import type { StoredCredential } from './secrets/secret-store.ts';

/** What the person is shown: the code, where to enter it, and when it stops working (ms since the epoch). */
export type DeviceCode = {
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string | null;
  expiresAt: number;
};

export type DeviceLoginOptions = {
  scope?: string | undefined;
  org?: string | undefined;
  /** Shows the code; both URIs have been checked to be http(s) pages of the server's own origin. */
  onDeviceCode?: (code: DeviceCode) => void;
  /** Once a second while waiting: the seconds left before the code expires. */
  onTick?: (secondsLeft: number) => void;
};

/** A token response as kept: its expiry made absolute by the injected clock. */
export function storedFrom(deps: Pick<ClientDeps, 'now'>, tokens: TokenResponse): StoredCredential {
  return {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token ?? null,
    expires_at: Math.floor(deps.now() / 1000) + tokens.expires_in,
  };
}

export async function deviceLogin(
  deps: Pick<ClientDeps, 'now' | 'sleep' | 'signal' | 'product'>,
  client: LatchkeyClient,
  options: DeviceLoginOptions,
): Promise<StoredCredential> {
  const expired = () =>
    new LatchkeyError('timed_out', `the code expired before it was approved; run \`${productOf(deps).loginCommand}\` again`);
  const started = await client.startDeviceLogin(options.scope, options.org);
  const deadline = deps.now() + started.expires_in * 1000;
  options.onDeviceCode?.({
    userCode: started.user_code,
    verificationUri: started.verification_uri,
    verificationUriComplete: started.verification_uri_complete ?? null,
    expiresAt: deadline,
  });
  let interval = started.interval;
  for (;;) {
    const remaining = Math.ceil((deadline - deps.now()) / 1000);
    if (remaining <= 0) throw expired();
    // Never past the code's expiry: a server asking for an interval longer than the code
    // lives would otherwise hold the login (and the countdown at 0) for as long as it liked.
    for (let waited = 0; waited < Math.min(interval, remaining); waited++) {
      options.onTick?.(remaining - waited);
      await deps.sleep(1000, deps.signal);
    }
    const poll = await client.pollDeviceLogin(started.device_code);
    if (poll.status === 'approved') return storedFrom(deps, poll.tokens);
    if (poll.status === 'slow_down') interval += 5;
    if (poll.status === 'denied') throw new LatchkeyError('access_denied', 'the sign-in was denied in the browser');
    if (poll.status === 'expired') throw expired();
  }
}
