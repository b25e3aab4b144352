/**
 * Real parts for the alert tests: a SQLite file in a temp dir, an SMTP server on 127.0.0.1
 * whose mails are parsed with mailparser, a local HTTP server for webhooks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { AlertManager } from '../../src/alerts/manager.js';
import type { AlertLogger } from '../../src/alerts/notifiers/log.js';
import { iso, VirtualClock, type Clock } from '../../src/clock.js';
import { validateConfig } from '../../src/config/load.js';
import type { FileConfig } from '../../src/config/schema.js';
import { EventBus } from '../../src/events.js';
import type { JobDefinition } from '../../src/jobs/definition.js';
import { JobManager, type RunOutcomeFields } from '../../src/jobs/manager.js';
import { openDatabase, type Database } from '../../src/storage/database.js';

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'smart-cron-alerts-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function config(alerts: Record<string, unknown> = {}, api: Record<string, unknown> = {}): FileConfig {
  return validateConfig({ alerts, api }, 'test config');
}

export interface MemoryLogger extends AlertLogger {
  lines: string[];
}

export function memoryLogger(): MemoryLogger {
  const lines: string[] = [];
  return { lines, warn: (m) => void lines.push(m), info: (m) => void lines.push(m), error: (m) => void lines.push(m) };
}

export interface Smtp {
  port: number;
  url: string;
  mails: ParsedMail[];
  /** RCPT TO of each mail (the envelope, which Bcc-style lists would hide from headers). */
  envelopes: string[][];
  auths: { user: string; pass: string }[];
  close(): Promise<void>;
}

export async function startSmtp(opts: { user?: string; pass?: string } = {}): Promise<Smtp> {
  const mails: ParsedMail[] = [];
  const envelopes: string[][] = [];
  const auths: { user: string; pass: string }[] = [];
  const server = new SMTPServer({
    disabledCommands: opts.user ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !opts.user,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      auths.push({ user: auth.username ?? '', pass: auth.password ?? '' });
      if (auth.username === opts.user && auth.password === opts.pass) return cb(null, { user: auth.username });
      return cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      simpleParser(stream)
        .then((m) => {
          mails.push(m);
          envelopes.push(session.envelope.rcptTo.map((r) => r.address));
          cb();
        })
        .catch(cb);
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return { port, url: `smtp://127.0.0.1:${port}`, mails, envelopes, auths, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export interface Hook {
  url: string;
  requests: { path: string; body: unknown }[];
  close(): Promise<void>;
}

/** A webhook receiver; `fail` decides per request (1-based) whether to answer 500. */
export async function startHook(fail: (n: number) => boolean = () => false): Promise<Hook> {
  const requests: { path: string; body: unknown }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', body: data ? JSON.parse(data) : null });
      if (fail(requests.length)) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
      } else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A port nobody listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface World {
  database: Database;
  clock: VirtualClock;
  jm: JobManager;
  am: AlertManager;
  bus: EventBus;
  log: MemoryLogger;
  close(): Promise<void>;
}

export async function world(cfg: FileConfig, clock = new VirtualClock('2026-03-02T10:00:00.000Z')): Promise<World> {
  const tmp = tempDir();
  const database = await openDatabase(`sqlite:${join(tmp.dir, 'smart-cron.db')}`);
  const jm = new JobManager(database, clock);
  const bus = new EventBus();
  const log = memoryLogger();
  const am = new AlertManager({ db: database.db, clock, config: cfg, bus, logger: log });
  jm.on('recorded', (r) => void am.onRecorded(r));
  return {
    database,
    clock,
    jm,
    am,
    bus,
    log,
    async close() {
      await am.close();
      await database.close();
      tmp.cleanup();
    },
  };
}

export async function addJob(jm: JobManager, name: string, extra: Partial<JobDefinition> = {}) {
  const r = await jm.registerJob({ name, schedule: '0 * * * *', command: ['/bin/true'], ...extra }, { source: 'manual', byUser: true });
  return r.job;
}

let tick = 0;

/** A real finished run: a history row that started `startedAt`, then recordExecution with the outcome. */
export async function finishRun(
  jm: JobManager,
  jobId: number,
  outcome: Partial<RunOutcomeFields> & { status: RunOutcomeFields['status'] },
  opts: { clock?: Clock; scheduledFor?: string; startedAt?: string; trigger?: 'schedule' | 'manual' | 'catchup'; willRetry?: boolean } = {},
) {
  const now = (opts.clock ?? jm.clock).now();
  const scheduled = opts.scheduledFor ?? iso(now - 1000 + tick++);
  const run = await jm.history.insertOnce({
    job_id: jobId,
    scheduled_for: scheduled,
    trigger: opts.trigger ?? 'manual',
    status: 'running',
    queued_at: scheduled,
    started_at: opts.startedAt ?? scheduled,
  });
  if (!run) throw new Error('duplicate run');
  const defaults: Partial<RunOutcomeFields> = { exit_code: outcome.status === 'succeeded' ? 0 : outcome.status === 'failed' ? 1 : null, duration_ms: 1000, peak_memory_mb: 50 };
  return jm.recordExecution(run.id, { ...defaults, ...outcome }, { willRetry: opts.willRetry });
}

/**
 * Move virtual time on by `ms` in steps, letting each step's real I/O (sends, the database)
 * finish before the next: a retry due in a step happens in it.
 */
export async function runFor(w: Pick<World, 'clock' | 'am'>, ms: number, step = 60_000): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    await w.clock.advance(Math.min(step, ms - done));
    await w.am.idle();
  }
}

/** An SMTP server that accepts connections and never says a word (a hung mail relay). */
export async function silentSmtp(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createNetServer((s) => {
    count++;
    sockets.add(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    connections: () => count,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Poll until cond holds (real I/O does not run in virtual time). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
