/** The alert rules as tables of cases: input row(s) -> raised types and cleared types. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fmtDuration } from '../../src/durations.js';
import { evaluatePeriodic, evaluateRun, jobThresholds, RECOVERY_TYPES, type Thresholds } from '../../src/alerts/rules.js';
import type { JobRow, RunRow } from '../../src/storage/schema.js';

const T: Thresholds = {
  highMemoryFactor: 1.5,
  highDurationFactor: 2,
  highMemoryMinExcessMb: 16,
  highDurationMinExcessSeconds: 1,
  hangingFactor: 3,
  consecutiveFailureThreshold: 3,
  missedGraceSeconds: 300,
};
/** The seed's bare rules: the factor alone decides. */
const BARE: Partial<Thresholds> = { highMemoryMinExcessMb: 0, highDurationMinExcessSeconds: 0 };
const NOW = Date.parse('2026-03-02T10:00:00.000Z');

const job = (p: Partial<JobRow> = {}) =>
  ({
    id: 1,
    name: 'backup-db',
    enabled: 1,
    consecutive_failures: 0,
    consecutive_failure_threshold: 3,
    missed_grace_seconds: null,
    baseline_duration_seconds: null,
    baseline_memory_mb: null,
    circuit_state: 'closed',
    next_scheduled_run: '2026-03-02T10:30:00.000Z',
    timeout_seconds: 3600,
    user_overrides: '[]',
    alert_on_failure: 1,
    alert_on_timeout: 1,
    alert_on_high_memory: 1,
    alert_on_high_duration: 1,
    alert_on_missed: 1,
    alert_on_hanging: 1,
    ...p,
  }) as JobRow;

const run = (p: Partial<RunRow> = {}) =>
  ({
    id: 7,
    job_id: 1,
    status: 'succeeded',
    trigger: 'manual',
    exit_code: 0,
    signal: null,
    duration_ms: 1000,
    peak_memory_mb: 100,
    scheduled_for: '2026-03-02T09:00:00.000Z',
    queued_at: '2026-03-02T09:00:00.000Z',
    started_at: '2026-03-02T09:00:01.000Z',
    skip_reason: null,
    wait_reason: null,
    error_message: null,
    ...p,
  }) as RunRow;

