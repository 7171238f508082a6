/**
 * Passkeys and security keys (WebAuthn) as a second factor: the ceremony's options and the
 * checks of what the browser sends back, through @simplewebauthn/server. Pure of accounts
 * and storage: the caller keeps the challenge (single use) and the credentials
 * (accounts/factors.ts).
 *
 * The relying party is the issuer: its origin is the only origin a response may come
 * from, and its host name the RP ID the authenticator scoped the credential to, so a
 * credential made for another site, or a response relayed through one, does not verify.
 */
import * as z from 'zod';
import { base64url as encodeBase64url, fromBase64url } from '../tokens/opaque.ts';

/**
 * The library, loaded at the first ceremony rather than with the app: it brings an X.509
 * and ASN.1 stack (and a global Reflect polyfill) that no request but a passkey's needs, so
 * an isolate that serves none never evaluates it.
 */
const library = () => import('@simplewebauthn/server');

/** How long a ceremony's challenge is good for (also the browser's timeout). */
export const WEBAUTHN_CHALLENGE_SECONDS = 5 * 60;
/**
 * EdDSA, ES256, RS256, named rather than left to the library: its default adds ML-DSA-44
 * where the runtime has it, which would make what a deployment accepts depend on the
 * runtime it happens to run on (and warn on Node).
 */
const ALGORITHMS = [-8, -7, -257];

export type RelyingParty = { id: string; origin: string; name: string };

/** The issuer as the relying party: its origin, and its host name as RP ID. */
export const relyingParty = (issuer: URL, name: string): RelyingParty => ({ id: issuer.hostname, origin: issuer.origin, name });

export const Transport = z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);
export type Transport = z.infer<typeof Transport>;

/** A registered credential as the verifier needs it: ids and key base64url. */
export type StoredCredential = { credentialId: string; publicKey: string; counter: number; transports: Transport[] };

const Base64url = z
  .string()
  .regex(/^[\w-]*$/, 'not base64url')
  .max(8192);
/** What the browser's script posts: PublicKeyCredential.toJSON()'s shape (checked again, in depth, by the library). */
const RegistrationResponse = z.object({
  id: Base64url.min(1).max(1366),
  rawId: Base64url,
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: Base64url,
    attestationObject: Base64url,
    transports: z.array(z.string()).max(10).optional(),
  }),
  clientExtensionResults: z.object({}).passthrough().default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
});
const AuthenticationResponse = z.object({
  id: Base64url.min(1).max(1366),
  rawId: Base64url,
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: Base64url,
    authenticatorData: Base64url,
    signature: Base64url,
    userHandle: Base64url.optional(),
  }),
  clientExtensionResults: z.object({}).passthrough().default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
});
export type AuthenticationResponse = z.infer<typeof AuthenticationResponse>;

function parseJson<T>(schema: z.ZodType<T>, text: string): T | null {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** What the browser posted at sign-in, if it is shaped like an assertion at all. */
export const parseAssertion = (text: string): AuthenticationResponse | null => parseJson(AuthenticationResponse, text);

const knownTransports = (listed: readonly string[] | undefined): Transport[] =>
  (listed ?? []).filter((transport): transport is Transport => Transport.safeParse(transport).success);

/**
 * Options for navigator.credentials.create. Any authenticator, discoverable if it can
 * be; user verification preferred, not required (this is the second step: the first one
 * already named the person). The person's credentials are excluded, so one authenticator
 * is not registered twice.
 */
export async function registrationOptions(rp: RelyingParty, person: { name: string }, existing: StoredCredential[]) {
  const { generateRegistrationOptions } = await library();
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: person.name,
    timeout: WEBAUTHN_CHALLENGE_SECONDS * 1000,
    attestationType: 'none',
    excludeCredentials: existing.map(({ credentialId, transports }) => ({ id: credentialId, transports })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    supportedAlgorithmIDs: ALGORITHMS,
  });
}

/** A credential made by a registration ceremony that verified. */
export type NewCredential = StoredCredential & {
  /** Synced (a multi-device passkey: `swk` in RFC 8176) or bound to one authenticator (`hwk`). */
  multiDevice: boolean;
};

/** Checks a registration response against its challenge and the relying party; null when it does not verify. */
export async function verifyRegistration(rp: RelyingParty, challenge: string, posted: string): Promise<NewCredential | null> {
  const response = parseJson(RegistrationResponse, posted);
  if (!response) return null;
  const { verifyRegistrationResponse } = await library();
  try {
    const { verified, registrationInfo } = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: false,
      supportedAlgorithmIDs: ALGORITHMS,
    });
    if (!verified) return null;
    const { credential, credentialDeviceType } = registrationInfo;
    return {
      credentialId: credential.id,
      publicKey: encodeBase64url(credential.publicKey),
      counter: credential.counter,
      transports: knownTransports(credential.transports ?? response.response.transports),
      multiDevice: credentialDeviceType === 'multiDevice',
    };
  } catch {
    // The library throws for every malformed or mismatched part; to the person each is a refusal.
    return null;
  }
}

/** Options for navigator.credentials.get: only the person's own credentials are offered. */
export async function authenticationOptions(rp: RelyingParty, credentials: StoredCredential[]) {
  const { generateAuthenticationOptions } = await library();
  return generateAuthenticationOptions({
    rpID: rp.id,
    timeout: WEBAUTHN_CHALLENGE_SECONDS * 1000,
    allowCredentials: credentials.map(({ credentialId, transports }) => ({ id: credentialId, transports })),
    userVerification: 'preferred',
  });
}

/**
 * Checks an assertion by `credential` (which the caller found among the person's own by
 * the assertion's id) against the challenge and relying party: its new signature counter
 * when it verifies, else null. The library refuses a counter that did not move forward
 * when either side counts (a cloned authenticator); the caller's compare-and-set keeps two
 * uses of one counter from both counting.
 */
export async function verifyAssertion(
  rp: RelyingParty,
  challenge: string,
  response: AuthenticationResponse,
  credential: StoredCredential,
): Promise<{ newCounter: number; multiDevice: boolean } | null> {
  if (response.id !== credential.credentialId) return null;
  const { verifyAuthenticationResponse } = await library();
  try {
    const { verified, authenticationInfo } = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: {
        id: credential.credentialId,
        publicKey: fromBase64url(credential.publicKey) as Uint8Array<ArrayBuffer>,
        counter: credential.counter,
        transports: credential.transports,
      },
      requireUserVerification: false,
    });
    if (!verified) return null;
    return {
      newCounter: authenticationInfo.newCounter,
      multiDevice: authenticationInfo.credentialDeviceType === 'multiDevice',
    };
  } catch {
    return null;
  }
}
