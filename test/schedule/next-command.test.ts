/** The `next` command's logic (src/cli/next.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatNext, nextCommand } from '../../src/cli/next.js';
import { ValidationError } from '../../src/errors.js';
import { systemTimezone } from '../../src/schedule/names.js';

test('nextCommand: runs as ISO strings with the schedule timezone offset', () => {
  const cases: Array<[expr: string, opts: Parameters<typeof nextCommand>[1], runs: string[]]> = [
    ['30 2 * * *', { timezone: 'Europe/Berlin', from: '2026-03-28T12:00:00Z', count: 3 }, ['2026-03-29T03:00:00+02:00', '2026-03-30T02:30:00+02:00', '2026-03-31T02:30:00+02:00']],
    // --from without an offset is a wall time in the schedule's timezone, and inclusive
    ['0 * * * *', { timezone: 'Europe/Berlin', from: '2026-10-25T02:00', count: '3' }, ['2026-10-25T02:00:00+02:00', '2026-10-25T02:00:00+01:00', '2026-10-25T03:00:00+01:00']],
    ['@daily', { timezone: 'America/New_York', from: '2026-03-08', count: 2 }, ['2026-03-08T00:00:00-05:00', '2026-03-09T00:00:00-04:00']],
    ['0 12 * * *', { timezone: 'UTC', from: '2026-03-28T13:00:00+02:00', count: 1 }, ['2026-03-28T12:00:00+00:00']],
    ['0 12 * * *', { timezone: 'UTC', from: '2026-03-28T12:00:00.001Z', count: 1 }, ['2026-03-29T12:00:00+00:00']],
    ['0 9 * * *', { timezone: 'Asia/Kolkata', from: '2026-06-01 08:00', count: 1 }, ['2026-06-01T09:00:00+05:30']],
    ['@reboot', { timezone: 'UTC' }, []],
  ];
  for (const [expr, opts, runs] of cases) {
    const r = nextCommand(expr, opts);
    assert.deepEqual(r.runs, runs, `${expr} ${JSON.stringify(opts)}`);
    assert.equal(r.timezone, opts.timezone);
    assert.equal(r.expression, expr);
  }
});

test("nextCommand: defaults are now, 5 runs and the home's timezone (no home opened here: the machine's)", () => {
  const r = nextCommand('0 0 * * *', { timezone: 'UTC' }, () => Date.parse('2026-03-28T12:00:00Z'));
  assert.deepEqual(r.runs, ['2026-03-29', '2026-03-30', '2026-03-31', '2026-04-01', '2026-04-02'].map((d) => `${d}T00:00:00+00:00`));
  assert.equal(nextCommand('0 0 * * *', {}).timezone, systemTimezone());
  // A run exactly at now is listed, as one exactly at --from is.
  assert.deepEqual(nextCommand('0 0 * * *', { timezone: 'UTC', count: 1 }, () => Date.parse('2026-03-29T00:00:00Z')).runs, ['2026-03-29T00:00:00+00:00']);
  assert.equal(nextCommand('* * * * * *', { count: 1000 }).runs.length, 1000);
});

test('nextCommand: bad input names the flag and what was expected', () => {
  const cases: Array<[expr: string, opts: Parameters<typeof nextCommand>[1], field: string, fragment: string]> = [
    ['@daily', { from: 'yesterday' }, '--from', 'ISO-8601'],
    ['@daily', { from: '2026-02-30' }, '--from', 'ISO-8601'],
    ['@daily', { from: '2026-03-28T25:00' }, '--from', 'ISO-8601'],
    ['@daily', { from: '2026-03-28T10:00+25:00' }, '--from', 'ISO-8601'],
    ['@daily', { from: '' }, '--from', 'ISO-8601'],
    ['@daily', { from: '1' }, '--from', 'ISO-8601'],
    ['@daily', { from: 'March 7' }, '--from', 'ISO-8601'],
    ['@daily', { from: '2026-03-29T01:30:00+01:00[Europe/Berlin]' }, '--from', 'ISO-8601'],
    ['@daily', { count: '0' }, '--count', '1-1000'],
    ['@daily', { count: 1001 }, '--count', '1-1000'],
    ['@daily', { count: '2.5' }, '--count', '1-1000'],
    ['@daily', { count: 'ten' }, '--count', '1-1000'],
    ['@daily', { count: -3 }, '--count', '1-1000'],
    ['@daily', { timezone: 'Mars/Base' }, '--timezone', 'IANA'],
    ['61 * * * *', { timezone: 'UTC' }, 'schedule', '0-59'],
    ['0 0 31 2 *', { timezone: 'UTC' }, 'schedule', 'never runs'],
  ];
  for (const [expr, opts, field, fragment] of cases) {
    assert.throws(
      () => nextCommand(expr, opts),
      (e: unknown) => e instanceof ValidationError && e.field === field && e.message.startsWith(`${field}:`) && e.message.includes(fragment),
      `${expr} ${JSON.stringify(opts)}`,
    );
  }
});

test('formatNext: one line per run with weekday, local time and offset', () => {
  const r = nextCommand('30 2 * * *', { timezone: 'Europe/Berlin', from: '2026-03-28T12:00:00Z', count: 2 });
  assert.equal(
    formatNext(r),
    ['Sun 2026-03-29 03:00:00 +02:00  Europe/Berlin', 'Mon 2026-03-30 02:30:00 +02:00  Europe/Berlin'].join('\n'),
  );
  assert.match(formatNext(nextCommand('@reboot', { timezone: 'UTC' })), /@reboot runs once each time the daemon starts/);
  assert.equal(formatNext({ expression: '0 0 * * *', timezone: 'UTC', runs: [] }), 'no upcoming runs');
});
