import { constants } from 'node:os';
import type { Command } from 'commander';
import { exitCodeFor, SmartCronError, ValidationError } from '../errors.js';
import { engineHere, runHere, waitFinal, type EngineHere } from '../daemon/oneshot.js';
import { runningDaemon } from '../daemon/state.js';
import { cancelRun } from '../execution/cancel.js';
import { NodesRepo } from '../storage/repos/nodes.js';
import { queueManualRun } from '../execution/manual.js';
import { shouldRetry } from '../execution/retry.js';
import type { App } from '../daemon/app.js';
import { RUN_STATUSES, type RunRow, type RunStatus } from '../storage/schema.js';
import { collect, type CliContext } from './context.js';
import { formatTable, print, printJson, when } from './output.js';
import { statusLabel } from './status-label.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .description('run a job now, through the same admission as scheduled runs (the daemon runs it, or this process when none is running)')
    .argument('<name>', 'job name or id')
    .argument('[args...]', 'extra arguments for this run, after --')
    .option('--wait', 'wait for the run to finish, retries included, and print each attempt (exit 1 unless the last succeeded; Ctrl-C stops the run)')
    .option('--env <KEY=VALUE>', 'extra environment for this run (repeatable)', collect)
    .action(async (name: string, args: string[], o: { wait?: boolean; env?: string[] }) => {
      const env: Record<string, string> = {};
      for (const p of o.env ?? []) {
        const i = p.indexOf('=');
        if (i <= 0) throw new ValidationError(`--env: "${p}" is not KEY=VALUE`, 'env');
        env[p.slice(0, i)] = p.slice(i + 1);
      }
      const json = ctx.globals().json;
      const code = await ctx.withApp(async (app) => {
        const daemon = runningDaemon(app.config.home);
        // This process runs it when no daemon does: its engine first, so a host that cannot run
        // it here fails the command before anything is queued.
        let here: EngineHere | undefined = daemon ? undefined : engineHere(app);
        let queued: RunRow;
        try {
          queued = await queueManualRun(app.jobs, app.clock, { job: name, args, env });
        } catch (e) {
          here?.engine.release();
          throw e;
        }
        if (daemon && !o.wait) {
          if (json) printJson(queued);
          else print(`queued run #${queued.id} of ${name}; the daemon (pid ${daemon.pid}) starts it when it fits. Follow it with \`smart-cron logs ${name} --follow\`.`);
          return 0;
        }
        if (!json) print(daemon ? `queued run #${queued.id}; waiting for the daemon (pid ${daemon.pid})…` : `running #${queued.id} of ${name} here (no daemon is running)…`);
        const stopped = stopOnSignals(app, queued.id, daemon !== null);
        let done: RunRow;
        try {
          // Why it waits, as it changes (nothing while it fits at once).
          const onWait = json ? undefined : (reason: string) => print(`waiting: ${reason}`);
          // Each attempt until the last: a failure the job retries is not the run's outcome.
          for (let run = queued; ; ) {
            done = daemon ? await waitFinal(app, run.id, { onWait, daemon }) : await runHere(app, run.id, onWait, here);
            here = undefined; // a retry builds its own
            const next = stopped.by ? null : await nextAttempt(app, done);
            if (!next) break;
            if (!json) {
              print(describeRun(done, app.clock.now()));
              const at = next.not_before ? ` for ${when(next.not_before, app.clock.now())}` : '';
              print(`retry: attempt ${next.attempt} (run #${next.id}) queued${at}; ${daemon ? 'waiting for it' : 'running it here when it is due'}…`);
            }
            run = next;
            stopped.runId = next.id;
          }
        } finally {
          stopped.dispose();
        }
        if (json) printJson(done);
        else print(describeRun(done, app.clock.now()));
        if (!daemon && !json) {
          // What this run queued (dependent runs) waits for a daemon: nothing here starts it.
          const left = await app.database.db.selectFrom('smart_cron_job_history').selectAll().where('status', '=', 'queued').where('id', '>', queued.id).orderBy('id').execute();
          for (const r of left) {
            const job = (await app.jobs.jobs.byId(r.job_id))?.name ?? `job #${r.job_id}`;
            print(`run #${r.id} of ${job} (${r.trigger}) stays queued: no daemon runs for this home; it starts when one does (\`smart-cron daemon\`)`);
          }
        }
        // As a shell reports a command ended by the signal (130 for Ctrl-C).
        if (stopped.by) return 128 + constants.signals[stopped.by];
        return done.status === 'succeeded' ? 0 : 1;
      });
      process.exitCode = code;
    });

  program
    .command('history')
    .description('runs, newest first')
    .argument('[name]', 'only this job')
    .option('--limit <n>', 'how many', '20')
    .option('--status <status>', `only this status (${RUN_STATUSES.join(', ')})`)
    .option('--node <id>', 'only runs of this node (as `nodes` lists them)')
    .action(async (name: string | undefined, o: { limit: string; status?: string; node?: string }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10000) throw new ValidationError(`--limit: "${o.limit}" is not a whole number from 1 to 10000`, 'limit');
      if (o.status && !(RUN_STATUSES as readonly string[]).includes(o.status)) throw new ValidationError(`--status: "${o.status}" is not a run status (expected one of ${RUN_STATUSES.join(', ')})`, 'status');
      await ctx.withApp(async (app) => {
        const job = name ? await app.jobs.getJob(name) : undefined;
        const runs = await app.jobs.history.list({ jobId: job?.id, status: o.status as RunStatus | undefined, node: o.node, limit });
        if (ctx.globals().json) return printJson(runs);
        if (runs.length === 0) return print(o.node === undefined ? 'no runs yet' : await noRunsOfNode(app, o.node));
        const names = new Map<number, string>();
        for (const r of runs) if (!names.has(r.job_id)) names.set(r.job_id, (await app.jobs.jobs.byId(r.job_id))?.name ?? String(r.job_id));
        const now = app.clock.now();
        // Which node ran a run matters where there can be several (PostgreSQL); a SQLite home's
        // table stays as it was unless its runs came from more than one node id.
        const nodeColumn = app.database.dialect === 'postgres' || new Set(runs.map((r) => r.node).filter((n) => n !== null)).size > 1;
        print(
          formatTable(runs, [
            { header: 'run', get: (r) => `#${r.id}`, align: 'right' },
            { header: 'job', get: (r) => names.get(r.job_id), max: 32 },
            ...(nodeColumn ? [{ header: 'node', get: (r: RunRow) => r.node, max: 32 }] : []),
            { header: 'trigger', get: (r) => r.trigger },
            { header: 'status', get: (r) => statusLabel(r, now) },
            { header: 'started', get: (r) => startedCell(r, now) },
            { header: 'duration', get: (r) => (r.duration_ms === null ? null : `${(r.duration_ms / 1000).toFixed(2)}s`), align: 'right' },
            { header: 'exit', get: (r) => r.exit_code ?? r.signal, align: 'right' },
            { header: 'peak mem', get: (r) => (r.peak_memory_mb === null ? null : `${r.peak_memory_mb.toFixed(1)} MB`), align: 'right' },
            { header: 'note', get: (r) => r.skip_reason ?? r.error_message ?? (r.status === 'running' && r.cancel_requested ? `asked to stop: ${r.cancel_requested}` : r.wait_reason), max: 60 },
          ]),
        );
      });
    });

  program
    .command('cancel')
    .description('cancel runs: a queued run is skipped; a running one is stopped by the daemon (or node) running it, within a second (TERM, grace, KILL)')
    .argument('<runs...>', 'run ids, as `history` shows them (42 or #42)')
    .option('--reason <text>', 'why (kept on the run)', 'cancelled with smart-cron cancel')
    .option('--wait', 'wait for running runs to end and print their result')
    .action(async (ids: string[], o: { reason: string; wait?: boolean }) => {
      const runIds = ids.map(parseRunId);
      if (o.reason.length > 500) throw new ValidationError(`--reason: ${o.reason.length} characters (expected at most 500)`, 'reason');
      const json = ctx.globals().json;
      const code = await ctx.withApp(async (app) => {
        const daemon = runningDaemon(app.config.home);
        const out: RunRow[] = [];
        let failed: unknown = null;
        for (const id of runIds) {
          let done: Awaited<ReturnType<typeof cancelRun>>;
          try {
            done = await cancelRun({ history: app.jobs.history, clock: app.clock }, id, o.reason);
          } catch (e) {
            if (!(e instanceof SmartCronError)) throw e;
            process.stderr.write(`smart-cron: ${e.message}\n`);
            failed ??= e;
            continue;
          }
          const r = done.run;
          const name = (await app.jobs.jobs.byId(r.job_id))?.name ?? `job #${r.job_id}`;
          const elsewhere = r.node !== null && r.node !== app.config.nodeId;
          // Only a process that holds the run can stop it: say which one will, and whether one is there.
          const holder = elsewhere ? `node ${r.node} stops it` : daemon ? `the daemon (pid ${daemon.pid}) stops it` : null;
          if (!json) {
            if (done.how === 'skipped') print(`run #${r.id} (${name}) was queued: skipped, it will not start`);
            else if (holder) print(`run #${r.id} (${name}) is running: asked to stop; ${holder} within a second`);
            else print(`run #${r.id} (${name}) is running, but no daemon runs for this home: it stops when a \`smart-cron run\` still holding it sees the request (within a second), or when the next daemon adopts it`);
          }
          out.push(done.how === 'requested' && o.wait && holder ? await waitFinal(app, r.id, { daemon: elsewhere ? undefined : (daemon ?? undefined) }) : r);
        }
        if (json) printJson(out);
        else if (o.wait) for (const r of out) if (r.status !== 'skipped') print(describeRun(r, app.clock.now()));
        return failed ? exitCodeFor(failed) : 0;
      });
      process.exitCode = code;
    });

  program
    .command('slots')
    .description('execution slots of each node: running jobs, reserved memory and CPU against the budgets')
    .action(async () => {
      await ctx.withApp(async (app) => {
        // This node's rows, and those of the other nodes that are up (a stopped or silent node's last rows are not its load now).
        const own = await app.database.db.selectFrom('smart_cron_execution_slots').selectAll().where('node', '=', app.config.nodeId).orderBy('slot').execute();
        const others = await new NodesRepo(app.database.db).slotsOfOthers(app.config.nodeId, app.clock.now(), app.config.leaseMs);
        const rows = [...own, ...others];
        const live = rows.length
          ? rows
          : Object.entries(app.config.slots).map(([slot, b]) => ({ node: app.config.nodeId, slot, ...b, current_running_jobs: 0, current_memory_mb: 0, current_cpu_percent: 0, updated_at: '' }));
        if (ctx.globals().json) return printJson(live);
        print(
          formatTable(live, [
            { header: 'node', get: (r) => r.node },
            { header: 'slot', get: (r) => r.slot },
            { header: 'jobs', get: (r) => `${r.current_running_jobs}/${r.max_concurrent_jobs}`, align: 'right' },
            { header: 'memory', get: (r) => `${Math.round(r.current_memory_mb)}/${Math.round(r.max_memory_mb)} MB`, align: 'right' },
            { header: 'cpu', get: (r) => `${Math.round(r.current_cpu_percent)}/${Math.round(r.max_cpu_percent)} %`, align: 'right' },
          ]),
        );
        if (!runningDaemon(app.config.home)) {
          // Runs a stopped daemon left going: their processes run on, unwatched, until a daemon adopts them.
          const going = await app.database.db.selectFrom('smart_cron_job_history').select('id').where('status', '=', 'running').where('node', '=', app.config.nodeId).orderBy('id').execute();
          print(
            going.length
              ? `(no daemon is running for this home: ${going.length} run${going.length === 1 ? '' : 's'} (#${going.map((r) => r.id).join(', #')}) ${going.length === 1 ? 'goes' : 'go'} on unsupervised; the next daemon adopts and records ${going.length === 1 ? 'it' : 'them'})`
              : '(no daemon is running for this home: nothing runs)',
          );
        }
      });
    });
}

