/**
 * How the dashboard writes a job's upcoming times (web/src/format.ts): in the job's zone, not
 * the browser's, the offset on each, and to the second when the schedule counts seconds, so a
 * `*\/20 * * * * *` job's times do not all read "08:20 PM".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { absolute, scheduleHasSeconds, short, zoneName } from '../../web/src/format.js';

test("a job's upcoming times read in its zone with the offset, whatever the zone running the dashboard", () => {
  const cases: [iso: string, view: Parameters<typeof short>[1], want: RegExp][] = [
    // `0 3 * * *` in Europe/Berlin: 03:00 there, winter and summer.
    ['2026-12-08T02:00:00.000Z', { timeZone: 'Europe/Berlin' }, /Dec 8.*03:00\sAM GMT\+1$/],
    ['2026-07-08T01:00:00.000Z', { timeZone: 'Europe/Berlin' }, /Jul 8.*03:00\sAM GMT\+2$/],
    // A day ahead in Tokyo.
    ['2026-12-07T20:00:00.000Z', { timeZone: 'Asia/Tokyo' }, /Tue, Dec 8.*05:00\sAM GMT\+9$/],
    ['2026-12-08T02:00:00.000Z', { timeZone: 'UTC' }, /02:00\sAM GMT(\+0)?$/],
    ['2026-12-08T02:00:20.000Z', { timeZone: 'UTC', seconds: true }, /02:00:20\sAM GMT(\+0)?$/],
    // A zone the browser does not know: its own time, the offset still saying which.
    ['2026-12-08T02:00:00.000Z', { timeZone: 'Nowhere/Atlantis' }, /GMT/],
  ];
  for (const [iso, view, want] of cases) assert.match(short(iso, view), want, `${iso} ${JSON.stringify(view)}`);
  assert.match(absolute('2026-12-08T02:00:00.000Z', 'Europe/Berlin'), /Dec 8, 2026.*3:00:00\sAM GMT\+1/);
});

test('a schedule that counts seconds shows them, and its times read apart', () => {
  const cases: [string, boolean][] = [
    ['*/20 * * * * *', true],
    [' 0  0 3 * * 1-5 ', true],
    ['0 3 * * *', false],
    ['@daily', false],
    ['@every', false],
  ];
  for (const [expr, want] of cases) assert.equal(scheduleHasSeconds(expr), want, expr);
  const times = ['2026-12-08T20:20:00.000Z', '2026-12-08T20:20:20.000Z', '2026-12-08T20:20:40.000Z'].map((t) => short(t, { timeZone: 'UTC', seconds: scheduleHasSeconds('*/20 * * * * *') }));
  assert.equal(new Set(times).size, 3, times.join(' | '));
});

test('the zone is named as the CLI names it', () => {
  assert.equal(zoneName('Asia/Tokyo', false), 'Asia/Tokyo');
  assert.equal(zoneName('Europe/Berlin', true), "Europe/Berlin, the home's timezone");
});
