/** Durations as people write them, for the Worker's settings and the CLI's flags. */
const DURATION = /^(\d+)(s|m|h|d)?$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

export const DURATION_HINT = 'a positive duration such as 900, 15m, 12h or 30d';

/** "900", "15m", "30d" -> seconds; null for anything else, zero included. */
export function durationSeconds(text: string): number | null {
  const match = DURATION.exec(text.trim());
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[(match[2] ?? 's') as keyof typeof UNIT_SECONDS] : 0;
  return seconds > 0 ? seconds : null;
}
