import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../src/errors.js';
import { defaultTimezone, isoInZone, parseSchedule, validateTimezone } from '../../src/schedule/cron.js';
import { systemTimezone } from '../../src/schedule/names.js';

const runs = (expr: string, from: string, n: number, tz = 'UTC') => {
  const s = parseSchedule(expr, tz);
  return s.nextRuns(Date.parse(from), n).map((t) => isoInZone(t, s.zone));
};

function rejects(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValidationError, `expected ValidationError, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} should mention ${JSON.stringify(f)}`);
    return true;
  });
}

test('invalid expressions name the field and what was expected', () => {
  const cases: Array<[string, ...string[]]> = [
    ['61 * * * *', 'minute', '61', '0-59'],
    ['* 24 * * *', 'hour', '24', '0-23'],
    ['* * 0 * *', 'day-of-month', '0', '1-31'],
    ['* * 32 * *', 'day-of-month', '1-31'],
    ['* * * 13 *', 'month', '13', '1-12'],
    ['* * * 0 *', 'month', '1-12'],
    ['* * * * 8', 'day-of-week', '0-7'],
    ['60 * * * * *', 'second', '0-59'],
    ['* 60 * * * *', 'minute', '0-59'],
    ['a * * * *', 'minute', '"a"', 'expected a number 0-59'],
    ['0 0 x * *', 'day-of-month', '"x"', "L (the month's last day)"],
    ['*/0 * * * *', 'minute', 'step', '1-60'],
    ['*/61 * * * *', 'minute', 'step', '1-60'],
    ['5/10 * * * *', 'minute', 'step needs * or a range'],
    ['5-1 * * * *', 'minute', 'runs backwards'],
    ['1,,2 * * * *', 'minute', 'empty list item'],
    ['* * * FOO *', 'month', 'unknown name "FOO"', 'JAN'],
    ['* * * * FUNDAY', 'day-of-week', 'unknown name', 'MON'],
    ['* * * * MON-', 'day-of-week', 'not a range'],
    ['* * L * 1L', 'day-of-week'],
    // Quartz's other L forms: refused as such, since the message lists L itself as accepted.
    ['0 0 L-3 * *', 'day-of-month', '"L-3" is not accepted', 'only L alone', 'L-n'],
    ['0 0 L/2 * *', 'day-of-month', '"L/2" is not accepted', 'L/n'],
    ['0 0 LW * *', 'day-of-month', '"LW" is not accepted'],
    ['0 0 15L * *', 'day-of-month', '"15L" is not accepted'],
    // A year last (Quartz, AWS) in 6 fields: the complaint says they are read seconds first.
    ['0 0 1 1 * 2026', 'day-of-week', '2026 is out of range', '6 fields are read seconds first', 'a year field'],
    ['0 0 12 * * ? 2026', '7 fields'],
    ['? * * * *', 'minute'],
    ['* * * * * * *', '7 fields', 'expected 5'],
    ['* * * *', '4 fields', 'expected 5'],
    ['', 'empty'],
    ['@fortnightly', 'unknown macro', '@daily', '@reboot'],
    ['0 0 31 2 *', 'never runs', 'day-of-month 31', 'February'],
    ['0 0 30,31 2 *', 'never runs', 'February'],
    ['0 0 31 4,6 *', 'never runs', 'April, June'],
    ['0 0 30 2 */2', 'never runs'],
  ];
  for (const [expr, ...fragments] of cases) {
    rejects(() => parseSchedule(expr, 'UTC'), 'schedule', ...fragments);
  }
  rejects(() => parseSchedule('61 * * * *', 'UTC', 'jobs[3].schedule'), 'jobs[3].schedule: minute');
});

