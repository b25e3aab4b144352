/**
 * A brute-force reference for the schedule module, independent of croner and of
 * src/schedule: its own cron matcher, and a walk over every UTC minute that reads
 * the wall clock with Intl.DateTimeFormat. It is slow and simple on purpose; the
 * tests hold the real implementation to its answers around DST transitions.
 *
 * The rules it encodes (the product promise, see the comment atop src/schedule/cron.ts):
 * - fixed-time jobs (no `*`, `?` or `/` in the second, minute and hour fields): a wall
 *   time in a spring-forward gap runs once, at the first instant after the gap; a wall
 *   time that occurs twice runs once, at its first occurrence;
 * - interval jobs (everything else): wall times in a gap are skipped; a repeated wall
 *   time runs at both occurrences (they are distinct real instants).
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

function parseField(text: string, lo: number, hi: number, names: string[] = [], nameBase = 0): Set<number> {
  const out = new Set<number>();
  const num = (s: string): number => {
    const i = names.indexOf(s.toLowerCase());
    if (i >= 0) return i + nameBase;
    if (!/^\d+$/.test(s)) throw new Error(`bad value ${s}`);
    return Number(s);
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    let a: number;
    let b: number;
    if (range === '*' || range === '?') [a, b] = [lo, hi];
    else if (range!.includes('-')) [a, b] = range!.split('-').map(num) as [number, number];
    else [a, b] = [num(range!), stepText === undefined ? num(range!) : hi];
    for (let v = a; v <= b; v += step) out.add(v);
  }
  return out;
}

export interface RefMatcher {
  fixed: boolean;
  seconds: number[];
  /** Does this wall minute (a naive time: wall clock read as if it were UTC) match? */
  matchMinute(wallMinuteMs: number): boolean;
}

export function refMatcher(expression: string): RefMatcher {
  let expr = expression.trim();
  expr = MACROS[expr.toLowerCase()] ?? expr;
  let f = expr.split(/\s+/);
  if (f.length === 5) f = ['0', ...f];
  const [sec, min, hour, dom, mon, dow] = f as [string, string, string, string, string, string];
  const S = parseField(sec, 0, 59);
  const Mi = parseField(min, 0, 59);
  const H = parseField(hour, 0, 23);
  const D = parseField(dom, 1, 31);
  const Mo = parseField(mon, 1, 12, MONTHS, 1);
  const W = parseField(dow, 0, 7, DAYS);
  if (W.has(7)) W.add(0);
  // Vixie cron: a field "is star" when its text starts with '*'; only when neither does
  // the day match on day-of-month OR day-of-week.
  const domStar = dom.startsWith('*') || dom === '?';
  const dowStar = dow.startsWith('*') || dow === '?';
  const fixed = ![sec, min, hour].some((x) => /[*?/]/.test(x));
  return {
    fixed,
    seconds: [...S].sort((a, b) => a - b),
    matchMinute(w) {
      const d = new Date(w);
      if (!Mi.has(d.getUTCMinutes()) || !H.has(d.getUTCHours()) || !Mo.has(d.getUTCMonth() + 1)) return false;
      const dm = D.has(d.getUTCDate());
      const dw = W.has(d.getUTCDay());
      return domStar || dowStar ? dm && dw : dm || dw;
    },
  };
}

/** For each UTC minute in a window, the wall minute it shows in tz. */
export interface Timeline {
  tz: string;
  utc: number[];
  wall: number[];
}

const formatters = new Map<string, Intl.DateTimeFormat>();
export function wallOf(ms: number, tz: string): number {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const x of f.formatToParts(ms)) if (x.type !== 'literal') p[x.type] = Number(x.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) + (ms % 1000);
}

export function timeline(tz: string, fromMs: number, toMs: number): Timeline {
  const utc: number[] = [];
  const wall: number[] = [];
  const start = Math.floor(fromMs / 60000) * 60000;
  for (let m = start; m <= toMs; m += 60000) {
    utc.push(m);
    wall.push(wallOf(m, tz));
  }
  return { tz, utc, wall };
}

/**
 * Every run instant in (fromMs, toMs] by the rules above. The timeline must start a few
 * hours before fromMs so a repeated hour is recognised as a repeat.
 */
export function referenceRuns(expression: string, tl: Timeline, fromMs: number, toMs: number): number[] {
  const m = refMatcher(expression);
  const runs = new Set<number>();
  let maxWallSeen = -Infinity;
  for (let i = 0; i < tl.utc.length; i++) {
    const t = tl.utc[i]!;
    const w = tl.wall[i]!;
    if (i > 0) {
      const prev = tl.wall[i - 1]!;
      if (w - prev > 60000 && m.fixed) {
        for (let g = prev + 60000; g < w; g += 60000) {
          if (m.matchMinute(g)) runs.add(t);
        }
      }
    }
    const repeated = w <= maxWallSeen;
    if (m.matchMinute(w) && !(repeated && m.fixed)) {
      for (const s of m.seconds) runs.add(t + s * 1000);
    }
    maxWallSeen = Math.max(maxWallSeen, w);
  }
  return [...runs].filter((x) => x > fromMs && x <= toMs).sort((a, b) => a - b);
}

/** UTC instants (to the minute) where tz's offset changes, between fromMs and toMs. */
export function transitions(tz: string, fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  const off = (ms: number) => wallOf(ms, tz) - ms;
  const HOUR = 3600000;
  for (let t = fromMs; t < toMs; t += HOUR) {
    if (off(t) === off(t + HOUR)) continue;
    let lo = t;
    let hi = t + HOUR;
    while (hi - lo > 60000) {
      const mid = lo + Math.floor((hi - lo) / 120000) * 60000;
      if (off(mid) === off(t)) lo = mid;
      else hi = mid;
    }
    out.push(hi);
  }
  return out;
}