const runCases: { name: string; job?: Partial<JobRow>; run?: Partial<RunRow>; t?: Partial<Thresholds>; raise: string[]; clears?: string[]; notClears?: string[]; severity?: string; message?: string }[] = [
  { name: 'success raises nothing, clears failures', run: {}, raise: [], clears: ['failure', 'consecutive_failures', 'timeout', 'memory_limit', 'oom_killed', 'hanging', 'circuit_open'] },
  { name: 'exit 2 is a failure (error)', run: { status: 'failed', exit_code: 2 }, job: { consecutive_failures: 1 }, raise: ['failure'], severity: 'error', notClears: ['failure'] },
  { name: 'failed before its command started: the error says why', run: { status: 'failed', exit_code: null, error_message: 'working directory relative/dir: does not exist (ENOENT)' }, job: { consecutive_failures: 1 }, raise: ['failure'], message: 'working directory relative/dir: does not exist (ENOENT)' },
  { name: 'an exit code wins over the error text', run: { status: 'failed', exit_code: 127, error_message: 'something' }, job: { consecutive_failures: 1 }, raise: ['failure'], message: 'exit code 127' },
  { name: 'killed by a signal', run: { status: 'failed', exit_code: null, signal: 'SIGKILL' }, job: { consecutive_failures: 1 }, raise: ['failure'], message: 'killed by SIGKILL' },
  { name: 'failure switched off', run: { status: 'failed', exit_code: 2 }, job: { alert_on_failure: 0, consecutive_failures: 5 }, raise: [] },
  { name: 'timeout (warning)', run: { status: 'timeout', exit_code: null, duration_ms: 3600_000 }, job: { consecutive_failures: 1 }, raise: ['timeout'], severity: 'warning' },
  { name: 'timeout switched off', run: { status: 'timeout' }, job: { alert_on_timeout: 0, consecutive_failures: 1 }, raise: [] },
  { name: 'memory limit kill (error)', run: { status: 'memory_limit', peak_memory_mb: 900 }, job: { consecutive_failures: 1, baseline_memory_mb: 100 }, raise: ['memory_limit'], severity: 'error' },
  { name: 'OOM kill (error)', run: { status: 'oom_killed' }, job: { consecutive_failures: 1 }, raise: ['oom_killed'], severity: 'error' },
  { name: "an OOM kill at the job's own limit says so (the run's message), not that the host ran out", run: { status: 'oom_killed', error_message: "killed by the kernel OOM killer at its memory limit of 60 MB (1 OOM kill in the run's cgroup)" }, job: { consecutive_failures: 1 }, raise: ['oom_killed'], message: "killed by the kernel OOM killer at its memory limit of 60 MB (1 OOM kill in the run's cgroup)" },
  { name: 'memory kills follow alert_on_failure, not alert_on_high_memory', run: { status: 'oom_killed' }, job: { consecutive_failures: 1, alert_on_high_memory: 0 }, raise: ['oom_killed'] },
  { name: 'third failure in a row: consecutive (critical)', run: { status: 'failed', exit_code: 1 }, job: { consecutive_failures: 3 }, raise: ['failure', 'consecutive_failures'] },
  { name: 'second failure: below threshold', run: { status: 'failed', exit_code: 1 }, job: { consecutive_failures: 2 }, raise: ['failure'] },
  { name: 'a person-set threshold of 5 wins over the default', run: { status: 'failed' }, job: { consecutive_failures: 3, consecutive_failure_threshold: 5, user_overrides: '["consecutive_failure_threshold"]' }, raise: ['failure'] },
  { name: 'peak > 1.5 x baseline: high_memory', run: { peak_memory_mb: 151 }, job: { baseline_memory_mb: 100 }, raise: ['high_memory'], severity: 'warning' },
  { name: 'small job: 1.4 MB against 0.7 MB is under the 16 MB floor, clears', run: { peak_memory_mb: 1.4 }, job: { baseline_memory_mb: 0.7 }, raise: [], clears: ['high_memory'] },
  { name: 'small job, floor 0 (the bare rule): high_memory, in tenths of a MB', run: { peak_memory_mb: 1.4 }, job: { baseline_memory_mb: 0.7 }, t: BARE, raise: ['high_memory'], message: 'peak memory 1.4 MB, 2.0× its baseline of 0.7 MB' },
  { name: '40 MB against 20 MB: over the factor and 20 MB over, high_memory', run: { peak_memory_mb: 40 }, job: { baseline_memory_mb: 20 }, raise: ['high_memory'], message: 'peak memory 40 MB, 2.0× its baseline of 20 MB' },
  { name: '35 MB against 20 MB: 15 MB over, under the floor', run: { peak_memory_mb: 35 }, job: { baseline_memory_mb: 20 }, raise: [] },
  { name: 'peak = 1.5 x baseline: fine, clears', run: { peak_memory_mb: 150 }, job: { baseline_memory_mb: 100 }, raise: [], clears: ['high_memory'] },
  { name: 'high memory switched off', run: { peak_memory_mb: 500 }, job: { baseline_memory_mb: 100, alert_on_high_memory: 0 }, raise: [] },
  { name: 'no baseline yet: no performance alerts', run: { peak_memory_mb: 5000, duration_ms: 999_999 }, raise: [] },
  { name: 'duration > 2 x baseline: high_duration', run: { duration_ms: 20_001 }, job: { baseline_duration_seconds: 10 }, raise: ['high_duration'], severity: 'warning' },
  { name: 'a 20 ms job taking 58 ms: jitter under the 1 s floor, clears', run: { duration_ms: 58 }, job: { baseline_duration_seconds: 0.02 }, raise: [], clears: ['high_duration'] },
  { name: 'a 20 ms job taking 58 ms, floor 0 (the bare rule): high_duration, in ms', run: { duration_ms: 58 }, job: { baseline_duration_seconds: 0.02 }, t: BARE, raise: ['high_duration'], message: 'ran 58ms, 2.9× its baseline of 20ms' },
  { name: 'a 20 ms job taking 1.5 s: over the floor, high_duration', run: { duration_ms: 1500 }, job: { baseline_duration_seconds: 0.02 }, raise: ['high_duration'], message: 'ran 1.5s, 75.0× its baseline of 20ms' },
  { name: '0.5 s against 0.4 s with a 0.05 s floor: not 2x, fine', run: { duration_ms: 500 }, job: { baseline_duration_seconds: 0.4 }, t: { highDurationMinExcessSeconds: 0.05 }, raise: [] },
  { name: 'duration = 2 x baseline: fine', run: { duration_ms: 20_000 }, job: { baseline_duration_seconds: 10 }, raise: [], clears: ['high_duration'] },
  { name: 'high duration switched off', run: { duration_ms: 99_000 }, job: { baseline_duration_seconds: 10, alert_on_high_duration: 0 }, raise: [] },
  { name: 'a timeout is not also "slow"', run: { status: 'timeout', duration_ms: 99_000 }, job: { baseline_duration_seconds: 10, consecutive_failures: 1 }, raise: ['timeout'] },
  { name: 'scheduled run started 10 min late: missed', run: { trigger: 'schedule', started_at: '2026-03-02T09:10:00.000Z' }, raise: ['missed'] },
  { name: 'scheduled run on time clears missed', run: { trigger: 'schedule' }, raise: [], clears: ['missed'] },
  { name: 'late start with per-job grace of 1 h: fine', run: { trigger: 'catchup', started_at: '2026-03-02T09:10:00.000Z' }, job: { missed_grace_seconds: 3600 }, raise: [] },
  { name: 'tick skipped by the misfire policy: missed', run: { status: 'skipped', skip_reason: 'misfire: daemon was down', started_at: null }, raise: ['missed'] },
  { name: 'skipped for overlap: nothing, and the hanging run stays hanging', run: { status: 'skipped', skip_reason: 'overlap: previous run still running', started_at: null }, raise: [], notClears: ['hanging', 'failure'] },
  { name: "the planner's misfire skip: missed", run: { status: 'skipped', trigger: 'schedule', skip_reason: 'missed 3 ticks (misfire policy skip)', started_at: null }, raise: ['missed'] },
  // The dispatcher's own words: a slot removed from config.yaml, a queue that never made room.
  { name: 'skipped because its slot is not configured: missed (every tick would be, silently)', run: { status: 'skipped', skip_reason: 'slot "big" is not configured (slots: light, default, heavy)', started_at: null }, raise: ['missed'] },
  { name: 'skipped as larger than the host could ever give: missed', run: { status: 'skipped', skip_reason: 'needs 30000 MB of memory (more than node "n1" can ever give: 24000 MB of RAM - 2400 MB host reserve = 21600 MB)', started_at: null }, raise: ['missed'] },
  { name: 'skipped past its starting deadline: missed', run: { status: 'skipped', skip_reason: 'waited past its starting deadline (2026-03-01T12:05:00.000Z): needs 900 MB, slot default has 300 MB free', started_at: null }, raise: ['missed'] },
  { name: 'skipped because a requirement is not met: nothing (the rule the job asked for)', run: { status: 'skipped', skip_reason: 'requires backup: it has not succeeded within 6h', started_at: null }, raise: [] },
  { name: 'skipped because the job was disabled: nothing', run: { status: 'skipped', skip_reason: 'job was disabled before the run could start', started_at: null }, raise: [] },
  { name: 'circuit open', run: { status: 'failed' }, job: { circuit_state: 'open', consecutive_failures: 1 }, raise: ['failure', 'circuit_open'] },
  { name: 'the success that closes the circuit (the row still says open): clears it with the failures', run: {}, job: { circuit_state: 'open' }, raise: [], clears: ['failure', 'consecutive_failures', 'circuit_open'] },
  { name: 'a half-open trial run that fails: the circuit alert stays', run: { status: 'failed' }, job: { circuit_state: 'half_open', consecutive_failures: 6 }, raise: ['failure', 'consecutive_failures'], notClears: ['circuit_open'] },
  { name: 'a failed run on time: the miss is not over', run: { status: 'failed', trigger: 'schedule' }, job: { consecutive_failures: 1 }, raise: ['failure'], notClears: ['missed'] },
  { name: 'threshold 1: the failure alone, no "in a row" alert beside it', run: { status: 'failed', exit_code: 1 }, job: { consecutive_failures: 1 }, t: { consecutiveFailureThreshold: 1 }, raise: ['failure'] },
  { name: 'threshold 2, second failure: 2 failed runs in a row', run: { status: 'failed', exit_code: 1 }, job: { consecutive_failures: 2 }, t: { consecutiveFailureThreshold: 2 }, raise: ['failure', 'consecutive_failures'] },
];

