/**
 * The daemon: the composition root. Builds every part once, wires them together, recovers
 * what a previous daemon left running, and runs until told to stop.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { AlertManager } from '../alerts/manager.js';
import { buildServer, readApiToken, staleDashboard, startServer, type Api } from '../api/server.js';
import { apiTokenWarnings } from '../api/auth.js';
import { jobsInMissingSlots } from '../execution/doctor.js';
import { EventBus } from '../events.js';
import type { Dispatcher } from '../execution/dispatcher.js';
import type { HostProbe } from '../execution/load-balancer.js';
import { buildEngine } from './engine.js';
import { failDeadNodes, HeartbeatWatch } from '../execution/failover.js';
import { quietRepeats } from './quiet-log.js';
import { systemClock } from '../clock.js';
import type { EnforcementBackend } from '../execution/enforcement/types.js';
import { recoverRuns } from '../execution/recovery.js';
import { pruneHistory } from '../jobs/retention.js';
import { AlertsRepo } from '../storage/repos/alerts.js';
import { isUnresponsive, NodesRepo } from '../storage/repos/nodes.js';
import { background } from './background.js';
import { outsideWritesCheck } from './outside-writes.js';
import { startRelay } from './relay.js';
import { openApp, type App, type AppOptions } from './app.js';
import { clearState, isAlive, runningDaemon, writeState } from './state.js';
import { alertSettingsProblems } from '../config/load.js';
import { ConflictError } from '../errors.js';
import { initHome } from './home.js';
import { VERSION } from '../version.js';

export interface DaemonOptions extends AppOptions {
  /** Serve the API and dashboard (default true). */
  api?: boolean;
  /** Where to serve them, over config.yaml's api.host and api.port (the CLI's --host, --port). */
  listen?: { host?: string; port?: number };
  /** Override the host probe (tests simulate a host's memory). */
  host?: HostProbe;
  log?: (msg: string) => void;
}

export interface Daemon {
  app: App;
  bus: EventBus;
  dispatcher: Dispatcher;
  backend: EnforcementBackend;
  alerts: AlertManager;
  api: Api | null;
  apiUrl: string | null;
  /** Stop: no new runs; wait up to graceMs for running runs to be recorded, then leave the rest to the next daemon. */
  stop(graceMs?: number): Promise<void>;
}

const SCHEDULER_LEASE = 'scheduler';
const PRUNE_EVERY_MS = 3600_000;

