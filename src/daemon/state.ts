/**
 * <home>/daemon.json: which daemon runs for this home, since when, where its API listens.
 * It is how `status` finds the daemon and how a second daemon on the same home is refused.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DaemonState {
  pid: number;
  node: string;
  started_at: string;
  api_url: string | null;
  enforcement: string;
  database: string;
  version: string;
}

export function statePath(home: string): string {
  return join(home, 'daemon.json');
}

export function readState(home: string): DaemonState | null {
  const p = statePath(home);
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as DaemonState;
  } catch {
    return null;
  }
}

export function writeState(home: string, s: DaemonState): void {
  const p = statePath(home);
  writeFileSync(`${p}.tmp`, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${p}.tmp`, p);
}

export function clearState(home: string, pid = process.pid): void {
  const s = readState(home);
  if (s && s.pid === pid) rmSync(statePath(home), { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The daemon running for this home, or null (a stale file left by a killed daemon counts as none). */
export function runningDaemon(home: string): DaemonState | null {
  const s = readState(home);
  if (!s || !isAlive(s.pid) || s.pid === process.pid) return null;
  try {
    const cmd = readFileSync(`/proc/${s.pid}/cmdline`, 'utf8');
    if (!/smart-cron|main\.(ts|js)|daemon/.test(cmd)) return null;
  } catch {
    // no /proc: trust the pid
  }
  return s;
}
