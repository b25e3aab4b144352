/**
 * `smart-cron logs`: a run's output from its log file (the job's latest run, or --run ID), the
 * whole log or its tail, and with --follow as it grows until the run ends, like `tail -f` that
 * knows when to stop. The output alone goes to stdout (pipe it); notes about the run go to stderr.
 */
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import type { Command } from 'commander';
import { NotFoundError, ValidationError } from '../errors.js';
import type { App } from '../daemon/app.js';
import { cutFiles, omittedMarker, parseCutState, rewrittenParts } from '../execution/output.js';
import { fromWholeLine, readLogRange } from '../execution/run-log.js';
import { FINAL_RUN_STATUSES, RUN_STATUSES, type RunRow } from '../storage/schema.js';
import type { CliContext } from './context.js';
import { printJson } from './output.js';
import { isStarting } from './status-label.js';
import { parseRunId } from './runs.js';
import { statusLabel } from './status-label.js';

const CHUNK = 1 << 20;
const FOLLOW_POLL_MS = 250;

interface LogsOptions {
  run?: string;
  tail?: string;
  follow?: boolean;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .description("a run's output: the job's latest run, or --run ID (--follow: as it grows, until the run ends)")
    .argument('[name]', 'job name or id: its latest run')
    .option('--run <id>', 'this run (42 or #42, as `history` shows it)')
    .option('--tail <bytes>', 'only the last BYTES of the log, from a whole line on')
    .option('-f, --follow', 'keep printing new output until the run ends (waits for a queued run to start)')
    .action(async (name: string | undefined, o: LogsOptions) => {
      if ((name === undefined) === (o.run === undefined)) {
        throw new ValidationError(name === undefined ? 'logs: name a job (its latest run is shown) or give --run ID' : 'logs: give a job name or --run ID, not both', 'run');
      }
      const runId = o.run === undefined ? undefined : parseRunId(o.run);
      const tail = o.tail === undefined ? undefined : Number(o.tail);
      if (tail !== undefined && (!Number.isInteger(tail) || tail < 1)) throw new ValidationError(`--tail: "${o.tail}" is not a whole number of bytes above 0`, 'tail');
      await ctx.withApp(async (app) => {
        const run = runId !== undefined ? await app.jobs.history.byId(runId) : await latestRun(app, name!, Boolean(o.follow));
        if (!run) throw new NotFoundError(`no run with id ${runId}`, 'run');
        const jobName = (await app.jobs.jobs.byId(run.job_id))?.name ?? `job #${run.job_id}`;
        if (ctx.globals().json) {
          if (o.follow) throw new ValidationError('--follow prints text as it comes; leave out --json', 'follow');
          const log = await logFile(run);
          const text = log ? (await readLogRange(log.path, tailStart(log.size, tail), log.size, tail !== undefined)).text : keptOutput(run, tail);
          return printJson({ run, output: text, from_log_file: log !== null });
        }
        await (o.follow ? follow(app, run, jobName, tail) : show(run, jobName, tail));
      });
    });
}

/**
 * The job's newest run that has output: skipped ticks have none, and a run still queued or
 * prepared for an instant to come has none yet (a per-second job always has one). To --follow,
 * the newest run that will have output, which the command then waits for.
 */
async function latestRun(app: App, name: string, follow: boolean): Promise<RunRow> {
  const job = await app.jobs.getJob(name);
  const recent = await app.jobs.history.list({ jobId: job.id, status: RUN_STATUSES.filter((s) => s !== 'skipped'), limit: 5 });
  const now = app.clock.now();
  const begun = (r: RunRow) => r.status !== 'queued' && !isStarting(r, now);
  const run = follow ? recent[0] : (recent.find(begun) ?? recent[0]);
  if (!run) {
    const [skipped] = await app.jobs.history.list({ jobId: job.id, status: ['skipped'], limit: 1 });
    // "No runs yet" would send the user looking at the schedule: the daemon did try, and said why not.
    if (skipped) throw new NotFoundError(`job ${job.name} has no output: its runs were all skipped (the latest${skipped.skip_reason ? `: ${skipped.skip_reason}` : ''}; \`smart-cron history ${job.name}\` lists them)`, 'name');
    throw new NotFoundError(`job ${job.name} has no runs yet (start one with \`smart-cron run ${job.name}\`)`, 'name');
  }
  return run;
}