test('valid expressions: names, 7 as Sunday, ranges, steps, lists, ?, L', () => {
  const cases: Array<[string, string, string[]]> = [
    ['0 0 * * 7', '2026-03-25T00:00:00Z', ['2026-03-29T00:00:00+00:00']],
    ['0 0 * * 0', '2026-03-25T00:00:00Z', ['2026-03-29T00:00:00+00:00']],
    ['0 0 * * SUN', '2026-03-25T00:00:00Z', ['2026-03-29T00:00:00+00:00']],
    ['0 0 * * 5-7', '2026-03-25T00:00:00Z', ['2026-03-27T00:00:00+00:00', '2026-03-28T00:00:00+00:00', '2026-03-29T00:00:00+00:00', '2026-04-03T00:00:00+00:00']],
    ['0 0 * * mon-fri', '2026-03-27T12:00:00Z', ['2026-03-30T00:00:00+00:00']],
    ['0 12 1 jan,JUL *', '2026-03-25T00:00:00Z', ['2026-07-01T12:00:00+00:00', '2027-01-01T12:00:00+00:00']],
    ['0 0 1 feb-apr/2 *', '2026-01-15T00:00:00Z', ['2026-02-01T00:00:00+00:00', '2026-04-01T00:00:00+00:00', '2027-02-01T00:00:00+00:00']],
    ['*/20 9-10 * * *', '2026-03-25T09:30:00Z', ['2026-03-25T09:40:00+00:00', '2026-03-25T10:00:00+00:00', '2026-03-25T10:20:00+00:00', '2026-03-25T10:40:00+00:00', '2026-03-26T09:00:00+00:00']],
    ['0 10-20/5 * * *', '2026-03-25T00:00:00Z', ['2026-03-25T10:00:00+00:00', '2026-03-25T15:00:00+00:00', '2026-03-25T20:00:00+00:00']],
    ['0 0 ? * MON', '2026-03-25T00:00:00Z', ['2026-03-30T00:00:00+00:00']],
    ['0 0 L * *', '2026-02-15T00:00:00Z', ['2026-02-28T00:00:00+00:00', '2026-03-31T00:00:00+00:00', '2026-04-30T00:00:00+00:00']],
    ['0 0 l * *', '2026-02-15T00:00:00Z', ['2026-02-28T00:00:00+00:00']], // case-insensitive, as names are
    ['  0   0  *  *  * ', '2026-03-25T12:00:00Z', ['2026-03-26T00:00:00+00:00']],
  ];
  for (const [expr, from, want] of cases) assert.deepEqual(runs(expr, from, want.length), want, expr);
  assert.equal(parseSchedule('  0   0  *  *  * ', 'UTC').expression, '0 0 * * *');
});

test('6-field expressions have seconds first', () => {
  const cases: Array<[string, string, string[]]> = [
    ['*/15 * * * * *', '2026-03-25T00:00:07Z', ['2026-03-25T00:00:15+00:00', '2026-03-25T00:00:30+00:00', '2026-03-25T00:00:45+00:00', '2026-03-25T00:01:00+00:00']],
    ['30 0 12 * * *', '2026-03-25T00:00:00Z', ['2026-03-25T12:00:30+00:00', '2026-03-26T12:00:30+00:00']],
    ['0,30 * * * * *', '2026-03-25T00:00:30Z', ['2026-03-25T00:01:00+00:00', '2026-03-25T00:01:30+00:00']],
    ['* * * * * *', '2026-03-25T00:00:00.500Z', ['2026-03-25T00:00:01+00:00', '2026-03-25T00:00:02+00:00']],
  ];
  for (const [expr, from, want] of cases) assert.deepEqual(runs(expr, from, want.length), want, expr);
  assert.equal(parseSchedule('0 0 * * *', 'UTC').fixedTime, true);
  assert.equal(parseSchedule('0 30 2,14 * * *', 'UTC').fixedTime, true);
  assert.equal(parseSchedule('* 30 2 * * *', 'UTC').fixedTime, false);
  assert.equal(parseSchedule('0 */2 * * *', 'UTC').fixedTime, false);
});

test('macros', () => {
  const from = '2026-03-25T10:30:00Z'; // a Wednesday
  const cases: Array<[string, string]> = [
    ['@hourly', '2026-03-25T11:00:00+00:00'],
    ['@daily', '2026-03-26T00:00:00+00:00'],
    ['@midnight', '2026-03-26T00:00:00+00:00'],
    ['@weekly', '2026-03-29T00:00:00+00:00'],
    ['@monthly', '2026-04-01T00:00:00+00:00'],
    ['@yearly', '2027-01-01T00:00:00+00:00'],
    ['@annually', '2027-01-01T00:00:00+00:00'],
    ['@DAILY', '2026-03-26T00:00:00+00:00'],
  ];
  for (const [expr, want] of cases) assert.deepEqual(runs(expr, from, 1), [want], expr);
  assert.deepEqual(runs('@daily', from, 1, 'Europe/Berlin'), ['2026-03-26T00:00:00+01:00']);
});

test('@reboot never runs from the clock', () => {
  for (const expr of ['@reboot', '@REBOOT', ' @reboot ']) {
    const s = parseSchedule(expr, 'UTC');
    assert.equal(s.reboot, true);
    assert.equal(s.nextRun(Date.now()), null);
    assert.deepEqual(s.nextRuns(Date.now(), 5), []);
  }
  assert.equal(parseSchedule('@daily', 'UTC').reboot, false);
});

