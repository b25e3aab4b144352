import type { Command } from 'commander';
import { resolve } from 'node:path';
import { closest } from '../config/explain.js';
import { detect } from '../discovery/detect.js';
import { argvForScript, type ScriptType } from '../execution/shim.js';
import { ValidationError } from '../errors.js';
import { standingReasons, warningsOf, type Info } from '../discovery/reasons.js';
import { parseDuration } from '../jobs/dependencies.js';
import { JobFields, SETTABLE_FIELDS, type JobDefinition, type JobPatch } from '../jobs/definition.js';
import { dismissalKey, jobOverrides, missingLabel, parseJson, presentJob, type Job, type PresentedJob } from '../jobs/job.js';
import { otherSettings, type JobSettings } from '../jobs/settings.js';
import { fmtDuration, formatSeconds } from '../durations.js';
import { defaultTimezone, parseSchedule } from '../schedule/cron.js';
import type { App } from '../daemon/app.js';
import { collect, type CliContext } from './context.js';
import { warnDependents } from './deps.js';
import { formatTable, print, printJson, when } from './output.js';
import { splitWords } from '../jobs/command-line.js';

interface AddOptions {
  schedule: string;
  command?: string;
  shell?: string;
  script?: string;
  timezone?: string;
  priority?: string;
  category?: string;
  slot?: string;
  timeout?: string;
  memoryMb?: string;
  memoryLimitMb?: string;
  cpuPercent?: string;
  duration?: string;
  tag?: string[];
  env?: string[];
  cwd?: string;
  description?: string;
  disabled?: boolean;
  overlap?: string;
  misfire?: string;
  retries?: string;
  user?: string;
}

