// Cron expressions to next-run times.
//
// croner matches the calendar (which second/minute/hour/day/month fit the pattern),
// but only in a DST-free frame: we give it wall-clock times encoded as UTC (see
// zone.ts). Mapping wall times to real instants, and every DST decision, is ours:
//
// - Fixed-time jobs (no `*`, `?` or step in the second, minute and hour fields, e.g.
//   `30 2 * * *`, `0 2,14 * * *`, `0 1-4 * * *`, @daily): a wall time in a spring-forward
//   gap runs ONCE, at the first instant after the gap (several times in one gap, or a
//   gap time and the time right after it, coalesce into that one run); a wall time that
//   occurs twice in autumn runs ONCE, at its first occurrence. People schedule these to
//   mean "once a day at about this time", and a backup must neither vanish nor run twice.
//   This holds for whole-day gaps too (Samoa skipped 2011-12-30: that day's runs happen
//   at the first instant of 12-31), where croner itself skips the run.
// - Interval jobs (everything else: `*/15 * * * *`, `0 * * * *`, `0 */2 * * *`): wall times
//   in a gap are skipped, and a repeated wall time runs at both occurrences. Both
//   occurrences are distinct real instants, so this keeps the real spacing: an hourly job
//   runs every real hour through both transitions (never twice at one instant, never an
//   hour missing), and `*/15` keeps running every 15 real minutes. Where the shift is not
//   a multiple of the interval the spacing bends once (Lord Howe's 30-minute spring shift
//   gives an hourly job one 90-minute gap; `0 */2` runs at 00:00, 02:00 CEST and 02:00 CET).
//   This matches Vixie cron and croner for wildcard jobs.
//
// Day-of-month and day-of-week follow Vixie cron: a day matches either field when both
// are restricted, and both fields when either starts with `*` (so `0 0 */2 * MON` means odd
// days that are Mondays, as in Vixie cron and cronie; croner alone would OR them).
//
// Verified against a brute-force reference in test/schedule (Intl, minute by minute).

import { Cron } from 'croner';
import { ValidationError } from '../errors.js';
import { neverRunsReason, normalizePattern } from './fields.js';
import { canonicalTimezone, systemTimezone } from './names.js';
import { isValidTimezone, makeZone, type Zone } from './zone.js';

export { isoInZone } from './zone.js';

export interface Schedule {
  readonly expression: string;
  readonly timezone: string;
  /** True for @reboot: runs once when the daemon starts, never from the clock. */
  readonly reboot: boolean;
  /** How DST transitions treat this schedule (see the top of cron.ts); false for @reboot. */
  readonly fixedTime: boolean;
  /** The first run strictly after fromMs, or null when there is none. */
  nextRun(fromMs: number): number | null;
  /** The next n runs strictly after fromMs. */
  nextRuns(fromMs: number, n: number): number[];
  /**
   * The next n runs at or after fromMs: what a preview from a time lists (`smart-cron next
   * --from`, the API's schedule preview), so a run exactly at that time is among them.
   */
  runsFrom(fromMs: number, n: number): number[];
  /** Wall clock <-> instant for this schedule's timezone. */
  readonly zone: Zone;
}

const DAY = 86_400_000;
/** Far more wall matches than any real next-run needs; a guard against a logic error looping. */
const MAX_STEPS = 200_000;

/**
 * The zone of a job without its own: the home's (config.yaml `timezone`), which loadConfig
 * sets for the process; until then (a process that opened no home) the machine's zone.
 * One process serves one home, so this is process-wide, and every process of a home (the
 * daemon, each CLI command, whatever TZ its shell has) reads the same zone.
 */
let homeZone: string | null = null;

export function defaultTimezone(): string {
  return homeZone ?? systemTimezone();
}

/** Set by loadConfig: the zone config.yaml names, or the machine's when it names none. */
export function setDefaultTimezone(tz: string): void {
  homeZone = validateTimezone(tz);
}

/** A valid IANA name in the tz database's spelling (what is stored), or a ValidationError naming `field`. */
export function validateTimezone(tz: string, field = 'timezone'): string {
  if (!isValidTimezone(tz)) {
    throw new ValidationError(`${field}: unknown timezone "${tz}" (expected an IANA name such as Europe/Berlin or UTC)`, field);
  }
  return canonicalTimezone(tz);
}

/** One Zone per timezone (its Intl formatter and offset cache); valid IANA names only, so bounded. */
const zones = new Map<string, Zone>();

/** The Zone of a timezone name (default: the home's); one per zone, shared by its schedules. */
export function zoneOf(timezone?: string | null): Zone {
  const tz = timezone || defaultTimezone();
  let zone = zones.get(tz);
  if (!zone) {
    zone = makeZone(validateTimezone(tz));
    zones.set(tz, zone);
  }
  return zone;
}

