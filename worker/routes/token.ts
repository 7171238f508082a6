import { Hono } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import {
  AUTHORIZATION_CODE_GRANT,
  DEVICE_CODE_GRANT,
  REFRESH_TOKEN_GRANT,
  SUPPORTED_GRANTS,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_TYPE,
  TokenRequest,
} from '../../shared/schemas.ts';
import { SERVER_ACTOR } from '../accounts/audit.ts';
import type { Requester, SignInSubject } from '../accounts/sessions.ts';
import type { AppEnv } from '../app.ts';
import { findClient } from '../clients.ts';
import { redeemAuthorizationCode } from '../grants/authorization-code.ts';
import { pollDeviceCode } from '../grants/device-code.ts';
import { tokenResponse } from '../grants/issue.ts';
import { rotateRefreshToken, startFamily } from '../grants/refresh-token.ts';
import { proveStepUp } from '../grants/step-up.ts';
import { exchangeCiToken, narrowAccessToken } from '../grants/token-exchange.ts';
import { parseInput, readForm } from '../http/form.ts';

/** The token endpoint: one branch per grant, each a call into grants/. */
export const tokenRoutes = new Hono<AppEnv>();

tokenRoutes.post('/oauth/token', async (c) => {
  const services = c.var.services;
  const form = await readForm(c);
  if (!form.grant_type) throw new OAuthError('invalid_request', 'missing parameter "grant_type"');
  if (!(SUPPORTED_GRANTS as readonly string[]).includes(form.grant_type)) {
    throw new OAuthError('unsupported_grant_type', 'grant_type is not supported by this server');
  }
  const input = parseInput(TokenRequest, form);
  if (input.grant_type === TOKEN_EXCHANGE_GRANT) {
    // The subject token is the credential here; a client id, if sent, must still be known.
    const clientId = input.client_id ?? services.config.branding.cliClient.id;
    findClient(services.config, clientId);
    if (input.audience && input.resource && input.audience !== input.resource) {
      throw new OAuthError('invalid_target', 'audience and resource name different projects');
    }
    const request = {
      subjectToken: input.subject_token,
      project: input.audience ?? input.resource,
      scope: input.scope,
      clientId,
    };
    const exchange = input.subject_token_type === TOKEN_TYPE.accessToken ? narrowAccessToken : exchangeCiToken;
    return c.json(await exchange(services, request));
  }
  findClient(services.config, input.client_id, input.grant_type);

  /** A completed sign-in, device or browser: a new session and its first tokens. */
  const signIn = async (grant: {
    subject: SignInSubject;
    clientId: string;
    scope: string;
    requester: Requester;
    deviceName: string | undefined;
    org: string | null;
  }) => {
    const { clientId, scope, requester, org } = grant;
    const session = await startFamily(
      services,
      { ...grant.subject, clientId, scope, device: requester, org, deviceName: grant.deviceName ?? null },
      { actor: grant.subject.email ?? grant.subject.sub, requestId: c.var.requestId },
    );
    return c.json(await tokenResponse(services, session));
  };

  if (input.grant_type === DEVICE_CODE_GRANT) {
    const approved = await pollDeviceCode(services, input.device_code, input.client_id);
    if (!approved.subject) throw new OAuthError('invalid_grant', 'device code has no approved subject');
    return signIn({ ...approved, subject: approved.subject, deviceName: input.device_name });
  }

  if (input.grant_type === AUTHORIZATION_CODE_GRANT) {
    const granted = await redeemAuthorizationCode(services, {
      code: input.code,
      clientId: input.client_id,
      redirectUri: input.redirect_uri,
      verifier: input.code_verifier,
    });
    return signIn({ ...granted, deviceName: input.device_name });
  }

  if (input.grant_type === REFRESH_TOKEN_GRANT) {
    const stepUp =
      input.otp === undefined ? undefined : await proveStepUp(services, input.refresh_token, input.client_id, input.otp);
    const rotated = await rotateRefreshToken(
      services,
      input.refresh_token,
      { clientId: input.client_id, scope: input.scope, stepUp },
      { actor: SERVER_ACTOR, requestId: c.var.requestId },
    );
    return c.json(await tokenResponse(services, rotated));
  }
  throw new OAuthError('unsupported_grant_type', 'grant_type is not supported by this server');
});
