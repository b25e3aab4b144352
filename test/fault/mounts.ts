/**
 * Mounts for the storage fault tests (root only): a tiny tmpfs, and a FUSE filesystem over a
 * directory that can be switched read-only and back while files on it are open for writing
 * (rofs-server.ts says why `mount -o remount,ro` cannot do that). Each helper undoes only the
 * mount it made.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';

const SERVER = fileURLToPath(new URL('./rofs-server.ts', import.meta.url));
const isRoot = process.getuid?.() === 0;

const mounted = (dir: string) => readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dir);

/** Mount a tmpfs of `size` (e.g. '32m') on dir; false when this process may not mount. */
export function mountTmpfs(dir: string, size: string): boolean {
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status === 0;
}

/** Unmount dir if it is a mount point (lazily: a process still holding a file there does not block it). */
export function unmount(dir: string): void {
  if (mounted(dir)) spawnSync('umount', ['-l', dir]);
}

export function canMountTmpfs(): boolean {
  if (!isRoot) return false;
  const dir = tempDir('smart-cron-fault-mnt-probe-');
  const ok = mountTmpfs(dir, '1m');
  if (ok) unmount(dir);
  return ok;
}

export interface ReadOnlySwitchFs {
  /** Where the filesystem is mounted. */
  mountpoint: string;
  /** Every write from now on fails with EROFS (resolves once the server has switched). */
  readOnly(): Promise<void>;
  /** Writable again. */
  writable(): Promise<void>;
  /** Unmount and end the server (idempotent; safe after a failure). */
  close(): Promise<void>;
}

/** Mount the FUSE read-only-switch filesystem over backing at mountpoint. Rejects when FUSE cannot be mounted here. */
export async function mountReadOnlySwitch(backing: string, mountpoint: string): Promise<ReadOnlySwitchFs> {
  if (!isRoot) throw new Error('mounting needs root');
  if (!existsSync('/dev/fuse')) throw new Error('no /dev/fuse (the fuse kernel module is not loaded, or a container without it)');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SERVER, backing, mountpoint], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters: { ok: () => boolean; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.ok()) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on('data', (d) => {
    out += d;
    check();
  });
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  const waitFor = (ok: () => boolean, what: string, ms = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`rofs: no ${what} after ${ms} ms: ${out}`)), ms);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      waiters.push({ ok, resolve: done });
      void exited.then(() => {
        clearTimeout(t);
        reject(new Error(`rofs: the server exited before ${what}: ${out}`));
      });
      check();
    });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    child.stdin!.end(); // the server turns writable when its test goes away
    unmount(mountpoint);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    await waitFor(() => /^ready$/m.test(out), 'FUSE init');
  } catch (e) {
    await close();
    throw e;
  }
  let switches = 0;
  const toggle = async (cmd: 'ro' | 'rw') => {
    const n = ++switches;
    child.stdin!.write(`${cmd}\n`);
    // Its acknowledgement: the n-th one.
    await waitFor(() => (out.match(/^(ro|rw) ok$/gm) ?? []).length >= n, `"${cmd} ok"`);
  };
  return { mountpoint, readOnly: () => toggle('ro'), writable: () => toggle('rw'), close };
}

/** Can this process mount the FUSE read-only-switch filesystem? (A real mount, then undone.) */
export async function canMountReadOnlySwitch(): Promise<string | null> {
  try {
    const fs = await mountReadOnlySwitch(tempDir('smart-cron-fault-rofs-probe-back-'), tempDir('smart-cron-fault-rofs-probe-'));
    await fs.close();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
