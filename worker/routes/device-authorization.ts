import { Hono } from 'hono';
import { DEVICE_CODE_GRANT, DeviceAuthorizationRequest, type DeviceAuthorizationResponse } from '../../shared/schemas.ts';
import type { AppEnv } from '../app.ts';
import { findClient } from '../clients.ts';
import { startDeviceAuthorization } from '../grants/device-code.ts';
import { requesterOf } from '../http/caller.ts';
import { parseInput, readForm } from '../http/form.ts';

/** RFC 8628 §3.1–3.2 */
export const deviceAuthorizationRoutes = new Hono<AppEnv>();

deviceAuthorizationRoutes.post('/oauth/device_authorization', async (c) => {
  const services = c.var.services;
  const input = parseInput(DeviceAuthorizationRequest, await readForm(c));
  const client = findClient(services.config, input.client_id, DEVICE_CODE_GRANT);
  const started = await startDeviceAuthorization(services, {
    client,
    scope: input.scope || client.defaultScope,
    requester: requesterOf(c),
    org: input.org ?? null,
  });
  const verificationUri = `${services.config.base}/device`;
  const body: DeviceAuthorizationResponse = {
    device_code: started.deviceCode,
    user_code: started.userCode,
    verification_uri: verificationUri,
    verification_uri_complete: `${verificationUri}?user_code=${started.userCode}`,
    expires_in: started.expiresIn,
    interval: started.interval,
  };
  return c.json(body);
});