/**
 * Parsed schedules by timezone and expression. A Schedule is immutable and parsing is not cheap
 * (validating the zone and building its Intl formatter, croner's parse, a first match): the
 * daemon asks for the same few hundred schedules on every tick it plans. Bounded; oldest out.
 */
const parsed = new Map<string, Schedule>();
const PARSED_MAX = 2000;

/** A cron expression (5 or 6 fields, or a macro) in a timezone (default: the home's, defaultTimezone()). Throws ValidationError naming `field`. */
export function parseSchedule(expression: string, timezone?: string | null, field = 'schedule'): Schedule {
  const expr = expression.trim().replace(/\s+/g, ' ');
  const tzName = timezone || defaultTimezone();
  const key = `${tzName}\n${expr}`;
  const hit = parsed.get(key);
  if (hit) return hit;
  const schedule = parseUncached(expr, tzName, field);
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
  parsed.set(key, schedule);
  return schedule;
}

function parseUncached(expr: string, given: string, field: string): Schedule {
  const zone = zoneOf(given);
  const tz = zone.tz;
  if (!expr) throw new ValidationError(`${field}: empty cron expression (expected 5 or 6 fields, or a macro such as @daily)`, field);
  if (expr.toLowerCase() === '@reboot') {
    return { expression: expr, timezone: tz, reboot: true, fixedTime: false, zone, nextRun: () => null, nextRuns: () => [], runsFrom: () => [] };
  }
  const norm = normalizePattern(expr, field);
  let cron: Cron;
  try {
    // utcOffset 0: croner matches in the DST-free wall frame (and is ~25x faster than with a timezone).
    cron = new Cron(norm.pattern, { utcOffset: 0, paused: true, mode: '6-part', domAndDow: false });
  } catch (e) {
    // Our validation should have caught everything croner rejects; say what croner said.
    throw new ValidationError(`${field}: invalid cron expression "${expr}": ${(e as Error).message}`, field);
  }
  const matchAfter = (wall: number): number | null => cron.nextRun(new Date(wall))?.getTime() ?? null;
  if (matchAfter(Date.UTC(2000, 0, 1)) === null) {
    throw new ValidationError(`${field}: "${expr}" never runs: ${neverRunsReason(norm)}`, field);
  }
  const nextRun = (fromMs: number) => nextInstant(fromMs, zone, norm.fixedTime, matchAfter);
  const nextRuns = (fromMs: number, n: number) => {
    const out: number[] = [];
    let t = fromMs;
    while (out.length < n) {
      const x = nextRun(t);
      if (x === null) break;
      out.push(x);
      t = x;
    }
    return out;
  };
  return {
    expression: expr,
    timezone: tz,
    reboot: false,
    fixedTime: norm.fixedTime,
    zone,
    nextRun,
    nextRuns,
    // Runs fall on whole milliseconds, so "after from - 1 ms" is "at or after from".
    runsFrom: (fromMs, n) => nextRuns(fromMs - 1, n),
  };
}

/**
 * Walks wall-clock matches upward and maps each to its run instant(s) under the rules
 * above, keeping the earliest run after fromMs. The earliest instant of a wall time
 * never decreases as the wall time increases (only second occurrences go back), so once
 * a match's earliest instant reaches the best run so far, no later match can beat it.
 */
function nextInstant(fromMs: number, zone: Zone, fixed: boolean, matchAfter: (wall: number) => number | null): number | null {
  // Before an autumn transition, wall times just below now's will occur again after it.
  const repeatAhead = Math.max(0, zone.offset(fromMs) - zone.offset(fromMs + DAY));
  let cursor = zone.wall(fromMs) - repeatAhead - 1;
  let best: number | null = null;
  for (let i = 0; i < MAX_STEPS; i++) {
    const w = matchAfter(cursor);
    if (w === null) break;
    const r = zone.resolve(w);
    let earliest: number;
    if (r.kind === 'gap') {
      if (fixed && r.at > fromMs && (best === null || r.at < best)) best = r.at;
      earliest = r.at;
      // Every wall time in this gap resolves the same way; jump past it.
      cursor = Math.max(w, r.endWall - 1);
    } else {
      for (const t of fixed ? r.instants.slice(0, 1) : r.instants) {
        if (t > fromMs && (best === null || t < best)) best = t;
      }
      earliest = r.instants[0]!;
      cursor = w;
    }
    if (best !== null && earliest >= best) break;
  }
  return best;
}

/**
 * The instant a wall-clock time names in this zone: its first occurrence when it occurs
 * twice, and the first instant after the gap when it does not exist. For reading
 * user input such as `--from 2026-03-29T02:30` in the schedule's timezone.
 */
export function wallToInstant(wall: number, zone: Zone): number {
  const r = zone.resolve(wall);
  return r.kind === 'gap' ? r.at : r.instants[0]!;
}
