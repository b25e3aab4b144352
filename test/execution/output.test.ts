/**
 * Output: head + tail for the history row, exact byte count, the log cap, bounded daemon
 * memory under a flood. Real processes on the portable backend (the output path is the same
 * for every backend).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutputFollower, omittedMarker, rewrittenParts } from '../../src/execution/output.js';
import { PortableBackend } from '../../src/execution/enforcement/portable.js';
import { runnerOptionsFromConfig, startRun } from '../../src/execution/runner.js';
import { Sampler } from '../../src/execution/sampler.js';
import { tempDir } from '../helpers/tmp.js';

const programs = fileURLToPath(new URL('../fixtures/programs/', import.meta.url));
const backend = new PortableBackend();

function options(tailBytes: number, logMaxBytes: number) {
  const sampler = new Sampler({ intervalMs: 50 });
  return runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: tailBytes, log_max_bytes: logMaxBytes }, sampler);
}

test('follower: short output is kept whole and counted exactly', () => {
  const dir = tempDir();
  const log = path.join(dir, 'output.log');
  fs.writeFileSync(log, 'hello\n');
  const f = new OutputFollower(log, { tailBytes: 1024, logMaxBytes: 4096 });
  f.poll();
  fs.appendFileSync(log, 'world\n');
  const r = f.finish();
  assert.deepEqual(r, { outputTail: 'hello\nworld\n', outputBytes: 12, outputTruncated: false, logPath: log });
  assert.equal(f.finish(), r, 'finish is idempotent');
});

test('follower: a cut log keeps head, marker and the most recent bytes, in the row and the file', () => {
  const dir = tempDir();
  const log = path.join(dir, 'output.log');
  fs.writeFileSync(log, '');
  const f = new OutputFollower(log, { tailBytes: 1024, logMaxBytes: 4096 });
  let all = '';
  for (let i = 0; i < 400; i++) {
    const line = `line ${String(i).padStart(4, '0')} ${'x'.repeat(40)}\n`;
    all += line;
    fs.appendFileSync(log, line);
    if (i % 7 === 0) f.poll();
  }
  const r = f.finish();
  assert.equal(r.outputBytes, all.length);
  assert.equal(r.outputTruncated, true);
  const head = all.slice(0, 256);
  const tail = all.slice(all.length - 768);
  assert.equal(r.outputTail, head + omittedMarker(all.length - 1024) + tail);
  const file = fs.readFileSync(log, 'utf8');
  assert.ok(file.length <= 4096, `log file ${file.length} bytes is within the cap`);
  assert.ok(file.startsWith(head), 'file starts with the head');
  assert.ok(file.endsWith(all.slice(all.length - 2000)), 'file ends with the most recent output');
  assert.match(file, /\[\.\.\. \d+ bytes omitted \.\.\.\]/);
});

test('follower: when the cut log cannot be rewritten (a full disk), the row still gets head, marker and tail', () => {
  const dir = tempDir();
  const log = path.join(dir, 'output.log');
  fs.writeFileSync(log, '');
  fs.mkdirSync(`${log}.tmp`); // writing the rewritten log fails (EISDIR)
  const f = new OutputFollower(log, { tailBytes: 1024, logMaxBytes: 4096 });
  let all = '';
  for (let i = 0; i < 400; i++) {
    const line = `line ${String(i).padStart(4, '0')} ${'x'.repeat(40)}\n`;
    all += line;
    fs.appendFileSync(log, line);
    if (i % 7 === 0) f.poll();
  }
  const r = f.finish();
  assert.equal(r.outputBytes, all.length);
  assert.equal(r.outputTail, all.slice(0, 256) + omittedMarker(all.length - 1024) + all.slice(all.length - 768));
  assert.ok(all.endsWith(fs.readFileSync(log, 'utf8')), 'the log keeps its last part');
});

test('follower: under a cap smaller than the row\'s head, the rewritten log still ends with the latest output', () => {
  const dir = tempDir();
  const log = path.join(dir, 'output.log');
  fs.writeFileSync(log, '');
  // A head of 16384 bytes (output_tail_bytes 65536, the default) would fill a 4096-byte log alone.
  const f = new OutputFollower(log, { tailBytes: 65536, logMaxBytes: 4096 });
  let all = '';
  for (let i = 1; i <= 2000; i++) {
    const line = `line ${String(i).padStart(4, '0')}\n`;
    all += line;
    fs.appendFileSync(log, line);
    if (i % 200 === 0) f.poll();
  }
  fs.appendFileSync(log, 'END\n');
  all += 'END\n';
  const r = f.finish();
  const file = fs.readFileSync(log, 'utf8');
  assert.ok(file.length <= 4096, `log file ${file.length} bytes is within the cap`);
  assert.ok(file.startsWith('line 0001\n') && file.endsWith('line 2000\nEND\n'), file.slice(-40));
  const parts = rewrittenParts(Buffer.from(file), file.length, r.outputBytes)!;
  assert.equal(parts.head, 1024, 'a quarter of the cap');
  assert.equal(file.slice(parts.body), all.slice(parts.tailFrom), 'the latest output, where the marker says');
});

test('rewrittenParts: the marker whose count adds up to the run\'s byte count', () => {
  const whole = 'abcdefghij'.repeat(10); // 100 bytes
  const rewritten = (head: number, tail: number) => whole.slice(0, head) + omittedMarker(100 - head - tail) + whole.slice(100 - tail);
  const cases: [string, string, number, { head: number; body: number; tailFrom: number } | null][] = [
    ['head, marker, tail', rewritten(10, 20), 100, { head: 10, body: 10 + omittedMarker(70).length, tailFrom: 80 }],
    ['no head', rewritten(0, 30), 100, { head: 0, body: omittedMarker(70).length, tailFrom: 70 }],
    ['no tail', rewritten(10, 0), 100, { head: 10, body: 10 + omittedMarker(90).length, tailFrom: 100 }],
    ['a marker-like line in the head', `x${omittedMarker(5)}` + omittedMarker(50) + 'y'.repeat(20), 1 + omittedMarker(5).length + 50 + 20, { head: 1 + omittedMarker(5).length, body: 1 + omittedMarker(5).length + omittedMarker(50).length, tailFrom: 1 + omittedMarker(5).length + 50 }],
    ['a count that does not add up', rewritten(10, 20), 101, null],
    ['no marker', whole, 100, null],
  ];
  for (const [what, file, total, want] of cases) assert.deepEqual(rewrittenParts(Buffer.from(file), file.length, total), want, what);
});

test('a 50 MB flood: head and tail kept, bytes counted, log capped, daemon memory bounded', async () => {
  const dir = tempDir();
  const bytes = 50 * 1024 * 1024;
  const cap = 1024 * 1024;
  const opts = options(8192, cap);
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssMax = rssBefore;
  let logMax = 0;
  const h = startRun(
    // slow-flood: the same bytes in 1 MiB chunks, so the cap is seen to act while the job runs.
    { runId: 'flood', jobName: 'flood', argv: [path.join(programs, 'slow-flood.sh'), String(bytes)], timeoutMs: 60_000, slot: 'default', runDir: dir },
    backend,
    opts,
  );
  const watch = setInterval(() => {
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    try {
      logMax = Math.max(logMax, fs.statSync(h.logPath).size);
    } catch {
      /* renamed at the end */
    }
  }, 5);
  const o = await h.done;
  clearInterval(watch);
  assert.equal(o.status, 'succeeded', o.errorMessage ?? '');
  const expected = 'BEGIN\n'.length + 'to stderr\n'.length + bytes + 1 + 'END\n'.length;
  // Bytes appended in the instant between the size check and a truncate are not counted (documented
  // in output.ts); a chunked flood is cut several times, so allow half a percent.
  assert.ok(Math.abs(o.outputBytes - expected) <= expected * 0.005, `counted ${o.outputBytes} of ${expected}`);
  assert.equal(o.outputTruncated, true);
  assert.ok(o.outputTail.startsWith('BEGIN\nto stderr\n0123456789'), o.outputTail.slice(0, 40));
  assert.ok(o.outputTail.endsWith('\nEND\n'));
  assert.match(o.outputTail, /\n\[\.\.\. \d+ bytes omitted \.\.\.\]\n/);
  assert.ok(Buffer.byteLength(o.outputTail) < 8192 + 100);
  const finalSize = fs.statSync(o.logPath).size;
  assert.ok(finalSize <= cap, `final log ${finalSize} <= cap ${cap}`);
  assert.ok(fs.readFileSync(o.logPath, 'utf8').endsWith('\nEND\n'));
  // Rewritten, the log is still 0640 like every run's log, and nothing of the cut is left beside it.
  assert.equal(fs.statSync(o.logPath).mode & 0o777, 0o640);
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('output.')), ['output.log']);
  // The cap holds with a lag of one poll: a flood can overshoot by what it writes in that time.
  assert.ok(logMax < bytes * 0.75, `the log was cut while the job ran (max seen ${logMax})`);
  assert.ok(rssMax - rssBefore < 40 * 1024 * 1024, `daemon RSS grew ${((rssMax - rssBefore) / 1048576).toFixed(1)} MB`);
});