/**
 * While `run --wait` waits: Ctrl-C (or SIGTERM) stops the run it started, as for any command in
 * the foreground, through the same request as `smart-cron cancel` (whoever runs it, this
 * process or the daemon, stops it and records it interrupted); a second one leaves at once and
 * lets the run go on.
 */
function stopOnSignals(app: App, firstRunId: number, viaDaemon: boolean): { by: NodeJS.Signals | null; runId: number; dispose(): void } {
  // runId: the attempt waited for now (a retry once the first attempt failed).
  const state = { by: null as NodeJS.Signals | null, runId: firstRunId, dispose };
  const on = (sig: NodeJS.Signals) => {
    const runId = state.runId;
    if (state.by) {
      // The daemon waited for may have stopped meanwhile: then it is the next one's.
      const holder = viaDaemon ? runningDaemon(app.config.home) : null;
      process.stderr.write(`smart-cron: left run #${runId} running; ${holder ? `the daemon (pid ${holder.pid}) records it` : 'the next daemon records it (it adopts the run)'}\n`);
      process.exit(128 + constants.signals[sig]);
    }
    state.by = sig;
    process.stderr.write(`smart-cron: stopping run #${runId} (${sig}); ${sig === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again leaves it running\n`);
    cancelRun({ history: app.jobs.history, clock: app.clock }, runId, `stopped by ${sig} to smart-cron run --wait`).catch((e: Error) => process.stderr.write(`smart-cron: ${e.message}\n`));
  };
  const onInt = () => on('SIGINT');
  const onTerm = () => on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  function dispose(): void {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  return state;
}

/**
 * `history`'s STARTED: when the run started. A run that never did (skipped, let go) has no start
 * (its queued_at read as one: a tick skipped for its deadline showed a start); a queued run
 * held back until a time (a retry's backoff, a requirement's recheck) says until when.
 */
function startedCell(r: RunRow, now: number): string | null {
  if (r.started_at !== null) return when(r.started_at, now);
  if (r.status !== 'queued' || !r.not_before) return null;
  return `${r.trigger === 'retry' ? 'retry at' : 'not before'} ${timeOfDay(r.not_before, now)}`;
}

/** HH:MM:SS local time, with the date when it is not today's. */
function timeOfDay(isoText: string, now: number): string {
  const full = when(isoText, now).replace(/ \(.*\)$/, '');
  const today = when(new Date(now).toISOString(), now).slice(0, 10);
  return full.startsWith(today) ? full.slice(11) : full;
}

/** `history --node X` with nothing to show: say whether X is a node at all. */
async function noRunsOfNode(app: App, node: string): Promise<string> {
  const known = (await new NodesRepo(app.database.db).list()).map((n) => n.id);
  if (known.includes(node)) return `no runs of node ${node}`;
  return `no runs of node ${node} (no node has that id${known.length ? `; the nodes: ${known.join(', ')}` : ''})`;
}

/**
 * The attempt that follows a finished one, when the job retries it: the dispatcher queues it
 * right after recording the attempt, so it is looked for a few seconds. Null when none follows.
 */
async function nextAttempt(app: App, run: RunRow): Promise<RunRow | null> {
  const job = await app.jobs.jobs.byId(run.job_id);
  if (!job || !shouldRetry(job, run, run.status)) return null;
  for (let tries = 0; tries < 50; tries++) {
    const next = await app.database.db
      .selectFrom('smart_cron_job_history')
      .selectAll()
      .where('job_id', '=', run.job_id)
      .where('scheduled_for', '=', run.scheduled_for)
      .where('attempt', '=', run.attempt + 1)
      .executeTakeFirst();
    if (next) return next;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

/** A run id as `history` prints it (#42) or bare (42). */
export function parseRunId(text: string): number {
  const m = /^#?(\d{1,15})$/.exec(text.trim());
  if (!m) throw new ValidationError(`"${text}" is not a run id (expected the number \`history\` shows, e.g. 42 or #42)`, 'run');
  return Number(m[1]);
}

export function describeRun(r: RunRow, now: number): string {
  const lines = [`run #${r.id}: ${statusLabel(r, now)}${r.exit_code !== null ? ` (exit ${r.exit_code})` : ''}${r.signal ? ` (${r.signal})` : ''}`];
  if (r.started_at === null && r.status !== 'queued') {
    // Skipped, or let go before its start: it has no start, duration or usage to report.
    lines.push(`never started: queued ${when(r.queued_at, now)}${r.finished_at ? `, ended ${when(r.finished_at, now)}` : ''}`);
  } else {
    lines.push(
      `started ${when(r.started_at, now)}, waited ${r.wait_ms ?? 0} ms, took ${r.duration_ms !== null ? `${(r.duration_ms / 1000).toFixed(2)} s` : '-'}`,
      `peak memory ${r.peak_memory_mb !== null ? `${r.peak_memory_mb.toFixed(1)} MB (${r.memory_source})` : '-'}, cpu ${r.cpu_time_ms ?? '-'} ms`,
    );
  }
  if (r.status === 'running' && r.cancel_requested) lines.push(`asked to stop: ${r.cancel_requested}`);
  if (r.error_message) lines.push(`error: ${r.error_message}`);
  if (r.skip_reason) lines.push(`skipped: ${r.skip_reason}`);
  if (r.output_tail) lines.push('--- output ---', r.output_tail.trimEnd());
  return lines.join('\n');
}
