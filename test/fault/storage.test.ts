/**
 * Storage faults under a real daemon process on SQLite, jobs running every second:
 * - the disk fills up: the home lives on a tiny tmpfs (mounted for the test; needs root / mount
 *   rights, else the test is skipped loudly), filled to the last byte while the daemon runs: real
 *   ENOSPC / SQLITE_FULL;
 * - the database's filesystem becomes read-only while the daemon runs (its API on): the database
 *   lives on a FUSE filesystem (test/fault/rofs-server.ts, backed by a tiny tmpfs) that is switched
 *   read-only: every write — through the daemon's open db, -wal and -shm too — fails with EROFS, as
 *   on a filesystem gone read-only, and reads go on; then it is switched back. `mount -o
 *   remount,ro` cannot do this: Linux refuses a read-only remount while a file on the filesystem
 *   is open for writing (EBUSY), which a running daemon's database always is, and a filesystem
 *   the kernel turns read-only itself (ext4 errors=remount-ro) cannot be made writable again
 *   without unmounting it. Where FUSE cannot be mounted (not root, no /dev/fuse) the test says so
 *   loudly and falls back to `chattr +i` on the db, its -wal and its directory (EPERM instead of
 *   EROFS, -shm left alone: an immutable mapping SIGBUSes the process); with CI=true it fails
 *   instead.
 * Either way: a clear error in the daemon's log, the daemon stays up, it recovers when the fault
 * clears (runs are recorded again; in the read-only case a run that ended during the fault is
 * recorded too), and PRAGMA integrity_check is ok afterwards.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../helpers/tmp.js';
import { app as openHome, startDaemonProcess, until, writeHome, type DaemonProc } from '../fixtures/exec-core/daemon-proc.js';
import { canMountReadOnlySwitch, canMountTmpfs, mountReadOnlySwitch, mountTmpfs, unmount, type ReadOnlySwitchFs } from './mounts.js';
import { killAll, processesWithMarker } from './procs.js';
import { freePort } from '../helpers/net.js';

const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** CI must run the real read-only filesystem, not the chattr stand-in. */
const CI = process.env.CI === 'true';

function canChattr(): boolean {
  if (!isRoot) return false;
  const dir = tempDir('smart-cron-fault-chattr-probe-');
  const ok = spawnSync('chattr', ['+i', dir]).status === 0;
  if (ok) spawnSync('chattr', ['-i', dir]);
  return ok;
}

const mountOk = canMountTmpfs();
const chattrOk = canChattr();
/** Why the read-only filesystem cannot be mounted here (null: it can). */
const rofsProblem = mountOk ? await canMountReadOnlySwitch() : 'cannot mount a tmpfs: not root or no mount rights';
if (!mountOk) process.stderr.write('\n!!! storage fault: disk-full test SKIPPED (cannot mount a tmpfs: not root or no mount rights) !!!\n\n');
if (rofsProblem && !CI) {
  process.stderr.write(
    chattrOk
      ? `\n!!! storage fault: read-only test falls back to chattr +i (NOT a read-only filesystem): ${rofsProblem} !!!\n\n`
      : `\n!!! storage fault: read-only test SKIPPED (no read-only filesystem: ${rofsProblem}; and cannot chattr +i) !!!\n\n`,
  );
}

interface Scenario {
  home: string;
  marker: string;
  dbPath: string;
  daemon: DaemonProc;
  /** The daemon's API (when started with it). */
  api: { base: string; token: string } | null;
  /** Recorded runs that finished after t. */
  recordedSince(t: number): Promise<number>;
  /** A read-only query on the daemon's database. */
  query<T>(sql: string, ...params: unknown[]): T[];
  close(): Promise<void>;
}

interface ScenarioOptions {
  /** Where the database lives (default: <home>/smart-cron.db). */
  dbPath?: string;
  /** Serve the API on a free loopback port. */
  api?: boolean;
  /** Add a job `slow` (sleep 3, every 5 s): a run in flight when a fault starts. */
  slowJob?: boolean;
}


