/**
 * Every answer names its request (`X-Request-Id`), whoever answers it: a route, the error
 * renderer, the credential check, or an entry's guard in front of the app. The caller sees
 * it, to quote when asking why; audit entries carry it.
 */
export const newRequestId = () => `req_${crypto.randomUUID()}`;