test('recovery notices: only a succeeded run ends what sends one; hanging and the performance warnings close quietly', () => {
  assert.deepEqual([...RECOVERY_TYPES].sort(), ['circuit_open', 'consecutive_failures', 'failure', 'memory_limit', 'missed', 'oom_killed', 'timeout']);
  const jobs = [job(), job({ circuit_state: 'open', consecutive_failures: 5 }), job({ circuit_state: 'half_open', consecutive_failures: 6 }), job({ baseline_duration_seconds: 1, baseline_memory_mb: 100 })];
  const notSucceeded = ['failed', 'timeout', 'memory_limit', 'oom_killed', 'interrupted', 'skipped'] as const;
  for (const j of jobs) {
    for (const status of notSucceeded) {
      for (const trigger of ['schedule', 'manual', 'catchup'] as const) {
        const v = evaluateRun(j, run({ status, trigger, exit_code: status === 'failed' ? 1 : null }), T);
        const recovering = v.clear.filter((t) => RECOVERY_TYPES.includes(t));
        assert.deepEqual(recovering, [], `a ${trigger} run that ${status} (circuit ${j.circuit_state}) ends nothing that says "recovered"`);
      }
    }
  }
});

for (const c of runCases) {
  test(`evaluateRun: ${c.name}`, () => {
    const v = evaluateRun(job(c.job), run(c.run), { ...T, ...c.t });
    assert.deepEqual(v.raise.map((f) => f.type).sort(), [...c.raise].sort());
    for (const t of c.clears ?? []) assert.ok(v.clear.includes(t as never), `clears ${t}`);
    for (const t of c.notClears ?? []) assert.ok(!v.clear.includes(t as never), `does not clear ${t}`);
    for (const f of v.raise) assert.ok(!v.clear.includes(f.type), `${f.type} is not raised and cleared at once`);
    if (c.severity) assert.equal(v.raise[0]!.severity, c.severity);
    if (c.message) assert.equal(v.raise[0]!.message, c.message);
    if (c.raise.includes('consecutive_failures')) assert.equal(v.raise.find((f) => f.type === 'consecutive_failures')!.severity, 'critical');
  });
}

