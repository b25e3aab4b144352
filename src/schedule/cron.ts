/**
 * Cron expressions to next-run times. croner computes the times; this module owns
 * the rules around it: which syntaxes we accept, macros, timezones, and the error
 * messages a user sees.
 */
import { Cron } from 'croner';
import { ValidationError } from '../errors.js';

export interface Schedule {
  readonly expression: string;
  readonly timezone: string;
  /** True for @reboot: runs once when the daemon starts, never from the clock. */
  readonly reboot: boolean;
  /** The first run strictly after fromMs, or null when there is none. */
  nextRun(fromMs: number): number | null;
  /** The next n runs strictly after fromMs. */
  nextRuns(fromMs: number, n: number): number[];
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export function hostTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export function validateTimezone(tz: string, field = 'timezone'): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz;
  } catch {
    throw new ValidationError(`${field}: unknown timezone "${tz}" (expected an IANA name such as Europe/Berlin or UTC)`, field);
  }
}

export function parseSchedule(expression: string, timezone?: string | null, field = 'schedule'): Schedule {
  const expr = expression.trim().replace(/\s+/g, ' ');
  const tz = validateTimezone(timezone || hostTimezone());
  if (!expr) throw new ValidationError(`${field}: empty cron expression (expected 5 or 6 fields, or a macro such as @daily)`, field);
  if (expr.toLowerCase() === '@reboot') {
    return { expression: expr, timezone: tz, reboot: true, nextRun: () => null, nextRuns: () => [] };
  }
  let pattern = expr;
  if (expr.startsWith('@')) {
    const m = MACROS[expr.toLowerCase()];
    if (!m) {
      throw new ValidationError(
        `${field}: unknown macro "${expr}" (expected one of ${[...Object.keys(MACROS), '@reboot'].join(', ')})`,
        field,
      );
    }
    pattern = m;
  }
  const fields = pattern.split(' ');
  if (fields.length !== 5 && fields.length !== 6) {
    throw new ValidationError(
      `${field}: "${expr}" has ${fields.length} field${fields.length === 1 ? '' : 's'} (expected 5: minute hour day-of-month month day-of-week, or 6 with seconds first)`,
      field,
    );
  }
  let cron: Cron;
  try {
    cron = new Cron(pattern, { timezone: tz, paused: true, mode: '5-or-6-parts', domAndDow: false });
  } catch (e) {
    throw new ValidationError(`${field}: invalid cron expression "${expr}": ${explainCronError(e as Error, fields)}`, field);
  }
  const next = (fromMs: number): number | null => cron.nextRun(new Date(fromMs))?.getTime() ?? null;
  return {
    expression: expr,
    timezone: tz,
    reboot: false,
    nextRun: next,
    nextRuns(fromMs, n) {
      const out: number[] = [];
      let t = fromMs;
      while (out.length < n) {
        const x = next(t);
        if (x === null) break;
        out.push(x);
        t = x;
      }
      return out;
    },
  };
}

const FIELD_NAMES_5 = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
const FIELD_NAMES_6 = ['second', ...FIELD_NAMES_5];
const RANGES: Record<string, [number, number]> = {
  second: [0, 59],
  minute: [0, 59],
  hour: [0, 23],
  'day-of-month': [1, 31],
  month: [1, 12],
  'day-of-week': [0, 7],
};

/** croner's messages do not say which field is wrong; find it ourselves. */
function explainCronError(err: Error, fields: string[]): string {
  const names = fields.length === 6 ? FIELD_NAMES_6 : FIELD_NAMES_5;
  for (let i = 0; i < fields.length; i++) {
    const name = names[i]!;
    const [lo, hi] = RANGES[name]!;
    const f = fields[i]!;
    if (!/^[\d*,\-/A-Za-z?LW#]+$/.test(f)) return `${name} field "${f}" has characters cron does not use`;
    for (const n of f.match(/\d+/g) ?? []) {
      const v = Number(n);
      if (/\/\d+$/.test(f) && f.endsWith(`/${n}`)) continue;
      if (v < lo || v > hi) return `${name} field "${f}": ${v} is out of range (expected ${lo}-${hi})`;
    }
    try {
      const probe = names.map((nm, j) => (j === i ? f : nm === 'day-of-month' || nm === 'month' ? '*' : '*'));
      new Cron(probe.join(' '), { paused: true, mode: '5-or-6-parts' });
    } catch {
      return `${name} field "${f}" is not valid (expected a number ${lo}-${hi}, a range a-b, a list a,b, a step */n, or *)`;
    }
  }
  return err.message;
}
