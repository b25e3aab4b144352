/**
 * DST: every transition of a year in zones with different kinds of shifts, each
 * checked against the brute-force reference (reference.ts), plus hand-written cases
 * for the promises a person would check first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoInZone, parseSchedule } from '../../src/schedule/cron.js';
import { referenceRuns, timeline, transitions } from './reference.js';

const HOUR = 3_600_000;

/** Zones and the year whose transitions we check (Tehran dropped DST after 2022). */
const ZONES: Array<[tz: string, year: number, why: string]> = [
  ['Europe/Berlin', 2026, '02:00 -> 03:00, 03:00 -> 02:00'],
  ['America/New_York', 2026, 'western hemisphere'],
  ['Australia/Sydney', 2026, 'southern hemisphere'],
  ['Australia/Lord_Howe', 2026, '30-minute shift'],
  ['America/Santiago', 2026, 'transitions at midnight'],
  ['America/Havana', 2026, 'transitions at midnight (01:00 -> 00:00 in autumn)'],
  ['Asia/Tehran', 2021, 'transitions at midnight, +03:30'],
  ['Pacific/Chatham', 2026, '+12:45 / +13:45, 02:45 -> 03:45'],
  ['Pacific/Apia', 2011, 'skipped a whole day (2011-12-30)'],
  ['UTC', 2026, 'no transitions at all'],
];

/** Fixed-time jobs at the usual transition times, interval jobs, 6-field, macros. */
const PATTERNS = [
  '30 2 * * *', '0 2 * * *', '15 2 * * *', '45 2 * * *', '0 3 * * *', '59 1 * * *', '30 3 * * *',
  '0 0 * * *', '30 0 * * *', '30 23 * * *', '0 1 * * *', '30 1 * * *', '15 0 * * *',
  '30 2,14 * * *', '0 1-4 * * *', '0,30 2 * * *', '0 30 2 * * *', '@daily', '@hourly',
  '*/15 * * * *', '0 * * * *', '30 * * * *', '0 */2 * * *', '*/10 2 * * *', '* * * * *',
  '*/20 * * * * *', '0 9 * * MON-FRI',
];

for (const [tz, year, why] of ZONES) {
  test(`DST ${tz} ${year} (${why}) matches the brute-force reference`, () => {
    let trs = transitions(tz, Date.UTC(year, 0, 1), Date.UTC(year + 1, 0, 1));
    if (tz === 'Pacific/Apia') trs = trs.filter((t) => t > Date.UTC(2011, 11, 1));
    if (tz === 'UTC') trs = [Date.UTC(year, 2, 29, 1)];
    else assert.ok(trs.length >= 1, `${tz} has transitions in ${year}`);
    for (const T of trs) {
      const from = T - 12 * HOUR;
      const to = T + 12 * HOUR;
      // Room on both sides: before `from` so a repeated hour is known as one, after `to`
      // so the reference knows the next run after every sampled instant.
      const refEnd = T + 30 * HOUR;
      const tl = timeline(tz, from - 6 * HOUR, refEnd);
      for (const p of PATTERNS) {
        const s = parseSchedule(p, tz);
        const ref = referenceRuns(p, tl, from, refEnd);
        const seq: number[] = [];
        for (let t = s.nextRun(from); t !== null && t <= to; t = s.nextRun(t)) seq.push(t);
        const show = (xs: number[]) => xs.map((x) => isoInZone(x, s.zone));
        assert.deepEqual(show(seq), show(ref.filter((x) => x <= to)), `${p} in ${tz} around ${new Date(T).toISOString()}`);
        // nextRun from instants all around the transition, including inside a repeated hour.
        for (let f = T - 3 * HOUR; f < T + 3 * HOUR; f += 17 * 60_000 + 7_000) {
          const want = ref.find((x) => x > f);
          const got = s.nextRun(f);
          // Beyond the reference window (a weekday job on a weekend transition): only "later".
          if (want === undefined) {
            assert.ok(got === null || got > refEnd, `${p} in ${tz}: nextRun(${new Date(f).toISOString()})`);
            continue;
          }
          assert.equal(got, want, `${p} in ${tz}: nextRun(${new Date(f).toISOString()}) = ${got && isoInZone(got, s.zone)}, want ${want && isoInZone(want, s.zone)}`);
        }
      }
    }
  });
}