async function scenario(home: string, tag: string, o: ScenarioOptions = {}): Promise<Scenario> {
  mkdirSync(home, { recursive: true });
  const slot = `${tag}${process.pid}`;
  const dbPath = o.dbPath ?? join(home, 'smart-cron.db');
  const port = o.api ? await freePort() : 0;
  writeHome(
    home,
    slot,
    `execution: { kill_grace_seconds: 1 }\n${o.dbPath ? `database: ${JSON.stringify(`sqlite:${o.dbPath}`)}\n` : ''}${o.api ? `api: { host: 127.0.0.1, port: ${port} }\n` : ''}`,
  );
  const token = `fault-${process.pid}-${Date.now()}-token`;
  if (o.api) writeFileSync(join(home, 'api-token'), `${token}\n`, { mode: 0o600 });
  const marker = `${process.pid}-${tag}`;
  const a = await openHome(home);
  for (let i = 0; i < 3; i++) {
    await a.jobs.registerJob(
      { name: `tick-${i}`, schedule: '* * * * * *', timezone: 'UTC', shell: true, command: [`echo run ${i}; exit ${i}`], slot, estimated_memory_mb: 5, env: { SC_FAULT_STORAGE: marker } },
      { source: 'manual', byUser: true },
    );
  }
  if (o.slowJob) {
    await a.jobs.registerJob(
      { name: 'slow', schedule: '*/5 * * * * *', timezone: 'UTC', shell: true, command: ['sleep 3; echo slow done'], slot, estimated_memory_mb: 5, env: { SC_FAULT_STORAGE: marker } },
      { source: 'manual', byUser: true },
    );
  }
  await a.close();
  const daemon = startDaemonProcess(home, { api: o.api });
  await until('the daemon to start', async () => /daemon started/.test(daemon.output()) || (daemon.child.exitCode !== null && Promise.reject(new Error(daemon.output()))), 90_000);
  const api = o.api ? { base: `http://127.0.0.1:${port}`, token } : null;
  if (api) {
    await until('the API to answer', async () => (await fetch(`${api.base}/healthz`).catch(() => null))?.ok, 60_000, 250);
  }
  const query = <T>(sql: string, ...params: unknown[]): T[] => {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  };
  return {
    home,
    marker,
    dbPath,
    daemon,
    api,
    query,
    async recordedSince(t) {
      return query<{ n: number }>('SELECT count(*) AS n FROM smart_cron_job_history WHERE recorded = 1 AND finished_at > ?', new Date(t).toISOString())[0]!.n;
    },
    async close() {
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
        daemon.child.kill('SIGTERM');
        await Promise.race([daemon.exited, sleep(30_000)]);
        if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
      }
      killAll(processesWithMarker(`SC_FAULT_STORAGE=${marker}`));
    },
  };
}

