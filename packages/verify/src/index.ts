export { DEFAULT_API_KEY_PREFIXES, isWellFormedApiKey } from './api-key.ts';
export { requireOrg, requireProject, requireRole, requireScope } from './checks.ts';
export { bearerChallenge, type ChallengeContext, VERIFY_ERROR_STATUS, VerifyError, type VerifyErrorCode } from './errors.ts';
export { type ProtectedResourceMetadata, protectedResourceMetadata, protectedResourceMetadataUrl } from './metadata.ts';
export { type Principal, type PrincipalKind, ROLE_ORDER, type Role } from './principal.ts';
export { createVerifier, type Verifier, type VerifierOptions } from './verifier.ts';