/** The promises, spelled out: [expression, tz, from (UTC), expected next runs (local ISO)]. */
const CASES: Array<[string, string, string, string[]]> = [
  // Spring gap: a fixed time in the gap runs once, at the first instant after it.
  ['30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', ['2026-03-29T03:00:00+02:00', '2026-03-30T02:30:00+02:00']],
  ['0,30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', ['2026-03-29T03:00:00+02:00', '2026-03-30T02:00:00+02:00']],
  ['0 2,3 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', ['2026-03-29T03:00:00+02:00', '2026-03-30T02:00:00+02:00']],
  ['15 2 * * *', 'Australia/Lord_Howe', '2026-10-03T00:00:00Z', ['2026-10-04T02:30:00+11:00', '2026-10-05T02:15:00+11:00']],
  ['0 0 * * *', 'America/Santiago', '2026-09-05T12:00:00Z', ['2026-09-06T01:00:00-03:00', '2026-09-07T00:00:00-03:00']],
  ['0 9 * * *', 'Pacific/Apia', '2011-12-29T20:00:00Z', ['2011-12-31T00:00:00+14:00', '2011-12-31T09:00:00+14:00']],
  // Autumn repeat: a fixed time runs once, at its first occurrence.
  ['30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', ['2026-10-25T02:30:00+02:00', '2026-10-26T02:30:00+01:00']],
  ['30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', ['2026-11-01T01:30:00-04:00', '2026-11-02T01:30:00-05:00']],
  ['30 23 * * *', 'America/Santiago', '2026-04-04T12:00:00Z', ['2026-04-04T23:30:00-03:00', '2026-04-05T23:30:00-04:00']],
  // From inside the repeated hour, after the first occurrence: not again.
  ['30 2 * * *', 'Europe/Berlin', '2026-10-25T01:00:00Z', ['2026-10-26T02:30:00+01:00']],
  // Interval jobs keep real spacing: the gap hour is skipped, the repeated hour runs twice.
  ['0 * * * *', 'Europe/Berlin', '2026-03-29T00:30:00Z', ['2026-03-29T03:00:00+02:00', '2026-03-29T04:00:00+02:00']],
  ['0 * * * *', 'Europe/Berlin', '2026-10-24T23:30:00Z', ['2026-10-25T02:00:00+02:00', '2026-10-25T02:00:00+01:00', '2026-10-25T03:00:00+01:00']],
  ['*/30 * * * *', 'Europe/Berlin', '2026-03-29T00:40:00Z', ['2026-03-29T03:00:00+02:00', '2026-03-29T03:30:00+02:00']],
  ['0 * * * *', 'Australia/Lord_Howe', '2026-10-03T14:45:00Z', ['2026-10-04T03:00:00+11:00']],
];

test('DST promises, spelled out', () => {
  for (const [expr, tz, from, want] of CASES) {
    const s = parseSchedule(expr, tz);
    const got = s.nextRuns(Date.parse(from), want.length).map((t) => isoInZone(t, s.zone));
    assert.deepEqual(got, want, `${expr} in ${tz} from ${from}`);
  }
});

test('interval jobs never run twice at one instant and never leave a real hour empty', () => {
  for (const tz of ['Europe/Berlin', 'America/New_York', 'Australia/Sydney']) {
    const s = parseSchedule('0 * * * *', tz);
    for (const T of transitions(tz, Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1))) {
      const runs = s.nextRuns(T - 5 * HOUR, 10);
      for (let i = 1; i < runs.length; i++) assert.equal(runs[i]! - runs[i - 1]!, HOUR, `${tz} ${isoInZone(runs[i]!, s.zone)}`);
    }
  }
});

test('the result does not depend on the host timezone (TZ is read only as the default)', () => {
  const s = parseSchedule('30 2 * * *', 'Europe/Berlin');
  assert.equal(s.nextRun(Date.parse('2026-03-28T12:00:00Z')), Date.parse('2026-03-29T01:00:00Z'));
  assert.equal(parseSchedule('0 12 * * *', 'UTC').nextRun(Date.parse('2026-03-28T12:00:00Z')), Date.parse('2026-03-29T12:00:00Z'));
});