export function register(program: Command, ctx: CliContext): void {
  const jobs = program.command('jobs').description('register, list and change jobs');

  jobs
    .command('add')
    .description('register a job (enabled unless --disabled); the command runs without a shell unless --shell is used')
    .argument('<name>', 'a unique name')
    .requiredOption('-s, --schedule <expr>', 'cron expression (5 or 6 fields) or a macro such as @daily')
    .option('-c, --command <argv>', 'the command, split into words like a shell would but never run by one')
    .option('--shell <line>', 'a shell line, run by /bin/sh -c')
    .option('--script <path>', 'a script (php, bash, python, node or executable)')
    .option('--timezone <tz>', "IANA timezone of the schedule (default: the home's, config.yaml timezone, else the machine's)")
    .option('--priority <p>', 'critical, high, medium or low')
    .option('--category <c>', 'category, e.g. backup, reporting, sync')
    .option('--slot <slot>', 'auto, default, heavy, light, or a custom slot')
    .option('--timeout <duration>', 'kill the run after this long: seconds, or 90s, 15m, 2h')
    .option('--memory-mb <mb>', 'estimated memory (the reservation before runs are measured)')
    .option('--memory-limit-mb <mb>', 'hard memory limit; the run is killed beyond it')
    .option('--cpu-percent <pct>', 'estimated CPU share (100 = the whole machine)')
    .option('--duration <duration>', 'estimated run time, in seconds or as 90s, 15m (orders runs due together until runs are measured)')
    .option('--tag <tag>', 'a tag (repeatable)', collect)
    .option('--env <KEY=VALUE>', 'an environment variable (repeatable)', collect)
    .option('--cwd <dir>', "working directory (default: the home of the user it runs as, as cron does)")
    .option('--user <user>', 'run as this user (when the daemon runs as root)')
    .option('--description <text>', 'what the job does')
    .option('--overlap <policy>', 'forbid, allow, replace or queue')
    .option('--misfire <policy>', 'skip, run_once or run_all')
    .option('--retries <n>', 'retries after a failure')
    .option('--disabled', 'register it disabled')
    .argument('[argv...]', 'the command, after --')
    .action(async (name: string, argv: string[], o: AddOptions) => {
      const def = addOptionsToDefinition(name, argv, o);
      await ctx.withApp(async (app) => {
        const r = await app.jobs.registerJob(def, { source: 'manual', byUser: true });
        if (r.change !== 'new') {
          // `add` of an existing name updates it, and says so.
        }
        if (ctx.globals().json) return printJson({ change: r.change, job: presentJob(r.job, app.clock.now()) });
        print(`${r.change === 'new' ? 'added' : r.change === 'updated' ? 'updated' : 'unchanged'}: ${r.job.name} (${r.job.enabled ? 'enabled' : 'disabled'}), next run ${nextRunIn(r.job, app.clock.now())}`);
      });
    });

  jobs
    .command('list')
    .description("list jobs in the dashboard's order: health (critical first), priority, next run")
    .option('--enabled', 'only enabled jobs')
    .option('--disabled', 'only disabled jobs')
    .option('--category <c>', 'only this category')
    .option('--tag <tag>', 'only jobs with this tag')
    .option('--health <h>', 'only critical, warning or healthy')
    .option('--search <text>', 'name, description or command contains this')
    .action(async (o: { enabled?: boolean; disabled?: boolean; category?: string; tag?: string; health?: string; search?: string }) => {
      if (o.health && !['critical', 'warning', 'healthy'].includes(o.health)) {
        throw new ValidationError(`--health: "${o.health}" is not a health status (expected critical, warning or healthy)`, 'health');
      }
      await ctx.withApp(async (app) => {
        const { jobs: list } = await app.jobs.listJobs({
          enabled: o.enabled ? true : o.disabled ? false : undefined,
          category: o.category?.toLowerCase(), // categories are lowercase
          tag: o.tag,
          health: o.health as 'critical' | undefined,
          text: o.search,
        });
        const now = app.clock.now();
        const rows = list.map((j) => presentJob(j, now));
        if (ctx.globals().json) return printJson(rows);
        if (rows.length === 0) return print('no jobs (add one with `smart-cron jobs add`, or find them with `smart-cron discover DIR`)');
        print(
          formatTable(rows, [
            { header: 'name', get: (r) => r.name, max: 40 },
            { header: 'health', get: (r) => r.health_status },
            { header: 'status', get: listStatus },
            { header: 'priority', get: (r) => r.priority },
            { header: 'schedule', get: (r) => `${r.schedule}${r.timezone ? ` ${r.timezone}` : ''}`, max: 36 },
            { header: 'last run', get: (r) => when(r.last_executed_at as string | null, now) },
            { header: 'next run', get: (r) => when(r.next_scheduled_run as string | null, now) },
            { header: '24h runs', get: (r) => r.executions_24h, align: 'right' },
            { header: 'fail', get: (r) => r.failures_24h, align: 'right' },
            { header: 'consec', get: (r) => r.consecutive_failures, align: 'right' },
          ]),
        );
      });
    });

  jobs
    .command('show')
    .description('show a job with its next 5 run times')
    .argument('<name>', 'job name or id')
    .action(async (name: string) => {
      await ctx.withApp(async (app) => {
        const job = await app.jobs.getJob(name);
        const now = app.clock.now();
        // A job without a zone runs in the home's (parseSchedule's default), as the daemon reads it.
        const next = job.enabled ? parseSchedule(job.schedule, job.timezone).nextRuns(now, 5).map((t) => new Date(t).toISOString()) : [];
        if (ctx.globals().json) return printJson({ ...presentJob(job, now), next_runs: next });
        print(describeJob(job, now, next));
      });
    });

  for (const [cmd, enable] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    jobs
      .command(cmd)
      .description(`${cmd} jobs`)
      .argument('<names...>', 'job names or ids')
      .action(async (names: string[]) => {
        await ctx.withApp(async (app) => {
          // Check every name first, so a typo changes nothing.
          const targets = await distinctJobs(app, names);
          const done = [];
          for (const j of targets) done.push(enable ? await app.jobs.enableJob(j.id) : await app.jobs.disableJob(j.id));
          const dependents = enable ? [] : await Promise.all(done.map((j) => warnDependents(app, j, 'disabling')));
          if (ctx.globals().json) return printJson(done.map((j, i) => ({ ...presentJob(j, app.clock.now()), ...(enable ? {} : { dependents: dependents[i] }) })));
          for (const j of done) print(`${cmd}d: ${j.name}${j.enabled ? `, next run ${when(j.next_scheduled_run, app.clock.now())}` : ''}`);
        });
      });
  }

  jobs
    .command('set')
    .alias('edit')
    .description('change fields of a job: key=value ... (e.g. priority=high timeout_seconds=600 tags=a,b)')
    .argument('<name>', 'job name or id')
    .argument('<assignments...>', 'key=value pairs')
    .action(async (name: string, assignments: string[]) => {
      const patch = parseAssignments(assignments);
      if (typeof patch.script_path === 'string') Object.assign(patch, scriptDefinition(patch.script_path, 'script_path'));
      await ctx.withApp(async (app) => {
        // A shell job's command is one shell line, as given: not split into words.
        const line = assignments.findLast((a) => a.startsWith('command='))?.slice('command='.length);
        if (line !== undefined && line !== '' && (patch.shell ?? (await app.jobs.getJobRow(name)).shell === 1)) patch.command = [line];
        const r = await app.jobs.updateJob(name, patch);
        if (ctx.globals().json) return printJson({ change: r.change, changed: r.changed, job: presentJob(r.job, app.clock.now()) });
        const timing = r.job.enabled && r.changed.some((f) => f === 'schedule' || f === 'timezone') ? `; next run ${nextRunIn(r.job, app.clock.now())}` : '';
        print(r.changed.length ? `updated ${r.job.name}: ${r.changed.join(', ')}${timing}` : `${r.job.name}: nothing changed`);
      });
    });

  jobs
    .command('remove')
    .description('remove a job and its history')
    .argument('<names...>', 'job names or ids')
    .action(async (names: string[]) => {
      await ctx.withApp(async (app) => {
        // Every name first, so a typo removes nothing; a job named twice (or by name and id) once.
        const targets = await distinctJobs(app, names);
        const removed = [];
        const dependents: string[][] = [];
        for (const j of targets) {
          dependents.push(await warnDependents(app, j, 'removing'));
          removed.push(await app.jobs.removeJob(j.id));
        }
        if (ctx.globals().json) return printJson(removed.map((j, i) => ({ id: j.id, name: j.name, removed: true, dependents: dependents[i] })));
        for (const j of removed) print(`removed: ${j.name}${leftOut(j)}`);
      });
    });
}