const min = 60_000;
const periodicCases: { name: string; job?: Partial<JobRow>; live?: Partial<RunRow>[]; raise: string[]; clears?: string[]; notClears?: string[] }[] = [
  { name: 'next run in the future: nothing', raise: [] },
  { name: 'next run 4 min ago (inside the 5 min grace): nothing', job: { next_scheduled_run: new Date(NOW - 4 * min).toISOString() }, raise: [] },
  { name: 'next run 6 min ago, no run: missed', job: { next_scheduled_run: new Date(NOW - 6 * min).toISOString() }, raise: ['missed'] },
  { name: 'overdue but a run is live: nothing', job: { next_scheduled_run: new Date(NOW - 6 * min).toISOString() }, live: [{ status: 'running', started_at: new Date(NOW - 5 * min).toISOString() }], raise: [] },
  { name: 'overdue, switched off: clears', job: { next_scheduled_run: new Date(NOW - 60 * min).toISOString(), alert_on_missed: 0 }, raise: [], clears: ['missed'] },
  { name: 'overdue but disabled: clears', job: { next_scheduled_run: new Date(NOW - 60 * min).toISOString(), enabled: 0 }, raise: [], clears: ['missed'] },
  { name: 'queued 10 min past its tick: missed', live: [{ status: 'queued', started_at: null, scheduled_for: new Date(NOW - 10 * min).toISOString(), queued_at: new Date(NOW - 10 * min).toISOString(), wait_reason: 'slot heavy full' }], raise: ['missed'] },
  { name: 'running 4 x its 10 min baseline, timeout 1 h: hanging', job: { baseline_duration_seconds: 600 }, live: [{ status: 'running', started_at: new Date(NOW - 40 * min).toISOString() }], raise: ['hanging'] },
  { name: 'running 2 x baseline: not hanging, clears', job: { baseline_duration_seconds: 600 }, live: [{ status: 'running', started_at: new Date(NOW - 20 * min).toISOString() }], raise: [], clears: ['hanging'] },
  { name: 'past its timeout: the timeout rule, not hanging', job: { baseline_duration_seconds: 600, timeout_seconds: 1800 }, live: [{ status: 'running', started_at: new Date(NOW - 40 * min).toISOString() }], raise: [] },
  { name: 'a 20 ms job seen going at 70 ms: under the duration floor, not hanging', job: { baseline_duration_seconds: 0.02 }, live: [{ status: 'running', started_at: new Date(NOW - 70).toISOString() }], raise: [] },
  { name: 'a 20 ms job going for 2 s: hanging', job: { baseline_duration_seconds: 0.02 }, live: [{ status: 'running', started_at: new Date(NOW - 2000).toISOString() }], raise: ['hanging'] },
  { name: 'hanging switched off', job: { baseline_duration_seconds: 600, alert_on_hanging: 0 }, live: [{ status: 'running', started_at: new Date(NOW - 40 * min).toISOString() }], raise: [] },
  { name: 'circuit open', job: { circuit_state: 'open' }, raise: ['circuit_open'] },
  { name: 'circuit closed: clears', raise: [], clears: ['circuit_open', 'hanging'] },
  { name: 'circuit half-open (its trial run under way): not over yet', job: { circuit_state: 'half_open' }, raise: [], notClears: ['circuit_open'] },
  {
    name: 'a catch-up run queued 10 s ago for a tick 2 h ago: waiting its turn, not stuck',
    job: { next_scheduled_run: new Date(NOW + 60 * min).toISOString() },
    live: [{ status: 'queued', trigger: 'catchup', started_at: null, scheduled_for: new Date(NOW - 120 * min).toISOString(), queued_at: new Date(NOW - 10_000).toISOString() }],
    raise: [],
  },
  {
    name: 'a retry queued 7 min ago, its backoff over 1 min ago: waiting its backoff is not a miss',
    live: [{ status: 'queued', trigger: 'retry', started_at: null, scheduled_for: new Date(NOW - 8 * min).toISOString(), queued_at: new Date(NOW - 7 * min).toISOString(), not_before: new Date(NOW - min).toISOString() }],
    raise: [],
  },
  {
    name: 'a retry whose backoff ended 6 min ago: stuck',
    live: [{ status: 'queued', trigger: 'retry', started_at: null, scheduled_for: new Date(NOW - 20 * min).toISOString(), queued_at: new Date(NOW - 19 * min).toISOString(), not_before: new Date(NOW - 6 * min).toISOString() }],
    raise: ['missed'],
  },
  {
    name: 'a catch-up run queued 10 min ago: stuck',
    live: [{ status: 'queued', trigger: 'catchup', started_at: null, scheduled_for: new Date(NOW - 120 * min).toISOString(), queued_at: new Date(NOW - 10 * min).toISOString() }],
    raise: ['missed'],
  },
];

