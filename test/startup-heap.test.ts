/**
 * src/startup-heap.ts holds V8's young generation at its initial size until start-up is done,
 * then lets it grow. What a user sees: the daemon's RSS just after start (bench/idle-rss). This
 * test checks the mechanism on the running Node in a fresh process (a V8 that stops honouring
 * the flag fails here rather than silently in the bench): allocation that survives, like a
 * program's loading, does not grow the young generation while held, and does once released.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('../src/startup-heap.ts', import.meta.url));

const PROBE = `
const { getHeapSpaceStatistics } = await import('node:v8');
const { startupDone } = await import(${JSON.stringify(MODULE)});
const newSpaceMb = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576; // capacity, committed or not
if (process.argv.includes('--control')) startupDone(); // no hold: what V8 does by itself
const before = newSpaceMb();
const kept = [];
// 40 MB of small objects that all survive: every scavenge sees a high survival rate.
const load = () => { for (let i = 0; i < 400_000; i++) kept.push({ i, s: 'x' + i, a: [i, i] }); };
load();
const held = newSpaceMb();
startupDone();
load(); load();
console.log(JSON.stringify({ before, held, released: newSpaceMb() }));
`;

function probe(...args: string[]): { before: number; held: number; released: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE, '--', ...args], { encoding: 'utf8' });
  return JSON.parse(out) as { before: number; held: number; released: number };
}

test('the young generation does not grow during start-up, and grows after it', () => {
  const { before, held, released } = probe();
  assert.ok(held <= before, `young generation while held: ${held.toFixed(1)} MB, expected no growth from ${before.toFixed(1)} MB`);
  assert.ok(released >= 2 * held, `young generation after start-up: ${released.toFixed(1)} MB, expected it to grow past ${held.toFixed(1)} MB`);
  // The control: without the hold the same loading grows it (else this test proves nothing).
  const control = probe('--control');
  assert.ok(control.held >= 2 * control.before, `without the hold: ${control.before.toFixed(1)} -> ${control.held.toFixed(1)} MB, expected V8 to grow it`);
});
