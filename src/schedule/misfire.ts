/**
 * Misfire rules for the dispatcher: pure functions over a Schedule and two instants.
 * When the daemon was down, asleep or busy, the ticks between the last planned tick
 * and now were missed; the job's misfire policy decides which of them still run.
 */
import type { Schedule } from './cron.js';

export type MisfirePolicy = 'skip' | 'run_once' | 'run_all';
export const MISFIRE_POLICIES: readonly MisfirePolicy[] = ['skip', 'run_once', 'run_all'];

/** How late a tick may be and still count as "due now" under the skip policy. */
export const DEFAULT_ON_TIME_TOLERANCE_MS = 60_000;

/**
 * Counting stops here: a per-second job down for a month has 2.6 million missed
 * ticks, and enumerating them (15-30 us each) would stall the dispatcher. Past the
 * limit the total is an estimate (exact: false) from the density of the ticks counted.
 */
export const COUNT_LIMIT = 20_000;

export interface MissedTicks {
  /** The oldest missed ticks, oldest first, at most `cap` of them. */
  ticks: number[];
  /** The newest missed tick (may lie beyond `ticks` when capped), or null when none. */
  latest: number | null;
  /** How many ticks lie in (lastTick, now]. */
  total: number;
  /** False when total is an estimate (more ticks than the count limit). */
  exact: boolean;
  capped: boolean;
  now: number;
}

/**
 * Ticks strictly after lastTick and at or before now. A null lastTick means the job
 * has no planned tick yet (just registered or enabled): nothing was missed, and the
 * dispatcher should plan from schedule.nextRun(now).
 */
export function missedTicks(
  schedule: Schedule,
  lastTick: number | null,
  now: number,
  cap: number,
  countLimit: number = COUNT_LIMIT,
): MissedTicks {
  if (!Number.isInteger(cap) || cap < 0) throw new RangeError(`cap must be a whole number >= 0, got ${cap}`);
  const none: MissedTicks = { ticks: [], latest: null, total: 0, exact: true, capped: false, now };
  if (lastTick === null || schedule.reboot || lastTick >= now) return none;
  const ticks: number[] = [];
  let total = 0;
  let t: number | null = lastTick;
  let last: number | null = null;
  while ((t = schedule.nextRun(t)) !== null && t <= now) {
    if (ticks.length < cap) ticks.push(t);
    total++;
    last = t;
    if (total >= countLimit) break;
  }
  if (total === 0) return none;
  let exact = true;
  let latest = last!;
  const beyond = total >= countLimit ? schedule.nextRun(latest) : null;
  if (beyond !== null && beyond <= now) {
    // Estimate the rest from the density so far; find the newest tick by searching
    // backwards from now in growing windows.
    exact = false;
    total += Math.max(1, Math.round(((now - latest) * total) / (latest - lastTick)));
    latest = latestTickAtOrBefore(schedule, latest, now);
  }
  return { ticks, latest, total, exact, capped: total > ticks.length, now };
}

function latestTickAtOrBefore(schedule: Schedule, floor: number, now: number): number {
  for (let span = 1_000; ; span *= 4) {
    const from = Math.max(floor, now - span);
    let best: number | null = null;
    let t: number | null = from;
    while ((t = schedule.nextRun(t)) !== null && t <= now) best = t;
    if (best !== null) return best;
    if (from === floor) return floor;
  }
}

export interface MisfirePlan {
  /** The ticks to run, oldest first. */
  run: number[];
  /** The missed ticks that will not run. */
  skipped: number;
}

/**
 * Which missed ticks run:
 * - skip: none, except the newest tick when it is due now (no more than toleranceMs late),
 *   which is simply the job running on time;
 * - run_once: the newest missed tick, once;
 * - run_all: every missed tick, oldest first, at most `cap`.
 */
export function planMisfire(
  policy: MisfirePolicy,
  missed: MissedTicks,
  cap: number,
  toleranceMs: number = DEFAULT_ON_TIME_TOLERANCE_MS,
): MisfirePlan {
  if (missed.latest === null || missed.total === 0) return { run: [], skipped: 0 };
  let run: number[];
  switch (policy) {
    case 'skip':
      run = missed.now - missed.latest <= toleranceMs ? [missed.latest] : [];
      break;
    case 'run_once':
      run = [missed.latest];
      break;
    case 'run_all':
      run = missed.ticks.slice(0, Math.max(0, cap));
      break;
    default:
      throw new RangeError(`unknown misfire policy "${policy as string}" (expected ${MISFIRE_POLICIES.join(', ')})`);
  }
  return { run, skipped: missed.total - run.length };
}
