/**
 * Bench only: issue 18's rotation guarantee, checked from the outside in two steps.
 *
 * 1. `raceRefreshes`: one refresh token presented `concurrent` times at once. Every
 *    success must carry the same successor (a loser may be told to retry, never handed a
 *    second live token).
 * 2. `reuseAfterGrace`: once the grace window has passed since the race, the spent token
 *    presented again must revoke the family, so the successor then fails with
 *    invalid_grant too.
 *
 * The bench runs other measurements between the steps rather than sleeping through the window.
 */
import type { Reply } from './load.ts';
import { json, latchkeyRefresh, type Side } from './sides.ts';

export type Race = {
  side: Side;
  concurrent: number;
  successes: number;
  successors: Set<string>;
  /** Each failure's status and error code, e.g. `400 invalid_grant`. */
  failures: string[];
  spent: string;
  endedAt: number;
};

const errorOf = (reply: Reply) => {
  try {
    return `${reply.status} ${String(json(reply.body).error)}`;
  } catch {
    return `${reply.status}`;
  }
};

export async function raceRefreshes(side: Side, concurrent: number): Promise<Race> {
  const spent = (await side.login()).refresh;
  const replies = await Promise.all(Array.from({ length: concurrent }, () => latchkeyRefresh(side.call, spent)));
  const successors = new Set<string>();
  const failures: string[] = [];
  for (const reply of replies) {
    if (reply.status === 200) successors.add(String(json(reply.body).refresh_token));
    else failures.push(errorOf(reply));
  }
  return { side, concurrent, successes: concurrent - failures.length, successors, failures, spent, endedAt: Date.now() };
}

export type Reuse = { waitedMs: number; spentAgain: string; successorAfter: string; met: boolean };

/** Waits until `graceMs` (and a second more) has passed since the race, then presents the spent token and the successor. */
export async function reuseAfterGrace(race: Race, graceMs: number): Promise<Reuse> {
  const waitedMs = Math.max(0, race.endedAt + graceMs + 1000 - Date.now());
  await new Promise((resolve) => setTimeout(resolve, waitedMs));
  const spentAgain = errorOf(await latchkeyRefresh(race.side.call, race.spent));
  const [successor] = race.successors;
  const successorAfter = successor === undefined ? 'none' : errorOf(await latchkeyRefresh(race.side.call, successor));
  const met = spentAgain === '400 invalid_grant' && successorAfter === '400 invalid_grant';
  return { waitedMs, spentAgain, successorAfter, met };
}

/** The race's own verdict: at least one success, and exactly one distinct successor among them. */
export const oneSuccessor = (race: Race) => race.successes > 0 && race.successors.size === 1;