test('day-of-month and day-of-week: OR when both restricted, AND when either starts with * (Vixie)', () => {
  const from = '2026-03-28T12:00:00Z'; // a Saturday
  const cases: Array<[string, string[]]> = [
    // the 1st OR Mondays
    ['0 0 1 * MON', ['2026-03-30', '2026-04-01', '2026-04-06', '2026-04-13']],
    ['0 0 1-31 * MON', ['2026-03-29', '2026-03-30', '2026-03-31', '2026-04-01']],
    ['0 0 13 * FRI', ['2026-04-03', '2026-04-10', '2026-04-13', '2026-04-17']],
    // one field is *: only the other counts
    ['0 0 * * MON', ['2026-03-30', '2026-04-06']],
    ['0 0 15 * *', ['2026-04-15', '2026-05-15']],
    // */2 starts with *: odd days AND Mondays (croner alone would OR these)
    ['0 0 */2 * MON', ['2026-04-13', '2026-04-27', '2026-05-11', '2026-05-25']],
    // the 1st AND a day in */2 (Sun, Tue, Thu, Sat)
    ['0 0 1 * */2', ['2026-08-01', '2026-09-01', '2026-10-01', '2026-11-01']],
  ];
  for (const [expr, want] of cases) {
    assert.deepEqual(runs(expr, from, want.length).map((x) => x.slice(0, 10)), want, expr);
  }
});

test('leap years', () => {
  assert.deepEqual(runs('0 0 29 2 *', '2026-03-01T00:00:00Z', 3).map((x) => x.slice(0, 10)), ['2028-02-29', '2032-02-29', '2036-02-29']);
  assert.deepEqual(runs('0 0 29 2 *', '2099-03-01T00:00:00Z', 1).map((x) => x.slice(0, 10)), ['2104-02-29']); // 2100 is not a leap year
  assert.deepEqual(runs('0 0 L 2 *', '2027-03-01T00:00:00Z', 2).map((x) => x.slice(0, 10)), ['2028-02-29', '2029-02-28']);
  // With a weekday as well, OR semantics make Feb 30 harmless: it runs on February's Mondays.
  assert.deepEqual(runs('0 0 30 2 MON', '2026-03-01T00:00:00Z', 2).map((x) => x.slice(0, 10)), ['2027-02-01', '2027-02-08']);
});

test("timezones: per job, default the home's (here, no home opened: the machine's, not TZ), unknown ones rejected", () => {
  assert.equal(defaultTimezone(), systemTimezone());
  assert.equal(parseSchedule('0 0 * * *').timezone, defaultTimezone());
  assert.equal(parseSchedule('0 0 * * *', null).timezone, defaultTimezone());
  assert.equal(parseSchedule('0 0 * * *', '').timezone, defaultTimezone());
  const tz = process.env.TZ;
  try {
    process.env.TZ = systemTimezone() === 'Pacific/Chatham' ? 'Asia/Tokyo' : 'Pacific/Chatham';
    assert.equal(defaultTimezone(), systemTimezone(), "a process's TZ does not change what a job without a zone means");
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
  assert.deepEqual(runs('0 9 * * *', '2026-06-01T00:00:00Z', 1, 'Asia/Kolkata'), ['2026-06-01T09:00:00+05:30']);
  assert.deepEqual(runs('0 9 * * *', '2026-06-01T00:00:00Z', 1, 'America/New_York'), ['2026-06-01T09:00:00-04:00']);
  for (const tz of ['Mars/Olympus_Mons', 'Europe/Berlinn', 'not a zone']) {
    rejects(() => parseSchedule('0 0 * * *', tz), 'timezone', `"${tz}"`, 'IANA');
    rejects(() => validateTimezone(tz, 'jobs[0].timezone'), 'jobs[0].timezone');
  }
  assert.equal(validateTimezone('Europe/Berlin'), 'Europe/Berlin');
  // Stored as the tz database spells it; an alias stays the alias the user chose.
  for (const [given, stored] of [['australia/lord_howe', 'Australia/Lord_Howe'], ['EUROPE/BERLIN', 'Europe/Berlin'], ['utc', 'UTC'], ['etc/gmt+5', 'Etc/GMT+5'], ['Asia/Kolkata', 'Asia/Kolkata'], ['US/Eastern', 'US/Eastern']]) {
    assert.equal(validateTimezone(given!), stored, given);
    assert.equal(parseSchedule('0 0 * * *', given).timezone, stored, given);
  }
});

test('nextRun is strictly after its argument and nextRuns chains', () => {
  const s = parseSchedule('0 12 * * *', 'UTC');
  const noon = Date.parse('2026-03-28T12:00:00Z');
  assert.equal(s.nextRun(noon - 1), noon);
  assert.equal(s.nextRun(noon), noon + 86_400_000);
  assert.deepEqual(s.nextRuns(noon, 0), []);
  assert.equal(s.nextRuns(noon - 1, 30).length, 30);
});

test("runsFrom, a preview's rule (smart-cron next, the API's preview): the runs at or after the time", () => {
  const s = parseSchedule('0 12 * * *', 'UTC');
  const noon = Date.parse('2026-03-28T12:00:00Z');
  assert.deepEqual(s.runsFrom(noon, 2), [noon, noon + 86_400_000]);
  assert.deepEqual(s.runsFrom(noon + 1, 1), [noon + 86_400_000]);
  assert.deepEqual(s.runsFrom(noon - 1, 1), [noon]);
  assert.deepEqual(parseSchedule('@reboot', 'UTC').runsFrom(noon, 3), []);
});
