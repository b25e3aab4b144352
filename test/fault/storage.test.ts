/**
 * Storage faults under a real daemon process on SQLite, jobs running every second:
 * - the disk fills up: the home lives on a tiny tmpfs (mounted for the test; needs root / mount
 *   rights, else the test is skipped loudly), filled to the last byte while the daemon runs: real
 *   ENOSPC / SQLITE_FULL;
 * - the database becomes read-only: `chmod 0444` does not stop root, and a read-only remount is
 *   refused while files are open for writing (EBUSY), so the database file, its -wal and its
 *   directory are made immutable (`chattr +i`): every write fails with EPERM (SQLITE_IOERR_WRITE /
 *   SQLITE_READONLY), as on a filesystem gone read-only. (-shm is left alone: it is mmapped, and an
 *   immutable mapping SIGBUSes the process, which no real read-only filesystem does.)
 * Either way: a clear error in the daemon's log, the daemon stays up, it recovers when the fault
 * clears (runs are recorded again), and PRAGMA integrity_check is ok afterwards.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../helpers/tmp.js';
import { app as openHome, startDaemonProcess, until, writeHome, type DaemonProc } from '../fixtures/exec-core/daemon-proc.js';
import { killAll, processesWithMarker } from './procs.js';

const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function canMountTmpfs(): boolean {
  if (!isRoot) return false;
  const dir = tempDir('smart-cron-fault-mnt-probe-');
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]).status === 0;
  if (ok) spawnSync('umount', [dir]);
  return ok;
}

function canChattr(): boolean {
  if (!isRoot) return false;
  const dir = tempDir('smart-cron-fault-chattr-probe-');
  const ok = spawnSync('chattr', ['+i', dir]).status === 0;
  if (ok) spawnSync('chattr', ['-i', dir]);
  return ok;
}

const mountOk = canMountTmpfs();
const chattrOk = canChattr();
if (!mountOk) process.stderr.write('\n!!! storage fault: disk-full test SKIPPED (cannot mount a tmpfs: not root or no mount rights) !!!\n\n');
if (!chattrOk) process.stderr.write('\n!!! storage fault: read-only test SKIPPED (cannot chattr +i: not root or the filesystem has no immutable flag) !!!\n\n');

interface Scenario {
  home: string;
  marker: string;
  /** Recorded runs that finished after t. */
  recordedSince(t: number): Promise<number>;
  daemon: DaemonProc;
  close(): Promise<void>;
}

async function scenario(home: string, tag: string): Promise<Scenario> {
  mkdirSync(home, { recursive: true });
  const slot = `${tag}${process.pid}`;
  writeHome(home, slot, 'execution: { kill_grace_seconds: 1 }\n');
  const marker = `${process.pid}-${tag}`;
  const a = await openHome(home);
  for (let i = 0; i < 3; i++) {
    await a.jobs.registerJob(
      { name: `tick-${i}`, schedule: '* * * * * *', timezone: 'UTC', shell: true, command: [`echo run ${i}; exit ${i}`], slot, estimated_memory_mb: 5, env: { SC_FAULT_STORAGE: marker } },
      { source: 'manual', byUser: true },
    );
  }
  await a.close();
  const daemon = startDaemonProcess(home);
  await until('the daemon to start', async () => /daemon started/.test(daemon.output()) || (daemon.child.exitCode !== null && Promise.reject(new Error(daemon.output()))), 90_000);
  const dbPath = join(home, 'smart-cron.db');
  return {
    home,
    marker,
    daemon,
    async recordedSince(t) {
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        db.pragma('busy_timeout = 5000');
        return (db.prepare('SELECT count(*) AS n FROM smart_cron_job_history WHERE recorded = 1 AND finished_at > ?').get(new Date(t).toISOString()) as { n: number }).n;
      } finally {
        db.close();
      }
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

async function faultAndRecover(s: Scenario, fault: () => void, clear: () => void, logPattern: RegExp): Promise<void> {
  await until('runs to be recorded before the fault', async () => (await s.recordedSince(0)) >= 3, 60_000, 250);
  const logBefore = s.daemon.output().length;
  fault();
  try {
    await sleep(8000);
    const log = s.daemon.output().slice(logBefore);
    assert.equal(s.daemon.child.exitCode, null, `the daemon exited during the fault:\n${s.daemon.output().slice(-3000)}`);
    assert.match(log, logPattern, `no clear error in the log during the fault:\n${log.slice(-3000)}`);
    process.stdout.write(`# the daemon said: ${log.split('\n').find((l) => logPattern.test(l))?.slice(0, 300)}\n`);
  } finally {
    clear();
  }
  const cleared = Date.now();
  await until('runs recorded again after the fault cleared', async () => (await s.recordedSince(cleared + 1000)) >= 2, 60_000, 500).catch((e: Error) => {
    throw new Error(`${e.message}\n--- daemon log (tail)\n${s.daemon.output().slice(-3000)}`);
  });
  assert.equal(s.daemon.child.exitCode, null, 'the daemon is still up');
  s.daemon.child.kill('SIGTERM');
  const code = await Promise.race([s.daemon.exited, sleep(30_000).then(() => 'hung')]);
  assert.equal(code, 0, `daemon stop: ${code}\n${s.daemon.output().slice(-2000)}`);
  assert.equal(integrity(join(s.home, 'smart-cron.db')), 'ok');
}

test('disk full (a tiny tmpfs filled while the daemon runs): clear error, daemon stays up, recovers, database intact', { skip: !mountOk && 'cannot mount tmpfs', timeout: 200_000 }, async () => {
  const mnt = tempDir('smart-cron-fault-full-');
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', mnt]).status, 0);
  let s: Scenario | undefined;
  const filler = join(mnt, 'filler');
  try {
    s = await scenario(join(mnt, 'home'), 'full');
    await faultAndRecover(
      s,
      () => {
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
      () => rmSync(filler, { force: true }),
      /ENOSPC|SQLITE_FULL|disk is full|no space/i,
    );
  } finally {
    await s?.close();
    rmSync(filler, { force: true });
    spawnSync('umount', ['-l', mnt]);
  }
});

test('database read-only (db, -wal and its directory immutable while the daemon runs): clear error, daemon stays up, recovers, database intact', { skip: !chattrOk && 'cannot chattr +i', timeout: 200_000 }, async () => {
  const home = join(tempDir('smart-cron-fault-ro-'), 'home');
  let s: Scenario | undefined;
  const paths = [join(home, 'smart-cron.db'), join(home, 'smart-cron.db-wal'), home];
  const unlock = () => {
    for (const p of paths) spawnSync('chattr', ['-i', p]);
  };
  try {
    s = await scenario(home, 'ro');
    await faultAndRecover(
      s,
      () => {
        for (const p of paths) assert.equal(spawnSync('chattr', ['+i', p]).status, 0, `chattr +i ${p}`);
      },
      unlock,
      /SQLITE_IOERR|SQLITE_READONLY|readonly|read-only|EPERM|I\/O error/i,
    );
  } finally {
    unlock();
    await s?.close();
  }
});