/** What a later scan does about a removed job that a scan found (JobManager.removeJob remembers it). */
function leftOut(j: Job): string {
  if (!dismissalKey(j)) return '';
  const what = j.source === 'crontab' ? 'import-crontab leaves its entry out' : `discover leaves ${j.script_path} out`;
  return ` (${what} from now on; --include-removed brings it back)`;
}

/**
 * A job's status in the list: how its runs go (or disabled), and what is gone of a job marked
 * missing: an enabled one keeps being run, and every run fails until it is restored or removed.
 */
function listStatus(r: PresentedJob): string {
  const status = r.enabled ? r.execution_status : 'disabled';
  return r.missing ? `${status}, ${missingLabel({ script_path: r.script_path as string | null })}` : status;
}

/** The jobs these names or ids refer to, each once, in the order first named; an unknown one throws before anything is done. */
async function distinctJobs(app: App, names: string[]): Promise<Job[]> {
  const out = new Map<number, Job>();
  for (const n of names) {
    const j = await app.jobs.getJob(n);
    if (!out.has(j.id)) out.set(j.id, j);
  }
  return [...out.values()];
}

/**
 * --script PATH as the job runs it: an absolute path (the daemon's working directory is not the
 * shell's this command ran in), a file that is there, and its type as discovery reads it (so a
 * script without an exec bit runs through its interpreter).
 */
