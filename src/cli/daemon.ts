import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { startDaemon } from '../daemon/daemon.js';
import { startupDone } from '../startup-heap.js';
import { runningDaemon } from '../daemon/state.js';
import { UnavailableError, ValidationError } from '../errors.js';
import { pruneHistory } from '../jobs/retention.js';
import { alertSettingsProblems, envSetting, loadConfig, resolveHome, type Config } from '../config/load.js';
import { enforcementReport, jobsInMissingSlots } from '../execution/doctor.js';
import { apiTokenWarnings, readApiToken } from '../api/auth.js';
import { remoteBindProblem } from '../api/server.js';
import { describeDatabase, openDatabase, parseDatabaseUrl, redact, type Database } from '../storage/database.js';
import type { CliContext, GlobalOptions } from './context.js';
import { print, printJson, when } from './output.js';
import { decimalWhole } from './words.js';

export function register(program: Command, ctx: CliContext): void {
  registerDaemon(program, ctx);
  registerDoctor(program, ctx);
}

function registerDaemon(program: Command, ctx: CliContext): void {
  program
    .command('daemon')
    .description('run the scheduler, the execution slots, the API and the dashboard (until SIGTERM/SIGINT)')
    .option('--no-api', 'do not serve the API and dashboard')
    .option('--port <port>', 'serve the API and dashboard on this port (default: api.port in config.yaml, 7420)')
    .option('--host <address>', 'bind to this address (default: api.host, 127.0.0.1; any other needs api.allow_remote)')
    .action(async (o: { api: boolean; port?: string; host?: string }) => {
      const g = ctx.globals();
      const port = o.port === undefined ? undefined : Number(o.port);
      if (port !== undefined && !(/^\d+$/.test(o.port!) && port <= 65535)) {
        throw new ValidationError(`--port: "${o.port}" is not a port number (0-65535; 0 picks a free one)`, 'port');
      }
      if (o.host !== undefined && o.host.trim() === '') throw new ValidationError('--host: an empty address; expected one such as 127.0.0.1', 'host');
      // Handlers first: a SIGTERM during start-up (systemd stopping a unit that is starting)
      // stops the daemon gracefully once it is up, rather than killing it half-way.
      let signals = 0;
      let stop: (() => void) | null = null;
      let stopAsked = false;
      const onSignal = (sig: string) => {
        signals++;
        if (signals > 1) {
          process.stdout.write(`${sig} again: leaving now; running jobs keep running and are adopted at the next start\n`);
          process.exit(0);
        }
        if (stop) stop();
        else stopAsked = true;
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      const d = await startDaemon({ home: g.home, database: g.database, nodeId: g.nodeId, api: o.api, listen: { port, host: o.host } });
      startupDone();
      await new Promise<void>((resolveStop) => {
        stop = () => void d.stop().then(resolveStop, resolveStop);
        if (stopAsked) stop();
      });
      // Stopped: runs are recorded or left for the next daemon, the database is closed. A timer
      // left behind (a retry backoff, an alert's delivery retry) must not keep the process alive.
      setTimeout(() => process.exit(), 3000).unref();
    });

  program
    .command('status')
    .description('whether a daemon runs for this home, since when, and what it is doing')
    .action(async () => {
      // The daemon's state file is in the home: whether one runs is known without the database,
      // and said even when the database cannot be reached.
      const g = ctx.globals();
      const config = loadConfig({ home: g.home, database: g.database, nodeId: g.nodeId });
      const d = runningDaemon(config.home);
      try {
        await showStatus(ctx, d);
      } catch (e) {
        if (!(e instanceof UnavailableError)) throw e;
        if (g.json) printJson({ running: Boolean(d), daemon: d, home: config.home, database: describeDatabase(config.database), database_error: e.message });
        else {
          printDaemon(d, Date.now());
          print(`home:          ${config.home}`);
          print(`database:      ${describeDatabase(config.database)} (unavailable: see below)`);
        }
        throw e;
      }
    });

  program
    .command('prune')
    .description('delete history (and run logs) past the retention settings')
    .option('--days <n>', 'keep this many days (default: retention.history_days)')
    .option('--max-runs <n>', 'keep this many runs per job (default: retention.max_runs_per_job)')
    .action(async (o: { days?: string; maxRuns?: string }) => {
      await ctx.withApp(async (app) => {
        const days = o.days === undefined ? app.config.retention.history_days : wholeNumber(o.days, '--days', MAX_DAYS, 'days');
        const maxRuns = o.maxRuns === undefined ? app.config.retention.max_runs_per_job : wholeNumber(o.maxRuns, '--max-runs', Number.MAX_SAFE_INTEGER, 'runs');
        const r = await pruneHistory(app.jobs, { historyDays: days, maxRunsPerJob: maxRuns, runsDir: app.config.runsDir, nowMs: app.clock.now() });
        if (ctx.globals().json) return printJson(r);
        print(`pruned ${r.runs} run(s) older than ${days} days or beyond ${maxRuns} per job`);
      });
    });

  program
    .command('install-service')
    .description('write and enable a systemd unit for the daemon (Delegate=yes, so the cgroup v2 backend works under it)')
    .option('--user', 'a user unit (~/.config/systemd/user) instead of a system one')
    .option('--print', 'only print the unit')
    .action(async (o: { user?: boolean; print?: boolean }) => {
      const run = daemonInvocation(ctx.globals());
      const unit = systemdUnit({ ...run, user: Boolean(o.user) });
      if (o.print) return print(unit);
      const path = o.user ? join(homedir(), '.config/systemd/user/smart-cron.service') : '/etc/systemd/system/smart-cron.service';
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, unit);
      // A PostgreSQL password in Environment= is for the unit's owner (systemd reads it as root or as that user).
      if (run.env.SMART_CRON_DATABASE_URL && redact(run.env.SMART_CRON_DATABASE_URL) !== run.env.SMART_CRON_DATABASE_URL) chmodSync(path, 0o600);
      print(`wrote ${path}`);
      const systemctl = ['/usr/bin/systemctl', '/bin/systemctl'].find((p) => existsSync(p));
      if (!systemctl || !existsSync('/run/systemd/system')) {
        print('systemd is not running on this host: start the daemon another way, e.g. from your init system, supervisord, or');
        print(`  ${nohupLine(run)}`);
        return;
      }
      const args = o.user ? ['--user'] : [];
      execFileSync(systemctl, [...args, 'daemon-reload'], { stdio: 'inherit' });
      execFileSync(systemctl, [...args, 'enable', '--now', 'smart-cron.service'], { stdio: 'inherit' });
      print(`enabled and started: ${o.user ? 'systemctl --user' : 'systemctl'} status smart-cron`);
    });
}

