/**
 * `smart-cron next EXPR [--timezone TZ] [--from ISO] [--count N]`: the next run times of
 * a cron expression, so a user can check a schedule (and its DST behaviour) before
 * registering a job. The commander wiring lives in main.ts; this file is the logic.
 */
import { ValidationError } from '../errors.js';
import { hostTimezone, isoInZone, parseSchedule, validateTimezone, wallToInstant } from '../schedule/cron.js';
import type { Zone } from '../schedule/zone.js';

export interface NextOptions {
  timezone?: string;
  from?: string;
  count?: string | number;
}

export interface NextResult {
  expression: string;
  timezone: string;
  /** ISO-8601 with the schedule timezone's offset, e.g. 2026-03-29T03:00:00+02:00. */
  runs: string[];
}

export const DEFAULT_COUNT = 5;
export const MAX_COUNT = 1000;

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The runs at or after --from (default: now). */
export function nextCommand(expr: string, opts: NextOptions, now: () => number = Date.now): NextResult {
  const timezone = validateTimezone(opts.timezone || hostTimezone(), '--timezone');
  const count = parseCount(opts.count);
  const schedule = parseSchedule(expr, timezone);
  const from = opts.from === undefined ? now() : parseFrom(opts.from, schedule.zone);
  // nextRuns is strictly after its argument; a run exactly at --from should be listed.
  const runs = schedule.nextRuns(from - 1, count).map((t) => isoInZone(t, schedule.zone));
  return { expression: schedule.expression, timezone, runs };
}

/** One line per run: weekday, local date and time, UTC offset. */
export function formatNext(result: NextResult): string {
  if (result.runs.length === 0) {
    return result.expression.toLowerCase() === '@reboot'
      ? 'no scheduled runs: @reboot runs once each time the daemon starts'
      : 'no upcoming runs';
  }
  return result.runs
    .map((iso) => {
      const date = iso.slice(0, 10);
      const [y, m, d] = date.split('-').map(Number) as [number, number, number];
      const weekday = WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
      return `${weekday} ${date} ${iso.slice(11, 19)} ${iso.slice(19)}  ${result.timezone}`;
    })
    .join('\n');
}

function parseCount(value: string | number | undefined): number {
  if (value === undefined || value === '') return DEFAULT_COUNT;
  const text = String(value).trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_COUNT) {
    throw new ValidationError(`--count: "${value}" is not valid (expected a whole number 1-${MAX_COUNT})`, '--count');
  }
  return n;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * An ISO-8601 date or date-time. With an offset (Z, +02:00) it is an instant; without,
 * it is a wall time in the schedule's timezone, which is what a user checking a
 * schedule in that zone means.
 */
function parseFrom(text: string, zone: Zone): number {
  const fail = (): never => {
    throw new ValidationError(
      `--from: "${text}" is not an ISO-8601 date or date-time (expected e.g. 2026-03-29, 2026-03-29T01:30 or 2026-03-29T01:30:00+01:00; without an offset it is read in the schedule's timezone)`,
      '--from',
    );
  };
  const m = ISO.exec(text.trim());
  if (!m) return fail();
  const [y, mo, d, h = 0, mi = 0, s = 0] = m.slice(1, 7).map((x) => (x === undefined ? undefined : Number(x))) as number[];
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const check = new Date(0);
  check.setUTCFullYear(y!, mo! - 1, d!);
  check.setUTCHours(h, mi, s, ms);
  const wall = check.getTime();
  // Date.UTC rolls 2026-02-30 over to March; a real date survives the round trip.
  if (mo! < 1 || mo! > 12 || h > 23 || mi > 59 || s > 59 || check.getUTCDate() !== d || check.getUTCMonth() !== mo! - 1) {
    return fail();
  }
  const offset = m[8];
  if (!offset) return wallToInstant(wall, zone);
  if (offset.toUpperCase() === 'Z') return wall;
  const om = /^([+-])(\d{2}):?(\d{2})$/.exec(offset)!;
  const minutes = Number(om[2]) * 60 + Number(om[3]);
  if (Number(om[2]) > 23 || Number(om[3]) > 59) return fail();
  return wall - (om[1] === '-' ? -1 : 1) * minutes * 60_000;
}
