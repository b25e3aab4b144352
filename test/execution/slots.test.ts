/** The seed's slot rules as tables: which slot a job runs in, and what it reserves there. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseSlot, reservationFor } from '../../src/execution/slots.js';

test('chooseSlot: the seed rule, boundaries 0.5 and 1.5 exclusive, explicit slots win', () => {
  // [slot, cpu_weight, memory_weight, expected]
  const cases: [string, number, number, string][] = [
    ['auto', 1, 1, 'default'],
    ['auto', 0.49, 1, 'light'],
    ['auto', 1, 0.49, 'light'],
    ['auto', 0.5, 0.5, 'default'], // < 0.5 is light: 0.5 itself is not
    ['auto', 1.5, 1.5, 'default'], // > 1.5 is heavy: 1.5 itself is not
    ['auto', 1.51, 1, 'heavy'],
    ['auto', 1, 1.51, 'heavy'],
    ['auto', 0.1, 3, 'light'], // light is checked first, as in the seed
    ['auto', 3, 0.1, 'light'],
    ['auto', 0, 0, 'light'],
    ['auto', 100, 100, 'heavy'],
    ['default', 0.1, 0.1, 'default'],
    ['heavy', 0.1, 0.1, 'heavy'],
    ['light', 5, 5, 'light'],
    ['gpu', 1, 1, 'gpu'],
    ['', 2, 2, 'heavy'], // an empty slot counts as auto
  ];
  for (const [slot, cpu_weight, memory_weight, want] of cases) {
    assert.equal(chooseSlot({ slot, cpu_weight, memory_weight }), want, `slot=${slot} cpu=${cpu_weight} mem=${memory_weight}`);
  }
});

test('reservationFor: max(estimate, 1.2 x p95), capped by the hard limit; CPU from the baseline', () => {
  type J = Parameters<typeof reservationFor>[0];
  const base: J = { estimated_memory_mb: 256, p95_memory_mb: null, estimated_cpu_percent: 10, baseline_cpu_percent: null, memory_limit_mb: null };
  // [overrides, memoryMb, cpuPercent]
  const cases: [Partial<J>, number, number][] = [
    [{}, 256, 10],
    [{ p95_memory_mb: 100 }, 256, 10], // 120 < 256: the estimate holds
    [{ p95_memory_mb: 300 }, 360, 10], // 1.2 x 300
    [{ p95_memory_mb: 213.34 }, 256.01, 10], // 256.008 rounded to 2 decimals
    [{ p95_memory_mb: 1000, memory_limit_mb: 800 }, 800, 10], // never more than the hard limit
    [{ estimated_memory_mb: 2000, memory_limit_mb: 500 }, 500, 10],
    [{ memory_limit_mb: 0 }, 256, 10], // 0 is no limit
    [{ estimated_memory_mb: 0 }, 0, 10],
    [{ baseline_cpu_percent: 35 }, 256, 35], // measured CPU replaces the estimate
    [{ baseline_cpu_percent: 0 }, 256, 0],
    [{ estimated_cpu_percent: -5 }, 256, 0],
    [{ estimated_memory_mb: 2048 }, 2048, 10], // the seed's 2.0 GB job
    [{ estimated_memory_mb: 3072, p95_memory_mb: 2900 }, 3480, 10],
  ];
  for (const [over, mem, cpu] of cases) {
    assert.deepEqual(reservationFor({ ...base, ...over }), { memoryMb: mem, cpuPercent: cpu }, JSON.stringify(over));
  }
});
