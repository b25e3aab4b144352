/**
 * Validates the text of a cron expression field by field and rewrites it into the
 * pattern croner gets. We validate ourselves because croner's messages do not say
 * which field is wrong (and some are off by one: "13" in the month field is reported
 * as "Invalid value for month: 12"), and so that croner only ever sees syntax whose
 * meaning we have pinned down and tested.
 *
 * Accepted: Vixie cron syntax (numbers, a-b ranges, lists, steps after * or a range,
 * 3-letter month and weekday names, 7 as Sunday), `?` as `*` in the day fields, and `L`
 * (last day of the month) in the day-of-month field.
 */
import { ValidationError } from '../errors.js';

interface FieldSpec {
  name: string;
  lo: number;
  hi: number;
  names?: readonly string[];
  /** The number the first name stands for (months count from 1). */
  nameBase?: number;
  /** The largest step croner accepts (day-of-week stops at 7 although 7 is a value). */
  maxStep: number;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] as const;
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const MONTH_NAMES = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

const SPECS: readonly FieldSpec[] = [
  { name: 'second', lo: 0, hi: 59, maxStep: 60 },
  { name: 'minute', lo: 0, hi: 59, maxStep: 60 },
  { name: 'hour', lo: 0, hi: 23, maxStep: 24 },
  { name: 'day-of-month', lo: 1, hi: 31, maxStep: 31 },
  { name: 'month', lo: 1, hi: 12, names: MONTHS, nameBase: 1, maxStep: 12 },
  { name: 'day-of-week', lo: 0, hi: 7, names: WEEKDAYS, nameBase: 0, maxStep: 7 },
];

export const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export interface NormalizedPattern {
  /** Six fields, seconds first, names replaced by numbers: what croner is given. */
  pattern: string;
  /**
   * A fixed-time job has no wildcard or step in its second, minute and hour fields
   * (`30 2 * * *`, `0 30 2,14 * * *`, `0 1-4 * * *`); every other job is an interval job.
   * The two are treated differently across DST transitions (see cron.ts).
   */
  fixedTime: boolean;
  /** Whether the day must match day-of-month AND day-of-week (Vixie: when either starts with `*`). */
  dayAnd: boolean;
  dom: string;
  month: string;
  dow: string;
}

/** Turns a macro or a 5/6-field expression into a croner pattern, or throws ValidationError. */
export function normalizePattern(expr: string, field: string): NormalizedPattern {
  let text = expr;
  if (expr.startsWith('@')) {
    const m = MACROS[expr.toLowerCase()];
    if (!m) {
      throw new ValidationError(
        `${field}: unknown macro "${expr}" (expected one of ${[...Object.keys(MACROS), '@reboot'].join(', ')})`,
        field,
      );
    }
    text = m;
  }
  const parts = text.split(' ');
  if (parts.length !== 5 && parts.length !== 6) {
    throw new ValidationError(
      `${field}: "${expr}" has ${parts.length} field${parts.length === 1 ? '' : 's'} (expected 5: minute hour day-of-month month day-of-week, or 6 with seconds first)`,
      field,
    );
  }
  // Six fields are read seconds first (Vixie-style with seconds); a Quartz or AWS expression
  // with a year last reads shifted by one, so every complaint about one says how it was read.
  const hint = parts.length === 6 ? ' (6 fields are read seconds first: second minute hour day-of-month month day-of-week; a year field, as Quartz and AWS write it last, is not supported)' : '';
  if (parts.length === 5) parts.unshift('0');
  const norm = parts.map((p, i) => normalizeField(p, SPECS[i]!, expr, field, hint));
  const [s, mi, h, dom, mon, dow] = norm as [string, string, string, string, string, string];
  const fixedTime = ![s, mi, h].some((f) => /[*/]/.test(f));
  // Vixie cron ORs the two day fields only when neither starts with '*'; croner ORs
  // unless a field is exactly '*', so `*/2` with a weekday would differ. Croner's '+'
  // prefix on day-of-week asks it for AND.
  const dayAnd = dom.startsWith('*') || dow.startsWith('*');
  const cronerDow = dayAnd && dow !== '*' ? `+${dow}` : dow;
  return { pattern: [s, mi, h, dom, mon, cronerDow].join(' '), fixedTime, dayAnd, dom, month: mon, dow };
}

