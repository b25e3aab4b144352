/**
 * Wall clock <-> instant for one IANA timezone, read from Intl (the ICU data Node
 * ships), so the schedule module owns every DST decision instead of inheriting them.
 *
 * A "wall time" here is a naive local date-time encoded as if it were UTC: the wall
 * time 2026-03-29 02:30 in Berlin is Date.UTC(2026, 2, 29, 2, 30). Calendar arithmetic
 * (croner's matching) then runs in a frame with no DST at all.
 */
const DAY = 86_400_000;

export type WallResolution =
  /** The wall time exists once or twice (a repeated autumn hour); instants ascending. */
  | { kind: 'exists'; instants: number[] }
  /** The wall time falls in a gap; `at` is the first instant after it, `endWall` the wall time there. */
  | { kind: 'gap'; at: number; endWall: number };

export interface Zone {
  readonly tz: string;
  /** wall - utc at this instant, in ms (whole seconds). */
  offset(ms: number): number;
  wall(ms: number): number;
  resolve(wall: number): WallResolution;
}

export function makeZone(tz: string): Zone {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
    era: 'short',
  });
  const read = (ms: number): number => {
    const p: Record<string, string> = {};
    for (const x of fmt.formatToParts(ms)) p[x.type] = x.value;
    let year = Number(p.year);
    if (p.era === 'BC' || p.era === 'B') year = 1 - year;
    const d = new Date(0);
    d.setUTCFullYear(year, Number(p.month) - 1, Number(p.day));
    d.setUTCHours(Number(p.hour), Number(p.minute), Number(p.second), 0);
    return d.getTime() - Math.floor(ms / 1000) * 1000;
  };
  // formatToParts costs 6-50 us and dominates a next-run computation, so offsets are
  // cached by span: a UTC day (then hour) that starts and ends on the same offset is
  // taken to have no transition inside (no zone has had two opposite transitions within
  // a day since the 1940s); inside a span with a transition, offsets are read per minute
  // (every transition since the 1970s falls on a whole minute).
  const reads = new Map<number, number>();
  const at = (ms: number): number => {
    let v = reads.get(ms);
    if (v === undefined) {
      if (reads.size > 100_000) reads.clear();
      v = read(ms);
      reads.set(ms, v);
    }
    return v;
  };
  const SPANS = [86_400_000, 3_600_000];
  const offset = (ms: number): number => {
    for (const span of SPANS) {
      const start = Math.floor(ms / span) * span;
      const a = at(start);
      if (a === at(start + span)) return a;
    }
    return at(Math.floor(ms / 60_000) * 60_000);
  };

  return {
    tz,
    offset,
    wall: (ms) => ms + offset(ms),
    resolve(w) {
      // The offsets in force a day either side; one transition at most lies between.
      const before = offset(w - DAY);
      const after = offset(w + DAY);
      const instants: number[] = [];
      for (const o of before === after ? [before] : [before, after]) {
        const t = w - o;
        if (offset(t) === o) instants.push(t);
      }
      if (instants.length > 0) return { kind: 'exists', instants: instants.sort((a, b) => a - b) };
      // Two transitions within two days (nothing in the tz database since the 1940s):
      // give up on precision rather than invent a gap.
      if (before === after) return { kind: 'exists', instants: [w - before] };
      // A gap: the transition lies in (w - after, w - before]. Find its first second.
      let lo = Math.floor((w - Math.max(before, after)) / 1000);
      let hi = Math.ceil((w - Math.min(before, after)) / 1000);
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offset(mid * 1000) === before) lo = mid;
        else hi = mid;
      }
      const at = hi * 1000;
      return { kind: 'gap', at, endWall: at + offset(at) };
    },
  };
}

export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The ISO-8601 text of an instant in this zone: 2026-03-29T03:00:00+02:00. */
export function isoInZone(ms: number, zone: Zone): string {
  const off = zone.offset(ms);
  const w = new Date(ms + off).toISOString().slice(0, 19);
  const a = Math.abs(off) / 1000;
  const hh = String(Math.floor(a / 3600)).padStart(2, '0');
  const mm = String(Math.floor((a % 3600) / 60)).padStart(2, '0');
  const ss = a % 60 ? `:${String(a % 60).padStart(2, '0')}` : '';
  return `${w}${off < 0 ? '-' : '+'}${hh}:${mm}${ss}`;
}
