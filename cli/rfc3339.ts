/**
 * Times as the CLI writes them (README, "JSON output"): RFC 3339 in UTC, whole seconds,
 * `2026-12-04T23:37:22Z`.
 */
import { CliError } from './errors.ts';

/** The last second RFC 3339 can write (9999-12-31T23:59:59Z); past it toISOString() adds a sign and two digits. */
export const LAST_RFC3339_SECOND = 253402300799;

/**
 * Seconds since the epoch as RFC 3339. A time no calendar date can hold is the server's
 * fault, said as such (not a crash of this CLI).
 */
export function rfc3339(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > LAST_RFC3339_SECOND) {
    throw new CliError('server_error', 'the server answered with a time out of range');
  }
  return new Date(Math.floor(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Seconds since the epoch as an RFC 3339 time, or "-" for none (tables). */
export const isoTime = (seconds: number | null | undefined) =>
  seconds === null || seconds === undefined ? '-' : rfc3339(seconds);