for (const c of periodicCases) {
  test(`evaluatePeriodic: ${c.name}`, () => {
    const live = (c.live ?? []).map((r, i) => run({ id: 100 + i, ...r }));
    const [v] = evaluatePeriodic(NOW, [job(c.job)], live, T);
    assert.deepEqual(v!.raise.map((f) => f.type).sort(), [...c.raise].sort());
    for (const t of c.clears ?? []) assert.ok(v!.clear.includes(t as never), `clears ${t}`);
    for (const t of c.notClears ?? []) assert.ok(!v!.clear.includes(t as never), `does not clear ${t}`);
    for (const f of v!.raise) assert.equal(f.kind, 'state');
  });
}

test('jobThresholds: the job grace wins; the threshold only when a person set it', () => {
  assert.equal(jobThresholds(job({ missed_grace_seconds: 60 }), T).missedGraceSeconds, 60);
  assert.equal(jobThresholds(job({ consecutive_failure_threshold: 7 }), { ...T, consecutiveFailureThreshold: 4 }).consecutiveFailureThreshold, 4);
  assert.equal(jobThresholds(job({ consecutive_failure_threshold: 7, user_overrides: '["consecutive_failure_threshold"]' }), T).consecutiveFailureThreshold, 7);
});

test('fmtDuration: below a second in ms (never "0.0s"), then tenths, seconds, minutes, hours', () => {
  const cases: [number, string][] = [
    [0, '0ms'],
    [20, '20ms'],
    [999.4, '999ms'],
    [999.6, '1.0s'],
    [1500, '1.5s'],
    [45_000, '45s'],
    [600_000, '10m00s'],
    [3_720_000, '1h02m'],
  ];
  for (const [ms, text] of cases) assert.equal(fmtDuration(ms), text, `${ms} ms`);
});