/** `status` once the database is open: the daemon, then what the database holds. */
async function showStatus(ctx: CliContext, d: ReturnType<typeof runningDaemon>): Promise<void> {
  await ctx.withApp(async (app) => {
    const db = app.database.db;
    const counts = await db
      .selectFrom('smart_cron_job_history')
      .select(['status', (eb) => eb.fn.countAll().as('n')])
      .where('status', 'in', ['queued', 'running'])
      .groupBy('status')
      .execute();
    const n = (s: string) => Number(counts.find((c) => c.status === s)?.n ?? 0);
    const jobs = await db.selectFrom('smart_cron_integrated_jobs').select([(eb) => eb.fn.countAll().as('n'), (eb) => eb.fn.sum<number>('enabled').as('enabled')]).executeTakeFirst();
    const status = {
      running: Boolean(d),
      daemon: d,
      home: app.config.home,
      database: app.database.description,
      jobs: Number(jobs?.n ?? 0),
      enabled_jobs: Number(jobs?.enabled ?? 0),
      runs_running: n('running'),
      runs_queued: n('queued'),
    };
    if (ctx.globals().json) return printJson(status);
    printDaemon(d, app.clock.now());
    print(`home:          ${status.home}`);
    print(`database:      ${status.database}`);
    print(`jobs:          ${status.jobs} (${status.enabled_jobs} enabled)`);
    print(`runs now:      ${status.runs_running} running, ${status.runs_queued} queued`);
  });
}

