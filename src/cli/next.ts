/**
 * `smart-cron next EXPR [--timezone TZ] [--from ISO] [--count N]`: the next run times of
 * a cron expression, so a user can check a schedule (and its DST behaviour) before
 * registering a job. The commander wiring lives in main.ts; this file is the logic.
 */
import { ValidationError } from '../errors.js';
import { defaultTimezone, isoInZone, parseSchedule, validateTimezone } from '../schedule/cron.js';
import { parseFrom } from '../schedule/from.js';
import { decimalWhole } from './words.js';

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

/** The runs at or after --from (default: now), in --timezone (default: the home's, what a job without one runs in). */
export function nextCommand(expr: string, opts: NextOptions, now: () => number = Date.now): NextResult {
  const timezone = validateTimezone(opts.timezone || defaultTimezone(), '--timezone');
  const count = parseCount(opts.count);
  const schedule = parseSchedule(expr, timezone);
  const from = opts.from === undefined ? now() : parseFrom(opts.from, schedule.zone, '--from');
  const runs = schedule.runsFrom(from, count).map((t) => isoInZone(t, schedule.zone));
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
  const n = decimalWhole(String(value));
  if (n === null || n < 1 || n > MAX_COUNT) {
    throw new ValidationError(`--count: "${value}" is not valid (expected a whole number 1-${MAX_COUNT})`, '--count');
  }
  return n;
}