test('flood below the cap: the count is exact and the log is left whole', async () => {
  const dir = tempDir();
  const bytes = 3 * 1024 * 1024;
  const h = startRun(
    { runId: 'f2', jobName: 'flood', argv: [path.join(programs, 'flood.sh'), String(bytes)], timeoutMs: 30_000, slot: 'default', runDir: dir },
    backend,
    options(4096, 8 * 1024 * 1024),
  );
  const o = await h.done;
  const expected = 'BEGIN\n'.length + 'to stderr\n'.length + bytes + 1 + 'END\n'.length;
  assert.equal(o.outputBytes, expected);
  assert.equal(fs.statSync(o.logPath).size, expected);
  assert.equal(o.outputTruncated, true);
});

test('a job that exits before its output is read still has its output', async () => {
  const dir = tempDir();
  const h = startRun(
    { runId: 'quick', jobName: 'quick', argv: ["printf 'a%.0s' 1 2 3; echo; echo bye >&2"], shell: true, timeoutMs: 5000, slot: 'default', runDir: dir },
    backend,
    options(4096, 1 << 20),
  );
  const o = await h.done;
  assert.equal(o.status, 'succeeded');
  assert.equal(o.outputTail, 'aaa\nbye\n');
  assert.equal(o.outputBytes, 8);
  assert.equal(o.outputTruncated, false);
});