function printDaemon(d: ReturnType<typeof runningDaemon>, now: number): void {
  if (d) {
    print(`daemon running: pid ${d.pid}, node ${d.node}, since ${when(d.started_at, now)}`);
    if (d.api_url) print(`dashboard/API: ${d.api_url}`);
    print(`enforcement:   ${d.enforcement}`);
  } else {
    print('no daemon is running for this home (start one with `smart-cron daemon`)');
  }
}

function binPath(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/smart-cron.js');
}

/**
 * How to start the daemon this command would talk to, from anywhere (a service starts in /,
 * without this shell's environment): the home as resolved, the node id and the database when
 * given by flag or environment (else the daemon finds the same in config.yaml and the host
 * name), a relative SQLite path made absolute. The database goes in the environment: a
 * PostgreSQL URL may carry a password, which `ps` would show in the arguments.
 */
export function daemonInvocation(g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): { argv: string[]; env: Record<string, string>; home: string } {
  const home = resolveHome({ home: g.home, env });
  const argv = [process.execPath, binPath(), 'daemon', '--home', home];
  const nodeId = g.nodeId ?? envSetting(env, 'SMART_CRON_NODE_ID');
  if (nodeId !== undefined) argv.push('--node-id', nodeId);
  const out: Record<string, string> = {};
  const database = g.database ?? envSetting(env, 'SMART_CRON_DATABASE_URL');
  if (database !== undefined) {
    const target = parseDatabaseUrl(database, g.database !== undefined ? '--database' : 'SMART_CRON_DATABASE_URL');
    out.SMART_CRON_DATABASE_URL = target.dialect === 'sqlite' ? `sqlite:${target.location}` : database;
  }
  return { argv, env: out, home };
}

/** One word of a systemd command line or assignment (systemd.syntax(7) "Quoting", systemd.service(5) "Command lines"). */
function systemdWord(s: string, inCommand: boolean): string {
  let q = s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/%/g, '%%');
  // ExecStart= expands $VAR and ${VAR}; Environment= gives "$" no meaning.
  if (inCommand) q = q.replace(/\$/g, '$$$$');
  return `"${q}"`;
}

