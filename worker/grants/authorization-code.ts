/**
 * The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636): a pending request
 * while the person decides, then a code that lives 60 s, is redeemed once, and only with
 * the same client, the same redirect URI and the verifier behind the challenge.
 */
import * as z from 'zod';
import { OAuthError } from '../../shared/errors.ts';
import { Requester, SignInSubject } from '../accounts/sessions.ts';
import type { Services } from '../services.ts';
import { parseRecord } from '../store/records.ts';
import { storeKey } from '../store/store.ts';
import { base64url, constantTimeEqual, generateId, generateSecret } from '../tokens/opaque.ts';

export const AUTHORIZATION_CODE_SECONDS = 60;
/** How long a person may look at the consent page before deciding. */
const PENDING_REQUEST_SECONDS = 600;

const PendingRequest = z.object({
  clientId: z.string(),
  clientName: z.string(),
  redirectUri: z.string(),
  codeChallenge: z.string(),
  state: z.string().nullable(),
  scope: z.string(),
  /** The web session that may decide: a consent page cannot be answered from another browser. */
  webSession: z.string(),
  requester: Requester,
  /** The org the sign-in is for (approved only by its members); null: none. */
  org: z.string().nullable().default(null),
});
export type PendingRequest = z.infer<typeof PendingRequest>;

const CodeRecord = PendingRequest.omit({ webSession: true, state: true }).extend({
  subject: SignInSubject,
});
export type CodeRecord = z.infer<typeof CodeRecord>;

export async function savePendingRequest(services: Services, request: PendingRequest): Promise<string> {
  const id = generateId('ar_');
  await services.store.put(storeKey('authorizationRequest', id), JSON.stringify(request), PENDING_REQUEST_SECONDS);
  return id;
}

/**
 * Takes the pending request out of the store — once, and only for the web session it was
 * shown to, so someone else who learns its id can neither answer nor spoil it.
 */
export async function takePendingRequest(services: Services, id: string, webSession: string): Promise<PendingRequest | null> {
  if (!/^ar_[\w-]{20}$/.test(id)) return null;
  const key = storeKey('authorizationRequest', id);
  const raw = await services.store.get(key);
  if (raw === null || !constantTimeEqual(parseRecord(PendingRequest, raw).webSession, webSession)) return null;
  const taken = await services.store.consume(key);
  return taken === null ? null : parseRecord(PendingRequest, taken);
}

export async function issueAuthorizationCode(services: Services, record: CodeRecord): Promise<string> {
  const code = generateSecret(services.config.branding.prefixes.authorization_code);
  const key = storeKey('authorizationCode', await services.hasher.hash('ac', code));
  await services.store.put(key, JSON.stringify(record), AUTHORIZATION_CODE_SECONDS);
  return code;
}

/** S256: BASE64URL(SHA-256(verifier)) (RFC 7636 §4.2). */
export async function pkceChallenge(verifier: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

export async function redeemAuthorizationCode(
  services: Services,
  input: { code: string; clientId: string; redirectUri: string; verifier: string },
): Promise<CodeRecord> {
  const key = storeKey('authorizationCode', await services.hasher.hash('ac', input.code));
  // Consumed before any check: a code presented with a wrong verifier is burnt, not retried.
  const raw = await services.store.consume(key);
  if (raw === null) throw new OAuthError('invalid_grant', 'authorization code is invalid, expired or already used');
  const record = parseRecord(CodeRecord, raw);
  if (record.clientId !== input.clientId)
    throw new OAuthError('invalid_grant', 'authorization code was issued to another client');
  if (record.redirectUri !== input.redirectUri)
    throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  if (!constantTimeEqual(await pkceChallenge(input.verifier), record.codeChallenge)) {
    throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
  }
  return record;
}
