import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSchedule } from '../../src/schedule/cron.js';
import { missedTicks, planMisfire, type MisfirePolicy } from '../../src/schedule/misfire.js';

const at = (s: string) => Date.parse(s);
const iso = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const hourly = parseSchedule('0 * * * *', 'UTC');

test('missedTicks: strictly after the last tick, at or before now, capped, with the total', () => {
  const cases: Array<[name: string, last: string | null, now: string, cap: number, ticks: string[], latest: string | null, total: number]> = [
    ['nothing due yet', '2026-03-28T10:00:00Z', '2026-03-28T10:59:59Z', 10, [], null, 0],
    ['exactly due now', '2026-03-28T10:00:00Z', '2026-03-28T11:00:00Z', 10, ['11:00'], '11:00', 1],
    ['due a little while ago', '2026-03-28T10:00:00Z', '2026-03-28T11:00:20Z', 10, ['11:00'], '11:00', 1],
    ['three missed', '2026-03-28T10:00:00Z', '2026-03-28T13:30:00Z', 10, ['11:00', '12:00', '13:00'], '13:00', 3],
    ['capped: oldest kept, latest and total still known', '2026-03-28T00:00:00Z', '2026-03-28T23:10:00Z', 2, ['01:00', '02:00'], '23:00', 23],
    ['cap 0', '2026-03-28T10:00:00Z', '2026-03-28T13:30:00Z', 0, [], '13:00', 3],
    ['never planned: nothing missed', null, '2026-03-28T13:30:00Z', 10, [], null, 0],
    ['last tick in the future (clock stepped back)', '2026-03-28T15:00:00Z', '2026-03-28T13:30:00Z', 10, [], null, 0],
  ];
  for (const [name, last, now, cap, ticks, latest, total] of cases) {
    const m = missedTicks(hourly, last === null ? null : at(last), at(now), cap);
    assert.deepEqual(m.ticks.map(iso), ticks, name);
    assert.equal(m.latest === null ? null : iso(m.latest), latest, name);
    assert.equal(m.total, total, name);
    assert.equal(m.exact, true, name);
    assert.equal(m.capped, total > ticks.length, name);
  }
});

test('missedTicks across a DST transition counts real ticks', () => {
  const berlin = parseSchedule('0 * * * *', 'Europe/Berlin');
  // 2026-10-25: 02:00 happens twice, so 00:00..04:00 local holds 5 hourly ticks.
  const m = missedTicks(berlin, at('2026-10-24T22:00:00Z'), at('2026-10-25T03:00:00Z'), 100);
  assert.equal(m.total, 5);
  const fixed = parseSchedule('30 2 * * *', 'Europe/Berlin');
  assert.equal(missedTicks(fixed, at('2026-10-24T12:00:00Z'), at('2026-10-25T12:00:00Z'), 10).total, 1);
  assert.equal(missedTicks(fixed, at('2026-03-28T12:00:00Z'), at('2026-03-29T12:00:00Z'), 10).total, 1);
});

test('missedTicks past the count limit estimates the total and still finds the latest tick', () => {
  const everySecond = parseSchedule('* * * * * *', 'UTC');
  const last = at('2026-03-28T00:00:00Z');
  const now = at('2026-03-28T01:00:00.500Z'); // 3600 ticks
  const m = missedTicks(everySecond, last, now, 5, 500);
  assert.equal(m.exact, false);
  assert.equal(m.ticks.length, 5);
  assert.equal(m.latest, at('2026-03-28T01:00:00Z'));
  assert.ok(Math.abs(m.total - 3600) <= 2, `estimated ${m.total}`);
  const exact = missedTicks(everySecond, last, now, 5, 10_000);
  assert.equal(exact.exact, true);
  assert.equal(exact.total, 3600);
});

test('missedTicks: @reboot has no ticks; bad caps are rejected', () => {
  assert.equal(missedTicks(parseSchedule('@reboot', 'UTC'), 0, Date.now(), 10).total, 0);
  assert.throws(() => missedTicks(hourly, 0, 1, -1), RangeError);
  assert.throws(() => missedTicks(hourly, 0, 1, 1.5), RangeError);
});

test('planMisfire: which missed ticks run', () => {
  const last = at('2026-03-28T10:00:00Z');
  const cases: Array<[name: string, policy: MisfirePolicy, now: string, cap: number, run: string[], skipped: number]> = [
    ['skip, on time', 'skip', '2026-03-28T11:00:00Z', 10, ['11:00'], 0],
    ['skip, a little late (within tolerance)', 'skip', '2026-03-28T11:00:59Z', 10, ['11:00'], 0],
    ['skip, too late', 'skip', '2026-03-28T11:01:01Z', 10, [], 1],
    ['skip, several missed, latest due now', 'skip', '2026-03-28T14:00:00Z', 10, ['14:00'], 3],
    ['skip, several missed, none due now', 'skip', '2026-03-28T14:30:00Z', 10, [], 4],
    ['run_once, several missed', 'run_once', '2026-03-28T14:30:00Z', 10, ['14:00'], 3],
    ['run_once, on time', 'run_once', '2026-03-28T11:00:00Z', 10, ['11:00'], 0],
    ['run_all, under the cap', 'run_all', '2026-03-28T14:30:00Z', 10, ['11:00', '12:00', '13:00', '14:00'], 0],
    ['run_all, over the cap: oldest first', 'run_all', '2026-03-28T14:30:00Z', 2, ['11:00', '12:00'], 2],
    ['run_all, cap 0', 'run_all', '2026-03-28T14:30:00Z', 0, [], 4],
    ['nothing missed', 'run_all', '2026-03-28T10:30:00Z', 10, [], 0],
  ];
  for (const [name, policy, now, cap, run, skipped] of cases) {
    const missed = missedTicks(hourly, last, at(now), cap);
    const plan = planMisfire(policy, missed, cap);
    assert.deepEqual(plan.run.map(iso), run, name);
    assert.equal(plan.skipped, skipped, name);
  }
});

test('planMisfire: run_all runs at most its own cap, and the tolerance is adjustable', () => {
  const missed = missedTicks(hourly, at('2026-03-28T00:00:00Z'), at('2026-03-28T05:10:00Z'), 100);
  assert.deepEqual(planMisfire('run_all', missed, 3).run.map(iso), ['01:00', '02:00', '03:00']);
  assert.equal(planMisfire('run_all', missed, 3).skipped, 2);
  assert.deepEqual(planMisfire('skip', missed, 3, 15 * 60_000).run.map(iso), ['05:00']);
  assert.deepEqual(planMisfire('skip', missed, 3, 5 * 60_000).run, []);
  assert.throws(() => planMisfire('sometimes' as MisfirePolicy, missed, 3), /unknown misfire policy/);
});