/** One word for a POSIX shell. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function nohupLine(run: { argv: string[]; env: Record<string, string>; home: string }): string {
  const env = Object.entries(run.env).map(([k, v]) => `${k}=${shellWord(v)} `).join('');
  return `${env}nohup ${run.argv.map(shellWord).join(' ')} >> ${shellWord(join(run.home, 'daemon.log'))} 2>&1 &`;
}

export function systemdUnit(o: { argv: string[]; env: Record<string, string>; user: boolean }): string {
  const environment = Object.entries(o.env).map(([k, v]) => `Environment=${systemdWord(`${k}=${v}`, false)}\n`).join('');
  return `[Unit]
Description=smart-cron: cron jobs inside memory and CPU budgets
After=network-online.target

[Service]
Type=simple
${environment}ExecStart=${o.argv.map((a) => systemdWord(a, true)).join(' ')}
Restart=on-failure
RestartSec=5
# Own a cgroup subtree, so each run gets its own cgroup with limits (cgroup v2 backend).
Delegate=yes
# Stop only the daemon: running jobs keep running and the next start adopts them.
KillMode=process
TimeoutStopSec=30

[Install]
WantedBy=${o.user ? 'default.target' : 'multi-user.target'}
`;
}

/** `smart-cron doctor`: what this host offers for enforcement, and whether config and database are sound. */
export function registerDoctor(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('check the host (cgroups, PSI, /proc), the configuration and the database')
    .action(async () => {
      const report = enforcementReport();
      const g = ctx.globals();
      // warn: sound enough to run, but worth fixing (printed "warn", exit 0).
      const checks: { check: string; ok: boolean; detail: string; warn?: boolean }[] = [];
      let config: Config | null = null;
      try {
        config = loadConfig({ home: g.home, database: g.database, nodeId: g.nodeId });
        checks.push({ check: 'config', ok: true, detail: existsSync(config.configPath) ? config.configPath : `${config.configPath} (absent: defaults)` });
      } catch (e) {
        checks.push({ check: 'config', ok: false, detail: (e as Error).message });
      }
      if (config) {
        // The daemon's own checks: what it would refuse to start with, doctor fails on.
        try {
          readApiToken(config.tokenPath);
          const warnings = apiTokenWarnings(config.tokenPath);
          checks.push({ check: 'api token', ok: true, warn: warnings.length > 0, detail: warnings.join('; ') || config.tokenPath });
        } catch (e) {
          checks.push({ check: 'api token', ok: false, detail: (e as Error).message });
        }
        const bind = remoteBindProblem(config.api);
        checks.push({ check: 'api', ok: !bind, detail: bind ?? `${config.api.host}:${config.api.port}${config.api.allow_remote ? ' (allow_remote)' : ''}` });
        let db: Database | null = null;
        try {
          db = await openDatabase(config.database);
          checks.push({ check: 'database', ok: true, detail: db.description });
        } catch (e) {
          checks.push({ check: 'database', ok: false, detail: (e as Error).message });
        }
        if (db) {
          try {
            const missing = await jobsInMissingSlots(db.db, config.slots);
            checks.push({ check: 'slots', ok: missing.length === 0, detail: missing.join('; ') || Object.keys(config.slots).join(', ') });
          } catch (e) {
            checks.push({ check: 'slots', ok: false, detail: (e as Error).message });
          } finally {
            await db.close();
          }
        }
        const chosen = config.execution.enforcement === 'auto' ? report.auto : config.execution.enforcement;
        checks.push({ check: 'enforcement', ok: true, detail: `${chosen}${config.execution.enforcement === 'auto' ? ' (auto)' : ''}` });
        const alertProblems = alertSettingsProblems(config.alerts);
        const { email, webhooks } = config.alerts;
        const channels = [email.to.length > 0 && `email to ${email.to.length} address${email.to.length === 1 ? '' : 'es'}`, webhooks.length > 0 && `${webhooks.length} webhook${webhooks.length === 1 ? '' : 's'}`].filter(Boolean).join(', ');
        checks.push({ check: 'alerts', ok: alertProblems.length === 0, detail: alertProblems.join('; ') || channels || "no channel in config.yaml (alerts go to the daemon log, and to a job's own alert_emails)" });
        const d = runningDaemon(config.home);
        checks.push({ check: 'daemon', ok: true, detail: d ? `running (pid ${d.pid})` : 'not running' });
      }
      if (g.json) {
        printJson({ checks, enforcement: report });
      } else {
        for (const l of report.lines) print(l);
        print('');
        for (const c of checks) print(`${!c.ok ? 'FAIL' : c.warn ? 'warn' : 'ok  '}  ${c.check.padEnd(12)} ${c.detail}`);
      }
      if (checks.some((c) => !c.ok)) process.exitCode = 1;
    });
}

/** 100 years: further back than any run, and a cut-off the date arithmetic can still express. */
const MAX_DAYS = 36500;

/** A flag's whole number from 1 to max, in decimal digits (decimalWhole, as `next --count` and `alerts ack` read theirs). */
function wholeNumber(text: string, flag: string, max: number, unit: string): number {
  const n = decimalWhole(text);
  if (n === null || n < 1 || n > max) {
    throw new ValidationError(`${flag}: "${text}" is not valid (expected a whole number of ${unit} from 1 to ${max})`, flag.replace(/^--/, ''));
  }
  return n;
}