function integrity(dbPath: string): string {
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

interface Fault {
  fault(): void | Promise<void>;
  clear(): void | Promise<void>;
  /** What a clear error in the daemon's log looks like. */
  logPattern: RegExp;
  /** More checks while the fault lasts (after the log was checked). */
  during?(): Promise<void>;
  /** More checks once runs are recorded again (the daemon still running). */
  after?(cleared: number): Promise<void>;
}

async function faultAndRecover(s: Scenario, f: Fault): Promise<void> {
  await until('runs to be recorded before the fault', async () => (await s.recordedSince(0)) >= 3, 60_000, 250);
  const logBefore = s.daemon.output().length;
  await f.fault();
  try {
    await sleep(8000);
    const log = s.daemon.output().slice(logBefore);
    assert.equal(s.daemon.child.exitCode, null, `the daemon exited during the fault:\n${s.daemon.output().slice(-3000)}`);
    assert.match(log, f.logPattern, `no clear error in the log during the fault:\n${log.slice(-3000)}`);
    process.stdout.write(`# the daemon said: ${log.split('\n').find((l) => f.logPattern.test(l))?.slice(0, 300)}\n`);
    await f.during?.();
  } finally {
    await f.clear();
  }
  const cleared = Date.now();
  await until('runs recorded again after the fault cleared', async () => (await s.recordedSince(cleared + 1000)) >= 2, 60_000, 500).catch((e: Error) => {
    throw new Error(`${e.message}\n--- daemon log (tail)\n${s.daemon.output().slice(-3000)}`);
  });
  await f.after?.(cleared);
  assert.equal(s.daemon.child.exitCode, null, 'the daemon is still up');
  s.daemon.child.kill('SIGTERM');
  const code = await Promise.race([s.daemon.exited, sleep(30_000).then(() => 'hung')]);
  assert.equal(code, 0, `daemon stop: ${code}\n${s.daemon.output().slice(-2000)}`);
  assert.equal(integrity(s.dbPath), 'ok');
}

test('disk full (a tiny tmpfs filled while the daemon runs): clear error, daemon stays up, recovers, database intact', { skip: !mountOk && 'cannot mount tmpfs', timeout: 200_000 }, async () => {
  const mnt = tempDir('smart-cron-fault-full-');
  assert.ok(mountTmpfs(mnt, '32m'), 'mount a 32 MB tmpfs');
  let s: Scenario | undefined;
  const filler = join(mnt, 'filler');
  try {
    s = await scenario(join(mnt, 'home'), 'full');
    await faultAndRecover(s, {
      fault: () => {
        const fd = openSync(filler, 'w');
        const chunk = Buffer.alloc(1 << 16, 1);
        try {
          for (;;) writeSync(fd, chunk);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        } finally {
          closeSync(fd);
        }
      },
      clear: () => rmSync(filler, { force: true }),
      logPattern: /ENOSPC|SQLITE_FULL|disk is full|no space/i,
    });
  } finally {
    await s?.close();
    rmSync(filler, { force: true });
    unmount(mnt);
  }
});

const RO_LOG = /EROFS|SQLITE_IOERR|SQLITE_READONLY|readonly|read-only|EPERM|I\/O error/i;

/** The real thing: the database on a filesystem switched read-only under the running daemon, API on. */
async function readOnlyFilesystem(): Promise<void> {
  const disk = tempDir('smart-cron-fault-ro-disk-');
  assert.ok(mountTmpfs(disk, '64m'), 'mount a 64 MB tmpfs');
  const backing = join(disk, 'db');
  mkdirSync(backing);
  const mnt = tempDir('smart-cron-fault-ro-mnt-');
  let rofs: ReadOnlySwitchFs | undefined;
  let s: Scenario | undefined;
  try {
    rofs = await mountReadOnlySwitch(backing, mnt);
    const fs = rofs;
    const sc = (s = await scenario(join(tempDir('smart-cron-fault-ro-'), 'home'), 'ro', { dbPath: join(mnt, 'smart-cron.db'), api: true, slowJob: true }));
    const api = sc.api!;
    const get = (url: string, auth = true) =>
      fetch(`${api.base}${url}`, { headers: auth ? { authorization: `Bearer ${api.token}` } : {}, signal: AbortSignal.timeout(15_000) });
    let inFlight = 0;
    await faultAndRecover(sc, {
      fault: async () => {
        // Switch while a slow run is running: it ends during the fault, and its result must not be lost.
        inFlight = await until(
          'a slow run to be running',
          async () =>
            sc.query<{ id: number }>(
              "SELECT h.id FROM smart_cron_job_history h JOIN smart_cron_integrated_jobs j ON j.id = h.job_id WHERE j.name = 'slow' AND h.status = 'running' ORDER BY h.id DESC LIMIT 1",
            )[0]?.id,
          60_000,
          50,
        );
        await fs.readOnly();
      },
      clear: () => fs.writable(),
      logPattern: RO_LOG,
      async during() {
        // The filesystem really is read-only…
        assert.throws(() => writeFileSync(join(mnt, 'probe'), 'x'), { code: 'EROFS' });
        // …and the daemon still answers, reads included.
        assert.equal((await get('/healthz', false)).status, 200);
        const r = await get('/api/jobs/list?limit=10');
        const body = await r.text();
        assert.equal(r.status, 200, `GET /api/jobs/list during the fault: ${r.status} ${body.slice(0, 500)}`);
        assert.match(body, /"slow"/);
        process.stdout.write('# during the fault: writes on the database filesystem fail with EROFS; the API answers (healthz, jobs list)\n');
      },
      async after(cleared) {
        // The run that ended while the filesystem was read-only is recorded now.
        const row = await until(
          `run #${inFlight} (ended during the fault) to be recorded`,
          async () => sc.query<{ status: string; recorded: number; finished_at: string }>('SELECT status, recorded, finished_at FROM smart_cron_job_history WHERE id = ?', inFlight).find((x) => x.recorded === 1),
          60_000,
          500,
        ).catch((e: Error) => {
          throw new Error(`${e.message}\n--- daemon log (tail)\n${sc.daemon.output().slice(-3000)}`);
        });
        assert.equal(row.status, 'succeeded', `run #${inFlight}: ${JSON.stringify(row)}`);
        assert.ok(Date.parse(row.finished_at) < cleared, `run #${inFlight} ended during the fault (finished_at ${row.finished_at})`);
        // Nothing that ran before the fault cleared is left unrecorded.
        await until(
          'every run started before the fault cleared to be recorded',
          async () =>
            sc.query<{ n: number }>("SELECT count(*) AS n FROM smart_cron_job_history WHERE status = 'running' AND started_at < ?", new Date(cleared).toISOString())[0]!.n === 0,
          60_000,
          500,
        );
        assert.equal((await get('/api/jobs/list?limit=10')).status, 200);
        process.stdout.write(`# after the fault: run #${inFlight}, which ended during it, recorded as ${row.status}\n`);
      },
    });
  } finally {
    await s?.close();
    await rofs?.close();
    unmount(disk);
  }
}

/** The stand-in where no filesystem can be mounted: db, -wal and directory immutable (EPERM). */
async function readOnlyByChattr(): Promise<void> {
  const home = join(tempDir('smart-cron-fault-ro-'), 'home');
  let s: Scenario | undefined;
  const paths = [join(home, 'smart-cron.db'), join(home, 'smart-cron.db-wal'), home];
  const unlock = () => {
    for (const p of paths) spawnSync('chattr', ['-i', p]);
  };
  try {
    s = await scenario(home, 'ro');
    await faultAndRecover(s, {
      fault: () => {
        for (const p of paths) assert.equal(spawnSync('chattr', ['+i', p]).status, 0, `chattr +i ${p}`);
      },
      clear: unlock,
      logPattern: RO_LOG,
    });
  } finally {
    unlock();
    await s?.close();
  }
}

test(
  'database read-only (its filesystem switched read-only under the running daemon, then back): clear error, daemon and API stay up, the run that ended meanwhile is recorded, database intact',
  { skip: rofsProblem !== null && !CI && !chattrOk && `no read-only filesystem (${rofsProblem}) and cannot chattr +i`, timeout: 240_000 },
  async (t: TestContext) => {
    if (rofsProblem === null) return readOnlyFilesystem();
    assert.ok(!CI, `CI=true requires the real read-only filesystem, and it cannot be mounted here: ${rofsProblem}`);
    t.diagnostic(`FALLBACK: chattr +i instead of a read-only filesystem (${rofsProblem})`);
    process.stdout.write(`# !!! FALLBACK: not a read-only filesystem but chattr +i: ${rofsProblem}\n`);
    return readOnlyByChattr();
  },
);
