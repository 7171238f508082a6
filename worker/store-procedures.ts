/**
 * Every procedure a store may be asked to run (`Store.transact`), by name: a Durable
 * Object is sent the name and runs the code it was built with, so a procedure missing here
 * fails on Cloudflare alone. Imported only by the entries.
 */
import { devicePoll } from './grants/device-code.ts';
import { rotation } from './grants/refresh-token.ts';
import type { Procedures } from './store/durable-object.ts';

export const PROCEDURES: Procedures = Object.fromEntries(
  [rotation, devicePoll].map((procedure) => [procedure.name, procedure]),
) as Procedures;
