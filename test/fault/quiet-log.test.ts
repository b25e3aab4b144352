/**
 * While the database is away every loop of the daemon fails every second: its log says each
 * failure once a minute, with how often it was held back, and never holds back an alert line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VirtualClock } from '../../src/clock.js';
import { quietRepeats } from '../../src/daemon/quiet-log.js';

test('a line repeated within a minute is held back and counted; other lines and alert lines pass', async () => {
  const clock = new VirtualClock(0);
  const lines: string[] = [];
  const log = quietRepeats((m) => lines.push(m), clock);
  for (let s = 0; s < 125; s++) {
    log('dispatcher cycle failed: connect ECONNREFUSED 127.0.0.1:5432');
    log('reading cancel requests failed: connect ECONNREFUSED 127.0.0.1:5432');
    if (s % 30 === 0) log('[ALERT] backup - missed - warning');
    await clock.advance(1000);
  }
  log('run #7 (backup) succeeded');
  // Seconds 0, 30, 60, 90 and 120: each failure once a minute; the alert line every time.
  assert.deepEqual(lines, [
    'dispatcher cycle failed: connect ECONNREFUSED 127.0.0.1:5432',
    'reading cancel requests failed: connect ECONNREFUSED 127.0.0.1:5432',
    '[ALERT] backup - missed - warning',
    '[ALERT] backup - missed - warning',
    'dispatcher cycle failed: connect ECONNREFUSED 127.0.0.1:5432 (and 59 more times in the last 60s)',
    'reading cancel requests failed: connect ECONNREFUSED 127.0.0.1:5432 (and 59 more times in the last 60s)',
    '[ALERT] backup - missed - warning',
    '[ALERT] backup - missed - warning',
    'dispatcher cycle failed: connect ECONNREFUSED 127.0.0.1:5432 (and 59 more times in the last 60s)',
    'reading cancel requests failed: connect ECONNREFUSED 127.0.0.1:5432 (and 59 more times in the last 60s)',
    '[ALERT] backup - missed - warning',
    'run #7 (backup) succeeded',
  ]);
});
