/**
 * The factor record's guarantees (worker/accounts/factors.ts) in process, on a stepping
 * clock, over a store that holds the first writes of a person's factor record until every
 * racer has made one: so the racers have all read the same record before any write lands,
 * the case a read-then-write would get wrong. Of four submissions of one code exactly one
 * is accepted, for an authenticator's code and for a recovery code; wrong codes at once are
 * limited to five; an authenticator not confirmed in 15 minutes is gone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  confirmTotp,
  listFactors,
  PENDING_TOTP_SECONDS,
  proveSecondFactor,
  replaceRecoveryCodes,
  startTotpEnrollment,
} from '../../worker/accounts/factors.ts';
import { parseConfig } from '../../worker/config.ts';
import { generateRecoveryCodes } from '../../worker/mfa/recovery-codes.ts';
import { base32Decode, TOTP_STEP_SECONDS, totpCodeAt } from '../../worker/mfa/totp.ts';
import { servicesLoader } from '../../worker/services.ts';
import { memoryStore } from '../../worker/store/memory.ts';
import { storeKey } from '../../worker/store/store.ts';

const STEP = TOTP_STEP_SECONDS * 1000;
const OWNER = 'ada@factors.example';

/** Services over a memory store whose writes of `key` wait, once armed, until `racers` of them are waiting. */
async function setUp() {
  let clock = Date.UTC(2026, 5, 1, 9, 0, 0);
  const inner = memoryStore({ now: () => clock });
  let gate: { racers: number; waiting: (() => void)[] } | null = null;
  const held = async (key: string) => {
    if (!gate || key !== storeKey('factors', OWNER)) return;
    const current = gate;
    await new Promise<void>((resolve) => {
      current.waiting.push(resolve);
      if (current.waiting.length === current.racers) {
        gate = null;
        for (const release of current.waiting) release();
      }
    });
  };
  const store = {
    ...inner,
    async put(key: string, value: string, ttl: number) {
      await held(key);
      return inner.put(key, value, ttl);
    },
    async swap(key: string, expected: string | null, next: string | null, ttl: number) {
      await held(key);
      return inner.swap(key, expected, next, ttl);
    },
  };
  const config = parseConfig({ LATCHKEY_ISSUER: 'http://127.0.0.1:8787', LATCHKEY_IDENTITY: 'dev' });
  const services = await servicesLoader(config, { store, now: () => clock })();
  return {
    services,
    step: (ms: number) => {
      clock += ms;
    },
    /** The next `racers` writes of the person's factor record wait for each other. */
    race: (racers: number) => {
      gate = { racers, waiting: [] };
    },
  };
}

async function enrolled(setup: Awaited<ReturnType<typeof setUp>>) {
  const { id, secret } = await startTotpEnrollment(setup.services, OWNER);
  const bytes = base32Decode(secret) as Uint8Array;
  assert.equal(await confirmTotp(setup.services, OWNER, id, await totpCodeAt(bytes, setup.services.now())), 'ok');
  setup.step(STEP);
  return bytes;
}

test('one authenticator code submitted four times at once: accepted once', async () => {
  const setup = await setUp();
  const secret = await enrolled(setup);
  const code = await totpCodeAt(secret, setup.services.now());
  setup.race(4);
  const proofs = await Promise.all([0, 1, 2, 3].map(() => proveSecondFactor(setup.services, OWNER, code)));
  assert.deepEqual(proofs.map((proof) => proof.outcome).sort(), ['ok', 'wrong', 'wrong', 'wrong']);
});

test('one recovery code submitted four times at once: accepted once', async () => {
  const setup = await setUp();
  await enrolled(setup);
  const codes = generateRecoveryCodes();
  await replaceRecoveryCodes(setup.services, OWNER, codes);
  setup.race(4);
  const proofs = await Promise.all([0, 1, 2, 3].map(() => proveSecondFactor(setup.services, OWNER, codes[3] ?? '')));
  assert.deepEqual(proofs.map((proof) => proof.outcome).sort(), ['ok', 'wrong', 'wrong', 'wrong']);
  const listed = await listFactors(setup.services, OWNER);
  assert.deepEqual(
    listed.filter((factor) => factor.kind === 'recovery').map((factor) => factor.kind === 'recovery' && factor.left),
    [9],
  );
});

test('ten wrong codes at once: five are judged wrong, five refused as limited', async () => {
  const setup = await setUp();
  await enrolled(setup);
  const proofs = await Promise.all(
    Array.from({ length: 10 }, (_, n) => proveSecondFactor(setup.services, OWNER, String(400000 + n))),
  );
  const outcomes = proofs.map((proof) => proof.outcome);
  assert.equal(outcomes.filter((outcome) => outcome === 'wrong').length, 5);
  assert.equal(outcomes.filter((outcome) => outcome === 'limited').length, 5);
});

test('an authenticator not confirmed within 15 minutes cannot be confirmed, and asks nothing at sign-in', async () => {
  const setup = await setUp();
  const { id, secret } = await startTotpEnrollment(setup.services, OWNER);
  setup.step(PENDING_TOTP_SECONDS * 1000);
  const late = await totpCodeAt(base32Decode(secret) as Uint8Array, setup.services.now());
  assert.equal(await confirmTotp(setup.services, OWNER, id, late), 'wrong');
  assert.deepEqual(await listFactors(setup.services, OWNER), []);
  assert.equal((await proveSecondFactor(setup.services, OWNER, late)).outcome, 'wrong');
});