/** The run's log file when it is on this host. */
async function logFile(run: RunRow): Promise<{ path: string; size: number } | null> {
  if (!run.log_path) return null;
  const info = await stat(run.log_path).catch(() => null);
  return info?.isFile() ? { path: run.log_path, size: info.size } : null;
}

/**
 * The output kept with the run (its head and tail; what there is when the log file is not on
 * this host), or its last `tail` bytes from a whole line on, as --tail reads a log file.
 */
function keptOutput(run: RunRow, tail: number | undefined): string {
  const kept = Buffer.from(run.output_tail ?? '');
  const b = kept.subarray(tailStart(kept.length, tail));
  return (b.length < kept.length ? fromWholeLine(b) : b).toString('utf8');
}

/** Where --tail BYTES starts in a log of `size` bytes (the whole log without it). */
function tailStart(size: number, tail: number | undefined): number {
  return tail === undefined ? 0 : Math.max(0, size - tail);
}

/** A run that ended without a start (skipped, or let go while queued): it has no log and no output. */
function neverStarted(run: RunRow): boolean {
  return run.started_at === null && FINAL_RUN_STATUSES.includes(run.status);
}

function whyNotStarted(run: RunRow): string {
  const why = run.skip_reason ?? run.error_message;
  return `${run.status}${why ? ` (${why})` : ''}`;
}

function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

