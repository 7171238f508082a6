/**
 * The fuzz's state invariant (test/fuzz/run.ts): over a whole run, one credential presented
 * to the token endpoint never yields two different refresh tokens. Checked here on answers
 * written by hand, so the invariant is known to bite before it is trusted to pass.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Redemptions, redeemedTwice } from '../fuzz/run.ts';

const token = (fields: Record<string, string>) => ({
  method: 'POST',
  path: '/oauth/token',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});
const issued = (refresh: string, status = 200) => ({
  status,
  contentType: 'application/json',
  requestId: 'req_0123456789abcdef',
  body: JSON.stringify({ access_token: 'a', refresh_token: refresh }),
});

test('a device code redeemed twice is caught; a refresh token presented again for the same successor is not', () => {
  const redemptions: Redemptions = new Map();
  const device = token({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'lk_dc_x', client_id: 'c' });
  assert.equal(redeemedTwice(redemptions, device, issued('lk_rt_1')), null);
  assert.match(String(redeemedTwice(redemptions, device, issued('lk_rt_2'))), /redeemed twice/);

  const refresh = token({ grant_type: 'refresh_token', refresh_token: 'lk_rt_old', client_id: 'c' });
  assert.equal(redeemedTwice(redemptions, refresh, issued('lk_rt_next')), null);
  assert.equal(redeemedTwice(redemptions, refresh, issued('lk_rt_next')), null, 'the grace window: the same successor');
  assert.match(String(redeemedTwice(redemptions, refresh, issued('lk_rt_other'))), /two different refresh tokens/);
  assert.equal(redeemedTwice(redemptions, refresh, issued('lk_rt_other', 400)), null, 'a refusal redeems nothing');
});