function normalizeField(text: string, spec: FieldSpec, expr: string, field: string, hint: string): string {
  const fail = (why: string): never => {
    throw new ValidationError(`${field}: ${spec.name} field "${text}" in "${expr}": ${why}${hint}`, field);
  };
  const expected = () => {
    const names = spec.names ? `, a name such as ${spec.names[1]!.toUpperCase()}` : '';
    const last = spec.name === 'day-of-month' ? ", L (the month's last day)" : '';
    return `expected a number ${spec.lo}-${spec.hi}${names}, a range a-b, a list a,b, a step */n or a-b/n${last}, or *`;
  };
  const value = (tok: string): number => {
    if (/^\d+$/.test(tok)) {
      const v = Number(tok);
      if (v < spec.lo || v > spec.hi) fail(`${v} is out of range (expected ${spec.lo}-${spec.hi})`);
      return v;
    }
    const i = spec.names?.indexOf(tok.toLowerCase() as never) ?? -1;
    if (i >= 0) return i + (spec.nameBase ?? 0);
    if (spec.names && /^[a-z]+$/i.test(tok)) {
      return fail(`unknown name "${tok}" (expected one of ${spec.names.map((n) => n.toUpperCase()).join(' ')})`);
    }
    return fail(`"${tok}" is not a value (${expected()})`);
  };
  const items = text.split(',');
  const out: string[] = [];
  for (const item of items) {
    if (item === '') fail(`empty list item (${expected()})`);
    const slash = item.split('/');
    if (slash.length > 2) fail(`"${item}" has more than one step (${expected()})`);
    const [base, stepText] = slash as [string, string | undefined];
    let step = '';
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1 || Number(stepText) > spec.maxStep) {
        fail(`step "/${stepText}" is not valid (expected a whole number 1-${spec.maxStep})`);
      }
      step = `/${Number(stepText)}`;
    }
    if (base === '*' || (base === '?' && spec.name.startsWith('day'))) {
      out.push(`*${step}`);
    } else if (base.toUpperCase() === 'L' && spec.name === 'day-of-month' && !step) {
      out.push('L');
    } else if (spec.name === 'day-of-month' && /l/i.test(item)) {
      // Quartz's L-3, LW, 15L, L/2: listed as not accepted, since the message lists L itself.
      fail(`"${item}" is not accepted: of the L forms only L alone is (the month's last day; L-n, LW, nL and L/n are not supported)`);
    } else if (base.includes('-')) {
      const ends = base.split('-');
      if (ends.length !== 2 || !ends[0] || !ends[1]) fail(`"${base}" is not a range (${expected()})`);
      const a = value(ends[0]!);
      const b = value(ends[1]!);
      if (a > b) fail(`range ${base} runs backwards (expected low-high; cron ranges do not wrap)`);
      out.push(`${a}-${b}${step}`);
    } else {
      const v = value(base);
      if (step) fail(`a step needs * or a range before it (expected */n or a-b/n, not ${base}${step})`);
      out.push(String(v));
    }
  }
  return out.join(',');
}

/**
 * Why a pattern that croner says can never match never matches, in the user's terms.
 * Only the common case (a day of the month no listed month has) gets a specific reason.
 */
export function neverRunsReason(n: NormalizedPattern): string {
  if (n.dow === '*' && /^[\d,-]+$/.test(n.dom)) {
    const months = /^[\d,-]+$/.test(n.month) ? expand(n.month) : [];
    const names = months.map((m) => MONTH_NAMES[m - 1]).join(', ');
    return `day-of-month ${n.dom} never occurs in ${names || 'the listed months'}`;
  }
  return 'no date matches both the day fields and the month field';
}

function expand(list: string): number[] {
  const out: number[] = [];
  for (const item of list.split(',')) {
    const [a, b] = item.split('-').map(Number) as [number, number | undefined];
    for (let v = a; v <= (b ?? a); v++) out.push(v);
  }
  return out;
}