async function write(text: string | Buffer): Promise<void> {
  if (!text.length) return;
  if (!process.stdout.write(text)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
}

/** Print [from, to) of the file in chunks (a log can be large; the daemon caps it). Returns where it stopped. */
async function copy(path: string, from: number, to: number, wholeLines: boolean): Promise<number> {
  let at = from;
  let first = wholeLines;
  while (at < to) {
    const { text, end } = await readLogRange(path, at, Math.min(to, at + CHUNK), first);
    first = false;
    if (end === at) break; // the file shrank (pruned)
    await write(text);
    at = end;
  }
  return at;
}

async function show(run: RunRow, jobName: string, tail: number | undefined): Promise<void> {
  if (run.status === 'queued') return note(`run #${run.id} (${jobName}) is queued: no output yet (--follow waits for it)`);
  if (neverStarted(run)) return note(`run #${run.id} (${jobName}) never started: ${whyNotStarted(run)}; it has no output`);
  const log = await logFile(run);
  if (log) {
    await copy(log.path, tailStart(log.size, tail), log.size, tail !== undefined);
    if (log.size === 0) note(`(run #${run.id} printed nothing)`);
    return;
  }
  const kept = keptOutput(run, tail);
  await write(kept);
  if (run.log_path) note(`(run #${run.id}'s log file ${run.log_path} is not on this host${run.node ? ` (it ran on ${run.node})` : ''}, or was pruned: this is the output kept with the run, its head and tail)`);
  else if (!kept && run.status !== 'skipped') note(`(run #${run.id} printed nothing)`);
}

async function follow(app: App, first: RunRow, jobName: string, tail: number | undefined): Promise<void> {
  let run = first;
  if (run.status === 'queued') note(`run #${run.id} (${jobName}) is queued: waiting for it to start…`);
  const place: Place = { at: 0, ino: null, wholeLine: false };
  let toldElsewhere = false;
  for (;;) {
    const log = await logFile(run);
    const final = FINAL_RUN_STATUSES.includes(run.status);
    if (!log && !final && run.status === 'running' && run.log_path && !toldElsewhere) {
      // Its log is written on the host that runs it; what the run keeps is stored when it ends.
      toldElsewhere = true;
      note(`run #${run.id} (${jobName}) runs ${run.node ? `on ${run.node}` : 'elsewhere'}: its log is on that host; the output it keeps follows when it ends`);
    }
    if (log) {
      await readOn(run, log.path, place, final, tail);
    } else if (final && place.ino === null) {
      // Never saw a log file here (another node's run, or pruned): what the run kept.
      await write(keptOutput(run, tail));
    }
    if (final) break;
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    const now = await app.jobs.history.byId(run.id);
    if (!now) return note(`--- run #${run.id} (${jobName}) is gone: its job or history was removed`);
    run = now;
  }
  const took = run.duration_ms === null ? '' : ` after ${(run.duration_ms / 1000).toFixed(2)} s`;
  const exit = run.exit_code !== null ? ` (exit ${run.exit_code})` : run.signal ? ` (${run.signal})` : '';
  if (neverStarted(run)) return note(`--- run #${run.id} (${jobName}) never started: ${whyNotStarted(run)}`);
  note(`--- run #${run.id} (${jobName}): ${statusLabel(run, app.clock.now())}${exit}${took}${run.error_message ? `: ${run.error_message}` : ''}`);
}

/**
 * Where --follow is: `at` bytes of the job's output printed (or passed over with a marker), read
 * from the log file with inode `ino`. Counted in the whole output, not the file: the daemon cuts
 * a log that passes execution.log_max_bytes to nothing while the job writes on, and at the end
 * replaces it with head + marker + the latest output (execution/output.ts); a byte offset in the
 * file would skip what follows a cut and repeat what a rewrite moved.
 */
interface Place {
  at: number;
  ino: number | null;
  /** --tail started inside the log: the first bytes printed start from a whole line. */
  wholeLine: boolean;
}

/** Which bytes of the output a log file holds: the first ones, as `head()` reads them, then from `base` on, the file's from offset `body`. */
interface Parts {
  head: () => Promise<Buffer>;
  base: number;
  body: number;
}

/**
 * Print what the log holds past `p`, and a marker for what it no longer holds. A read while the
 * daemon cuts the file (or rewrites it) is not printed: the next look reads it again.
 */
async function readOn(run: RunRow, logPath: string, p: Place, final: boolean, tail: number | undefined): Promise<void> {
  const files = cutFiles(logPath);
  const stateText = () => readFile(files.state, 'utf8').catch(() => null);
  const seen = await stateText();
  const fh = await open(logPath, 'r').catch(() => null);
  if (!fh) return; // pruned meanwhile
  try {
    const { ino, size } = await fh.stat();
    let parts: Parts | null;
    let unchanged: () => Promise<boolean>;
    if (p.ino !== null && ino !== p.ino) {
      // A new file: the run ended and its cut log was rewritten; its parts are found from the
      // byte count the run records when it ends.
      if (!final) return;
      parts = await rewritten(fh, size, run.output_bytes);
      if (!parts) {
        p.ino = ino;
        return note(`(run #${run.id}'s log was rewritten at its end in a form this command does not know: \`smart-cron logs --run ${run.id}\` shows it whole)`);
      }
      unchanged = async () => true; // a rewritten log is not written again
    } else {
      const state = parseCutState(seen);
      if (state.busy && !final) return;
      parts = { head: () => readFile(files.head).catch(() => Buffer.alloc(0)), base: state.base, body: 0 };
      // The same state after the read: no cut (nor the rewrite) came between, each changes it first.
      unchanged = async () => final || (await stateText()) === seen;
    }
    if (p.ino === null && tail !== undefined) {
      // The first read starts at the tail asked for, from a whole line on.
      const from = Math.max(parts.body, size - tail);
      p.at = parts.base + from - parts.body;
      p.wholeLine = from > 0;
    }
    p.ino = ino;
    await printOn(fh, size, p, parts, unchanged);
  } finally {
    await fh.close();
  }
}

async function printOn(fh: FileHandle, size: number, p: Place, parts: Parts, unchanged: () => Promise<boolean>): Promise<void> {
  const head = p.at < parts.base ? await parts.head() : null;
  if (!(await unchanged())) return;
  if (head) {
    const upTo = Math.min(head.length, parts.base);
    if (p.at < upTo) {
      await write(head.subarray(p.at, upTo));
      p.at = upTo;
    }
    if (p.at < parts.base) await write(omittedMarker(parts.base - p.at));
    p.at = parts.base;
  }
  for (let off = parts.body + p.at - parts.base; off < size; ) {
    const b = await pread(fh, off, Math.min(CHUNK, size - off));
    if (b.length === 0 || !(await unchanged())) return;
    await write(p.wholeLine ? fromWholeLine(b) : b);
    p.wholeLine = false;
    p.at += b.length;
    off += b.length;
  }
}

/** The parts of a rewritten log, from its first bytes (read until its marker is found) and the run's byte count. */
async function rewritten(fh: FileHandle, size: number, total: number | null): Promise<Parts | null> {
  let start = Buffer.alloc(0);
  while (total !== null && start.length < size) {
    const more = await pread(fh, start.length, Math.min(CHUNK, size - start.length));
    if (more.length === 0) break;
    start = Buffer.concat([start, more]);
    const at = rewrittenParts(start, size, total);
    if (at) return { head: async () => start.subarray(0, at.head), base: at.tailFrom, body: at.body };
  }
  return null;
}

async function pread(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  const { bytesRead } = await fh.read(b, 0, len, pos);
  return b.subarray(0, bytesRead);
}