function scriptDefinition(given: string, flag = '--script'): Pick<JobDefinition, 'script_path' | 'script_type'> {
  const abs = resolve(given);
  let found: ReturnType<typeof detect>;
  try {
    found = detect(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ValidationError(`${flag}: ${abs} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (e as Error).message})`} (expected the path of a script file)`, 'script');
  }
  if (!found.script) throw new ValidationError(`${flag}: ${abs}: ${found.why} (expected a php, bash, python or node script, or an executable)`, 'script');
  return { script_path: abs, script_type: found.detection.type };
}

function addOptionsToDefinition(name: string, argv: string[], o: AddOptions): JobDefinition {
  const ways = [o.command !== undefined, o.shell !== undefined, o.script !== undefined, argv.length > 0].filter(Boolean).length;
  if (ways === 0) throw new ValidationError('jobs add: nothing to run (expected --command "…", --shell "…", --script PATH, or the command after --)', 'command');
  if (ways > 1) throw new ValidationError('jobs add: give only one of --command, --shell, --script or a command after --', 'command');
  const def: JobDefinition = { name, schedule: o.schedule };
  if (o.command !== undefined) {
    def.command = splitWords(o.command, '--command');
    if (def.command.length === 0) throw new ValidationError('--command: empty command', 'command');
  }
  if (argv.length) def.command = argv;
  if (o.shell !== undefined) {
    def.command = [o.shell];
    def.shell = true;
  }
  if (o.script !== undefined) Object.assign(def, scriptDefinition(o.script));
  const num = (flag: string, v: string | undefined, int: boolean, expected: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n))) {
      throw new ValidationError(`${flag}: "${v}" is not ${int ? 'a whole number' : 'a number'} (expected ${expected})`, flag.replace(/^--/, ''));
    }
    return n;
  };
  // Seconds, or a duration with units (15m, 2h, 1h30m) as `deps add --within` takes it.
  const seconds = (flag: string, v: string | undefined, int: boolean) =>
    v !== undefined && /[a-z]/i.test(v) ? parseDuration(v, flag) : num(flag, v, int, `${int ? 'whole ' : ''}seconds, or a duration such as 90s, 15m, 2h`);
  const set = <K extends keyof JobPatch>(k: K, v: JobPatch[K] | undefined) => {
    if (v !== undefined) def[k] = v as never;
  };
  set('timezone', o.timezone);
  set('priority', o.priority as JobPatch['priority']);
  set('category', o.category);
  set('slot', o.slot);
  set('timeout_seconds', seconds('--timeout', o.timeout, true));
  set('estimated_memory_mb', num('--memory-mb', o.memoryMb, false, 'megabytes, e.g. 512'));
  set('memory_limit_mb', num('--memory-limit-mb', o.memoryLimitMb, false, 'megabytes, e.g. 2048'));
  set('estimated_cpu_percent', num('--cpu-percent', o.cpuPercent, false, 'a share of the whole machine, 0-100'));
  set('estimated_duration_seconds', seconds('--duration', o.duration, false));
  set('retries', num('--retries', o.retries, true, 'how many times to retry a failed run, 0-100'));
  set('tags', o.tag);
  set('working_dir', o.cwd);
  set('run_as_user', o.user);
  set('description', o.description);
  set('overlap_policy', o.overlap as JobPatch['overlap_policy']);
  set('misfire_policy', o.misfire as JobPatch['misfire_policy']);
  if (o.env) def.env = parseEnv(o.env);
  if (o.disabled) def.enabled = false;
  return def;
}

/** KEY=VALUE pairs; `field` is what the user typed them as (--env, or the field of `jobs set`), for the error. */
function parseEnv(pairs: string[], field = '--env'): Record<string, string> {
  const env: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new ValidationError(`${field}: "${p}" is not KEY=VALUE${field === '--env' ? '' : ` (expected ${field}=KEY=VALUE,KEY=VALUE)`}`, field.replace(/^--/, ''));
    env[p.slice(0, i)] = p.slice(i + 1);
  }
  return env;
}

/** `key=value` pairs typed by the job schema: numbers, booleans, lists (comma-separated), null to clear. */
export function parseAssignments(assignments: string[]): JobPatch {
  const patch: Record<string, unknown> = {};
  for (const a of assignments) {
    const i = a.indexOf('=');
    if (i <= 0) throw new ValidationError(`"${a}" is not key=value (e.g. priority=high)`, 'assignment');
    const key = a.slice(0, i);
    const raw = a.slice(i + 1);
    if (!(SETTABLE_FIELDS as string[]).includes(key)) {
      const guess = closest(key, SETTABLE_FIELDS);
      throw new ValidationError(`unknown job field "${key}"${guess ? ` (did you mean "${guess}"?)` : ` (expected one of: ${SETTABLE_FIELDS.join(', ')})`}`, key);
    }
    patch[key] = coerce(key, raw);
  }
  return patch as JobPatch;
}

function coerce(key: string, raw: string): unknown {
  const schema = JobFields[key as keyof typeof JobFields] as { type?: string; anyOf?: { type?: string }[] };
  const types = new Set<string>([schema.type, ...(schema.anyOf ?? []).map((s) => s.type)].filter((t): t is string => !!t));
  if ((raw === 'null' || raw === '') && types.has('null')) return null;
  if (key === 'command') return splitWords(raw, 'command');
  if (key === 'env' || key === 'node_selector') return raw === '' ? {} : parseEnv(raw.split(','), key);
  if (types.has('array')) return raw === '' ? [] : raw.split(',').map((s) => s.trim());
  if (types.has('boolean')) {
    if (/^(true|yes|on|1)$/i.test(raw)) return true;
    if (/^(false|no|off|0)$/i.test(raw)) return false;
    throw new ValidationError(`${key} = "${raw}": expected true or false`, key);
  }
  if (types.has('integer') || types.has('number')) {
    if (key.endsWith('_seconds') && /[a-z]/i.test(raw)) return parseDuration(raw, key);
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new ValidationError(`${key} = "${raw}": expected a number${key.endsWith('_seconds') ? ' of seconds, or a duration such as 90s, 15m, 2h' : ''}`, key);
    return n;
  }
  return raw;
}

function describeJob(job: Job, now: number, next: string[]): string {
  const p = presentJob(job, now);
  // A script as it will run: through its #! line when it has one (argvForScript).
  const quote = (a: string) => (/\s/.test(a) ? JSON.stringify(a) : a);
  const what = job.script_path ? argvForScript(job.script_path, job.script_type as ScriptType | null).map(quote).join(' ') : job.shell ? `sh -c ${JSON.stringify((p.command as string[])[0])}` : (p.command as string[]).map(quote).join(' ');
  const lines: [string, unknown][] = [
    ['name', job.name],
    ['description', job.description],
    ['runs', what],
    ['schedule', `${job.schedule} (${zoneLabel(job)})`],
    ['enabled', job.enabled ? 'yes' : 'no'],
    ['health', `${p.health_status} / ${p.execution_status}`],
    ['category / priority', `${job.category} / ${job.priority}`],
    ['slot', job.slot],
    ['timeout', `${job.timeout_seconds}s`],
    ['duration', [job.estimated_duration_seconds !== null && `estimate ${job.estimated_duration_seconds}s`, job.baseline_duration_seconds !== null && `baseline ${fmtDuration(job.baseline_duration_seconds * 1000)}`].filter(Boolean).join(', ') || null],
    ['memory', `estimate ${job.estimated_memory_mb} MB${job.memory_limit_mb ? `, limit ${job.memory_limit_mb} MB` : ''}${job.baseline_memory_mb ? `, baseline ${job.baseline_memory_mb.toFixed(1)} MB` : ''}`],
    ['policies', `overlap ${job.overlap_policy}, misfire ${job.misfire_policy}, retries ${job.retries}${job.mutex_group ? `, one at a time in group ${job.mutex_group}` : ''}`],
    ...otherSettings(p as unknown as JobSettings, formatSeconds).map(([label, text]): [string, unknown] => [label.toLowerCase(), text]),
    ['tags', job.tags.join(', ')],
    ['source', job.source + (job.missing ? ` (${missingLabel(job)})` : '')],
    ['why', whyDiscovered(job)],
    ['runs so far', `${job.total_executions} (${job.successful_executions} ok, ${job.failed_executions} failed, ${job.consecutive_failures} failing in a row)`],
    ['last 24 h', `${job.executions_24h} ${job.executions_24h === 1 ? 'run' : 'runs'}, ${job.failures_24h} failed${job.avg_duration_24h !== null ? `, avg ${fmtDuration(job.avg_duration_24h * 1000)}` : ''}`],
    ['last run', when(job.last_executed_at, now, job.timezone) + (job.last_status ? ` (${job.last_status})` : '')],
    ['circuit', job.circuit_state],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  const out = lines.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => `${k.padEnd(width)}  ${String(v).replace(/\n/g, `\n${' '.repeat(width + 2)}`)}`);
  out.push(`${'next runs'.padEnd(width)}  ${next.length ? next.map((t) => when(t, now, job.timezone)).join(`\n${' '.repeat(width + 2)}`) : noNextRuns(job)}`);
  return out.join('\n');
}

/**
 * The zone a job's times are in: its own, or the home's (config.yaml `timezone`, else the
 * machine's) for a job without one, named, so that nobody has to guess which "local" it is.
 */
function zoneLabel(job: Pick<Job, 'timezone'>): string {
  return job.timezone ?? `${defaultTimezone()}, the home's timezone`;
}

/** A job's next run in its zone, and which zone that is (jobs add, jobs set). */
function nextRunIn(job: Job, now: number): string {
  return job.next_scheduled_run ? `${when(job.next_scheduled_run, now, job.timezone)} in ${zoneLabel(job)}` : when(null);
}

/** What `jobs show` says for a job with no next run times: why there are none. */
function noNextRuns(job: Job): string {
  if (!job.enabled) return '- (disabled)';
  if (parseSchedule(job.schedule, job.timezone).reboot) return "at the daemon's start (@reboot)";
  return '- (the schedule has no further times)';
}

/**
 * For a discovered or imported job: why discovery chose what it did (kept in discovery_info),
 * one line a guess, leaving out what a person has set since; and what it warned of.
 */
function whyDiscovered(job: Job): string | null {
  if (job.source !== 'discovered' && job.source !== 'crontab') return null;
  const info = parseJson<Info>(job.discovery_info, {});
  const lines = [...standingReasons(info, jobOverrides(job)).map(([guess, why]) => `${guess}: ${why}`), ...warningsOf(info).map((w) => `warning: ${w}`)];
  return lines.length ? lines.join('\n') : null;
}
