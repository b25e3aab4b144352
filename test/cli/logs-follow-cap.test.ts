/**
 * `smart-cron logs --follow` of a log the daemon caps (execution.log_max_bytes): the daemon cuts
 * the file to nothing while the job writes on, and rewrites it as head + marker + latest output
 * at the end. The follower (another process) must print the head, a marker for each part it
 * could not read, and everything after, in order, never twice, to the job's last line.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { describe, runCli } from '../helpers/cli.js';
import { daemonStarted, startCliProcess, startDaemonProcess, testHome } from '../fixtures/exec-core/daemon-proc.js';

const MARKER = /\n\[\.\.\. (\d+) bytes omitted \.\.\.\]\n/;

/**
 * `out` is the job's output with parts left out where a marker stands: its whole lines are the
 * job's, in order, none twice, from the first to the last. When the run counted every byte (the
 * daemon's count misses what a job writes in the instant a cut truncates the file: output.ts),
 * each piece is exactly the output's next bytes after what the marker before it counts.
 */
function assertFollowed(out: string, whole: string, counted: number): { markers: number } {
  const numbers = out
    .replace(new RegExp(MARKER, 'g'), '\n#\n')
    .split('\n')
    .filter((l) => /^[a-z]+ \d+$/.test(l))
    .map((l) => Number(l.split(' ')[1]));
  const all = whole.split('\n').filter((l) => /^[a-z]+ \d+$/.test(l));
  assert.equal(numbers[0], 1, 'the head is printed');
  assert.equal(numbers.at(-1), all.length, 'the last line is printed');
  for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i]! > numbers[i - 1]!, `line ${numbers[i]} printed after line ${numbers[i - 1]}: in order, none twice`);
  const parts = out.split(MARKER); // piece, count, piece, count, …, piece
  if (counted === whole.length) {
    assert.ok(whole.startsWith(parts[0]!), 'the first piece is the output\'s start');
    let at = parts[0]!.length;
    for (let i = 2; i < parts.length; i += 2) {
      const skipped = Number(parts[i - 1]);
      assert.ok(skipped > 0 && whole.startsWith(parts[i]!, at + skipped), `piece ${i / 2} is the output's next bytes after ${at} + ${skipped} omitted`);
      at += skipped + parts[i]!.length;
    }
    assert.equal(at, whole.length, 'the follower printed the output to its end');
  }
  return { markers: (parts.length - 1) / 2 };
}

test('logs --follow of a capped log: head, a marker for what was cut before it was read, the rest to the end, nothing twice', { timeout: 300_000 }, async () => {
  const { home, slot, app: a } = await testHome('followcap', 'execution: { log_max_bytes: 4096 }\n');
  let d: ReturnType<typeof startDaemonProcess> | null = null;
  const followers: ReturnType<typeof startCliProcess>[] = [];
  try {
    const add = (name: string, line: string) =>
      a.jobs.registerJob({ name, schedule: '@yearly', timezone: 'UTC', shell: true, command: [line], slot }, { source: 'manual', byUser: true });
    // 2000 numbered lines (20 kB, five times the cap) in bursts of 200 with a pause: cut several times while followed.
    await add('numbered', 'i=1; while [ $i -le 2000 ]; do printf "line %04d\\n" $i; i=$((i+1)); [ $((i % 200)) -eq 0 ] && sleep 0.3; done; echo END');
    // A flood: 4 MB as fast as seq writes it, a thousand times the cap.
    await add('flood', 'seq -f "flood %07g" 1 300000; echo END');
    let numbered = '';
    for (let i = 1; i <= 2000; i++) numbered += `line ${String(i).padStart(4, '0')}\n`;
    numbered += 'END\n';
    let flood = '';
    for (let i = 1; i <= 300000; i++) flood += `flood ${String(i).padStart(7, '0')}\n`;
    flood += 'END\n';
    const cli = (...args: string[]) => runCli(['--home', home, ...args], { timeoutMs: 120_000 });

    d = startDaemonProcess(home);
    await daemonStarted(d);

    for (const [job, whole] of [
      ['numbered', numbered],
      ['flood', flood],
    ] as const) {
      const queued = await cli('run', job);
      assert.equal(queued.code, 0, describe(queued));
      const f = startCliProcess(home, ['logs', job, '--follow']);
      followers.push(f);
      assert.equal(await f.exited, 0, f.stderr());
      const run = (await a.jobs.history.list({ jobId: (await a.jobs.getJob(job)).id, limit: 1 }))[0]!;
      assert.equal(run.status, 'succeeded', `${job}: ${run.error_message}`);
      const lost = whole.length - run.output_bytes!;
      // What the job writes while a cut truncates the file is not counted (the gap output.ts
      // documents; like logrotate's copytruncate): a few KB per cut, more on a loaded machine.
      // The user-visible promises are checked below: head, order, nothing twice, the end.
      assert.ok(lost >= 0 && lost <= whole.length * 0.1, `${job}: the run counted its output: ${run.output_bytes} of ${whole.length}`);
      const out = f.stdout();
      assert.ok(out.startsWith(job === 'numbered' ? 'line 0001\nline 0002\n' : 'flood 0000001\n'), `${job} starts with its head: ${out.slice(0, 40)}`);
      assert.ok(out.endsWith('\nEND\n'), `${job} ends with its last line: …${out.slice(-80)}`);
      const { markers } = assertFollowed(out, whole, run.output_bytes!);
      if (job === 'flood') assert.ok(markers >= 1, 'a flood of 1000 times the cap is not all read: a marker says so');
      assert.match(f.stderr(), new RegExp(`--- run #${run.id} \\(${job}\\): succeeded \\(exit 0\\)`));

      // The finished log: head + marker + latest output within the cap, 0640 like every log, and no cut state left beside it.
      const log = readFileSync(run.log_path!, 'utf8');
      assert.ok(log.length <= 4096 && log.endsWith('\nEND\n') && MARKER.test(log), log.slice(0, 80));
      assert.equal(statSync(run.log_path!).mode & 0o777, 0o640, `${job}: the rewritten log keeps mode 0640`);
      assert.deepEqual(readdirSync(dirname(run.log_path!)).filter((n) => n.startsWith('output.')), ['output.log']);
      // --follow of the ended run prints the log as it is.
      const late = await cli('logs', job, '--follow');
      assert.equal(late.code, 0, describe(late));
      assert.equal(late.stdout, log);
      const lateTail = await cli('logs', job, '--follow', '--tail', '25');
      assert.equal(lateTail.stdout, job === 'numbered' ? 'line 1999\nline 2000\nEND\n' : 'flood 0300000\nEND\n', describe(lateTail));
    }
  } finally {
    for (const f of followers) if (f.child.exitCode === null) f.child.kill('SIGKILL');
    if (d && d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill('SIGTERM');
      await d.exited;
    }
    await a.close();
  }
});
