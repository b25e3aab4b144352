/**
 * The daemon's periodic tasks (src/daemon/background.ts), in virtual time: each turn waits for
 * the last; stop() cancels what is armed, and a turn still running then arms no other (it used to
 * re-arm, and the task ran on after the daemon stopped, keeping its process alive).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VirtualClock } from '../../src/clock.js';
import { background } from '../../src/daemon/background.js';

test('a turn running when the tasks stop arms no other; a failing turn is logged and the task goes on', async () => {
  const clock = new VirtualClock();
  const logs: string[] = [];
  const tasks = background(clock, (m) => logs.push(m));
  let turns = 0;
  let finish: () => void = () => {};
  tasks.every(1000, () => {
    turns++;
    return new Promise<void>((r) => (finish = r));
  });
  let fails = 0;
  tasks.every(1000, async () => {
    fails++;
    throw new Error('database gone');
  });

  await clock.advance(1000);
  assert.equal(turns, 1);
  await clock.advance(5000);
  assert.equal(turns, 1, 'the next turn waits for this one to end');
  assert.ok(fails >= 5 && logs.every((l) => l === 'background task failed: database gone'), `a failing task goes on: ${fails}, ${logs[0]}`);

  tasks.stop();
  finish(); // the turn that was running ends after the stop
  await clock.advance(10_000);
  assert.equal(clock.pending, 0, 'nothing armed after stop');
  assert.equal(turns, 1);
  const failedBefore = fails;
  await clock.advance(10_000);
  assert.equal(fails, failedBefore);
});