export async function startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
  const log = quietRepeats(opts.log ?? ((m: string) => process.stdout.write(`${new Date().toISOString()} ${m}\n`)), systemClock);
  await initHome({ home: opts.home, database: opts.database });
  const app = await openApp(opts);
  const { config, clock, jobs } = app;
  const other = runningDaemon(config.home);
  if (other) {
    await app.close();
    throw new ConflictError(`a daemon is already running for ${config.home} (pid ${other.pid}, since ${other.started_at})`, 'home');
  }
  mkdirSync(config.runsDir, { recursive: true });
  const bus = new EventBus();
  const nodes = new NodesRepo(app.database.db);
  const { leaseMs } = config;
  const twin = await nodeIdInUse(nodes, config.nodeId, clock.now(), leaseMs);
  if (twin) {
    await app.close();
    throw new ConflictError(twin, 'node');
  }
  // config.yaml's api section, with --host and --port over it (alert links use the same address).
  const apiConfig = { ...config.api, ...Object.fromEntries(Object.entries(opts.listen ?? {}).filter(([, v]) => v !== undefined)) };
  // The seed's [ALERT] lines go to the daemon's log, timestamped like every other line.
  const alerts = new AlertManager({ db: app.database.db, clock, config: { alerts: config.alerts, api: apiConfig }, bus, logger: { warn: log, info: log, error: log } });
  let api: Api | null = null;
  const holdsLease = () => nodes.acquireLease(SCHEDULER_LEASE, config.nodeId, clock.now(), leaseMs);
  const engine = buildEngine(app, {
    onSkipped: (r) => void alerts.onSkipped(r),
    onLateness: (ms) => api?.smartCron.metrics.observeLateness(ms),
    bus,
    host: opts.host,
    log,
    canPlan: holdsLease,
  });
  const { backend, launcher, dispatcher } = engine;
  jobs.on('changed', (e) => {
    bus.emit('job.changed', { id: e.id, change: e.change });
    dispatcher.kick();
  });

  jobs.on('recorded', (r) => alerts.onRecorded(r));
  // On PostgreSQL, what happens here reaches the dashboards of the other nodes, and theirs ours.
  const relay = startRelay({ database: app.database, url: config.database, node: config.nodeId, bus, history: jobs.history, alerts: new AlertsRepo(app.database.db), clock, log });

  const tasks = background(clock, log);
  // Everything below, undone: by stop(), and by a start-up that fails after registering the node.
  const shutdown = async (graceMs: number): Promise<void> => {
    tasks.stop();
    await dispatcher.stop();
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([dispatcher.idle(), new Promise((r) => (graceTimer = setTimeout(r, graceMs)))]);
    clearTimeout(graceTimer);
    if (dispatcher.runningCount > 0) log(`${dispatcher.runningCount} run(s) still running: the next daemon adopts them`);
    engine.release();
    // The slot cgroups nothing runs in any more (the next daemon makes them again); a slot with a
    // run still going stays, with that run's cgroup, for the next daemon to adopt. Only the daemon
    // does this: it alone holds the home, so no other process of it is using them meanwhile.
    backend.dispose();
    await api?.close().catch(() => {});
    await relay.close().catch(() => {});
    await alerts.close().catch(() => {});
    await nodes.releaseLease(SCHEDULER_LEASE, config.nodeId).catch(() => {});
    await nodes.markStopped(config.nodeId).catch(() => {});
    clearState(config.home);
    await app.close();
  };
  let stopping: Promise<void> | null = null;
  const stop = (graceMs = 10_000): Promise<void> => {
    stopping ??= (async () => {
      // A run already admitted and held for its instant (the start lead) still starts then: the next daemon adopts it.
      log('stopping: admitting no more runs');
      await shutdown(graceMs);
      log('stopped');
    })();
    return stopping;
  };

  let apiUrl: string | null = null;
  try {
    await nodes.register(
      { id: config.nodeId, hostname: hostname(), labels: config.node.labels, slots: config.slots, version: VERSION, pid: process.pid, enforcement: backend.name },
      clock.now(),
    );
    const recovered = await recoverRuns({ node: config.nodeId, jobs, launcher, dispatcher, clock, runsDir: config.runsDir, log });
    // What a killed daemon left: the cgroups of runs now over (before any run of ours starts).
    backend.sweep?.();

    if (opts.api !== false) {
      api = buildServer({ app, executor: dispatcher, bus, alerts, token: readApiToken(config.tokenPath) });
      apiUrl = await startServer(api, apiConfig);
    }

    const every = tasks.every;
    const heartbeatMs = config.node.heartbeat_seconds * 1000;
    // Longer than a few heartbeats without one of ours getting through: we were not watching.
    const watch = new HeartbeatWatch(Math.min(leaseMs, 3 * heartbeatMs));
    every(heartbeatMs, async () => {
      try {
        await nodes.heartbeat(config.nodeId, clock.now());
      } catch (e) {
        watch.reset();
        throw e;
      }
      await failDeadNodes({ jobs, clock, self: config.nodeId, leaseMs, watch, queueRetry: (r, j) => dispatcher.queueRetry(r, j), log });
    });
    // Missed-run checks look at every job: one node (the scheduler's) does them.
    const periodicAlerts = async () => {
      if (await holdsLease()) await alerts.checkPeriodic();
    };
    every(30_000, periodicAlerts);
    // Notifications a previous daemon left pending go out now; failed ones are retried from the table.
    alerts.start();
    // On SQLite, what the CLI writes beside us (it has no channel to tell us) has open dashboards reload.
    const outsideWrites = outsideWritesCheck({ database: app.database, bus });
    if (outsideWrites) {
      await outsideWrites();
      every(1000, outsideWrites);
    }
    every(PRUNE_EVERY_MS, () =>
      pruneHistory(jobs, { historyDays: config.retention.history_days, maxRunsPerJob: config.retention.max_runs_per_job, runsDir: config.runsDir, nowMs: clock.now() }),
    );

    // No alert check before the dispatcher's first pass: a miss while no daemon ran is reported
    // once, by the planner's skipped tick with the number of ticks missed (onSkipped). Checked
    // before it, every overdue job got a second "did not start" alert for the same outage.
    dispatcher.start();
    await dispatcher.planReboot();
    writeState(config.home, {
      pid: process.pid,
      node: config.nodeId,
      started_at: new Date(clock.now()).toISOString(),
      api_url: apiUrl,
      enforcement: backend.describe(),
      database: app.database.description,
      version: VERSION,
    });
    log(`smart-cron ${VERSION} daemon started: node ${config.nodeId}, ${app.database.description}, enforcement ${backend.describe()}`);
    if (recovered.adopted + recovered.interrupted > 0) log(`recovery: ${recovered.adopted} adopted, ${recovered.interrupted} interrupted`);
    for (const p of [...alertSettingsProblems(config.alerts), ...(await jobsInMissingSlots(app.database.db, config.slots)), ...(apiUrl ? apiTokenWarnings(config.tokenPath) : [])]) log(`warning: ${p}`);
    if (apiUrl) log(`dashboard and API on ${apiUrl} (sign in with the token in ${config.tokenPath})`);
    const stale = apiUrl ? staleDashboard() : null;
    if (stale) log(`note: ${stale} changed after the dashboard was built: the dashboard served is the older build (npm run build:web)`);
  } catch (e) {
    // A daemon that did not start (its port taken, say) must not leave its node "up" in `nodes`
    // while `status` says none runs: undo what started, as a stop does.
    await shutdown(0).catch(() => {});
    throw e;
  }
  return { app, bus, dispatcher, backend, alerts, api, apiUrl, stop };
}

/**
 * Another daemon answering under this node id (on PostgreSQL, a second home given the same
 * --node-id): both would adopt, record and fail over each other's runs. A node row that is up
 * and fresh is ours to take over only when it is this host's and its process is gone (a daemon
 * killed with -9 and restarted at once, by systemd say). Returns why not, or null.
 */
async function nodeIdInUse(nodes: NodesRepo, id: string, nowMs: number, leaseMs: number): Promise<string | null> {
  const row = (await nodes.list()).find((n) => n.id === id);
  if (!row || row.status !== 'up' || isUnresponsive(row, nowMs, leaseMs)) return null;
  if (row.hostname === hostname() && (row.pid === null || row.pid === process.pid || !isAlive(row.pid))) return null;
  const ago = Math.max(0, Math.round((nowMs - Date.parse(row.heartbeat_at)) / 1000));
  return `node id "${id}" is in use by a running daemon on ${row.hostname} (pid ${row.pid ?? '?'}, last heartbeat ${ago}s ago): give this daemon another --node-id (or node.id in config.yaml), or stop that one first`;
}
