/**
 * Durations as a person reads and types them. In: `--expires 90d`, `--grace 12h`, with a
 * unit always — a bare `10` once made a key that lived ten seconds, so the CLI refuses it
 * where the Worker's settings (shared/duration.ts) take it as seconds. Out: "in 89 days",
 * "in 3 hours", "in 45 seconds": the largest unit that still gives at least two of it,
 * counted down (a key with 89 days and 23 hours left has 89 whole days left).
 */
import { durationSeconds } from '../shared/duration.ts';
import { CliError } from './errors.ts';

/** `--flag`'s value in seconds; a usage error for anything but a number with a unit (s, m, h, d). */
export function durationFlag(flag: string, text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    throw new CliError('usage', `${flag} ${trimmed}: add a unit, e.g. ${trimmed}d, ${trimmed}h, ${trimmed}m or ${trimmed}s`);
  }
  const seconds = durationSeconds(trimmed);
  if (seconds === null) throw new CliError('usage', `${flag} takes a duration with a unit, such as 30s, 15m, 12h or 90d`);
  return seconds;
}

const UNITS = [
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
] as const;

/** "89 days", "3 hours", "45 seconds", "1 second": whole units, rounded down. */
export function spokenDuration(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  for (const [unit, size] of UNITS) {
    if (whole >= 2 * size) return `${Math.floor(whole / size)} ${unit}s`;
  }
  return `${whole} ${whole === 1 ? 'second' : 'seconds'}`;
}

/** How far `atSeconds` is from now: "in 89 days", "3 minutes ago", "now". */
export function untilText(atSeconds: number, nowMs: number): string {
  const left = atSeconds - nowMs / 1000;
  if (Math.abs(left) < 1) return 'now';
  return left > 0 ? `in ${spokenDuration(left)}` : `${spokenDuration(-left)} ago`;
}
