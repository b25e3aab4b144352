/**
 * Where the cgroup hierarchies are and where we are in them, read from /proc/self/mountinfo
 * and /proc/self/cgroup (never assumed to be /sys/fs/cgroup: containers mount a sub-tree,
 * distributions co-mount cpu,cpuacct), and small file helpers whose errors name the file.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface CgroupMount {
  version: 1 | 2;
  mountPoint: string;
  /** The hierarchy path the mount shows at its mount point ("/" unless a container bind-mounts a sub-tree). */
  root: string;
  /** v1 controllers of this hierarchy (e.g. ["cpu", "cpuacct"]); empty for v2. */
  controllers: string[];
}

const V1_CONTROLLERS = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio',
  'perf_event', 'hugetlb', 'pids', 'rdma', 'misc',
]);

function unescapeMount(s: string): string {
  return s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const fstype = right[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const opts = (right[2] ?? '').split(',');
    out.push({
      version: fstype === 'cgroup2' ? 2 : 1,
      root: unescapeMount(left[3] ?? '/'),
      mountPoint: unescapeMount(left[4] ?? ''),
      controllers: fstype === 'cgroup' ? opts.filter((o) => V1_CONTROLLERS.has(o)) : [],
    });
  }
  return out;
}

export interface ProcCgroups {
  /** v1 controller -> path in its hierarchy. */
  v1: Map<string, string>;
  /** The v2 path ("0::/..."), or null. */
  v2: string | null;
}

export function parseProcCgroup(text: string): ProcCgroups {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3]!;
    else for (const c of m[2]!.split(',')) if (c) v1.set(c, m[3]!);
  }
  return { v1, v2 };
}

/** The directory of our own cgroup inside a mount (the mount may show only a sub-tree). */
export function ownDirIn(mount: CgroupMount, ownPath: string): string | null {
  const root = mount.root === '/' ? '' : mount.root;
  if (root && ownPath !== root && !ownPath.startsWith(root + '/')) return null;
  // resolve, not join: a process in the mount's root cgroup ("/") is in the mount point itself,
  // spelled without a trailing slash, so that it compares equal to the mount point.
  return path.resolve(mount.mountPoint, `.${ownPath.slice(root.length)}`);
}

export interface HostCgroups {
  mounts: CgroupMount[];
  self: ProcCgroups;
}

export function readHostCgroups(pid: number | 'self' = 'self'): HostCgroups {
  let mounts: CgroupMount[] = [];
  let self: ProcCgroups = { v1: new Map(), v2: null };
  try {
    mounts = parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    /* no /proc: nothing usable */
  }
  try {
    self = parseProcCgroup(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
  } catch {
    /* idem */
  }
  return { mounts, self };
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${err.message.replace(/^\w+: /, '')}` : String(e);
}

export function cgRead(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

export function cgReadNumber(file: string): number | null {
  try {
    const n = Number(cgRead(file).trim().split(/\s/)[0]);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** Write a cgroup control file; the error names the file and the value. */
export function cgWrite(file: string, value: string | number): void {
  try {
    fs.writeFileSync(file, String(value));
  } catch (e) {
    throw new Error(`cannot write '${value}' to ${file} (${errText(e)})`);
  }
}

export function cgMkdir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(`cannot create cgroup ${dir} (${errText(e)})`);
  }
}

/** The file a pid is written into to move that process into the cgroup at dir. */
export function procsFile(dir: string): string {
  return path.join(dir, 'cgroup.procs');
}

/** Create a plan's directories and write its files; on failure remove what was created and throw. */
export function applyPlan(plan: { mkdirs: string[]; writes: [string, string][] }): void {
  const made: string[] = [];
  try {
    for (const d of plan.mkdirs) {
      cgMkdir(d);
      made.push(d);
    }
    for (const [f, v] of plan.writes) cgWrite(f, v);
  } catch (e) {
    for (const d of made.reverse()) cgRmdir(d, 1);
    throw e;
  }
}

/** Remove a cgroup directory; the kernel refuses (EBUSY) for a moment after the last task died. */
export function cgRmdir(dir: string, attempts = 20): boolean {
  for (let i = 0; i < attempts; i++) {
    try {
      fs.rmdirSync(dir);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY') return false;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  return false;
}

/**
 * Remove a run's cgroup without blocking the daemon: the rmdir runs on libuv's thread pool (on
 * cgroup v1 it takes the kernel ~0.15 ms per controller directory, all on the calling thread),
 * and is retried on a timer while the kernel still reports the group busy (its last task is
 * being torn down).
 */
export function cgRmdirSoon(dir: string, attempts = 50): void {
  fs.rmdir(dir, (e) => {
    if (e?.code !== 'EBUSY' || attempts <= 0) return; // removed, gone already, or not ours to retry
    setTimeout(() => cgRmdirSoon(dir, attempts - 1), 20).unref();
  });
}

/** Names of the directories in dir (child cgroups; [] when it is gone). */
export function subdirs(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

/** The run cgroups (root/SLOT/RUN) in which no process is left: the runs that are over. */
export function finishedRunDirs(root: string): string[] {
  const out: string[] = [];
  for (const slot of subdirs(root)) {
    for (const run of subdirs(path.join(root, slot))) {
      const dir = path.join(root, slot, run);
      if (cgPids(procsFile(dir)).length === 0) out.push(dir); // a live one is a run still going (adopted)
    }
  }
  return out;
}

/** Removes root's slot cgroups and root itself, once (what is still busy stays). */
export function removeSlotTree(root: string): void {
  for (const s of subdirs(root)) cgRmdir(path.join(root, s), 1);
  cgRmdir(root, 1);
}

/** Pids listed in a cgroup.procs / tasks file ([] when the cgroup is gone). */
export function cgPids(file: string): number[] {
  try {
    return cgRead(file)
      .split('\n')
      .filter((s) => s)
      .map(Number);
  } catch {
    return [];
  }
}

export function isWritable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Parse "key value" lines (memory.events, cpu.stat, memory.oom_control). */
export function cgKeyValues(file: string): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const line of cgRead(file).split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v !== undefined) out.set(k, Number(v));
    }
  } catch {
    /* missing file: empty */
  }
  return out;
}

export function signalPids(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}
