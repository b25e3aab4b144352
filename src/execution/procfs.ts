/**
 * Reading /proc cheaply. The sampler reads the same few files of the same processes ten
 * times a second, so a watched process keeps its /proc files open and re-reads them with
 * pread at offset 0 (one syscall, no allocation) instead of open+read+close each time.
 * Host probes used by admission (MemAvailable, PSI) live here too.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let clkTck: number | undefined;
let pageSize: number | undefined;
let bootId: string | undefined;

function getconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isFinite(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

/** Clock ticks per second (utime/stime/starttime unit). */
export function clockTicks(): number {
  return (clkTck ??= getconf('CLK_TCK', 100));
}

export function pageBytes(): number {
  return (pageSize ??= getconf('PAGESIZE', 4096));
}

/** Changes at every boot: part of the start token so a reboot never looks like the same process. */
export function currentBootId(): string {
  if (bootId === undefined) {
    try {
      bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, 8);
    } catch {
      bootId = 'noboot';
    }
  }
  return bootId;
}

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  /** utime + stime in ms. */
  cpuMs: number;
  /** cutime + cstime (waited-for children) in ms. */
  childCpuMs: number;
  /** In clock ticks since boot. */
  startTime: number;
  rssBytes: number;
}

/** Parses /proc/<pid>/stat; the command name may hold spaces and parentheses, so fields start after the last ')'. */
export function parseStat(pid: number, text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field N is f[N - 3].
  if (f.length < 22) return null;
  const tick = 1000 / clockTicks();
  return {
    pid,
    state: f[0]!,
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    cpuMs: (Number(f[11]) + Number(f[12])) * tick,
    childCpuMs: (Number(f[13]) + Number(f[14])) * tick,
    startTime: Number(f[19]),
    rssBytes: Number(f[21]) * pageBytes(),
  };
}

export function readStat(pid: number): ProcStat | null {
  try {
    return parseStat(pid, fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return null;
  }
}

/**
 * The identity of a process across daemon restarts and reboots: boot id + start time.
 * A pid that was reused by another process has a different token.
 */
export function startToken(pid: number): string | null {
  const st = readStat(pid);
  return st ? `${tokenPrefix()}${st.startTime}` : null;
}

/** What a start token has before the start time (the spawn helper writes tokens too). */
export function tokenPrefix(): string {
  return `${currentBootId()}:`;
}

/** True when pid is a running (not zombie) process with this start token. */
export function isSameProcess(pid: number, token: string): boolean {
  const st = readStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return `${tokenPrefix()}${st.startTime}` === token;
}

const scratch = Buffer.alloc(4096);

/**
 * A /proc (or cgroup) file kept open and re-read with pread; null once the process is gone.
 * Opened at the first read, never re-opened: a re-open could find a reused pid.
 */
export class ProcFile {
  private fd: number | null = null;
  private tried = false;
  constructor(private readonly path: string) {}
  private ensure(): void {
    if (this.tried) return;
    this.tried = true;
    try {
      this.fd = fs.openSync(this.path, 'r');
    } catch {
      this.fd = null;
    }
  }
  get open(): boolean {
    this.ensure();
    return this.fd !== null;
  }
  read(): string | null {
    this.ensure();
    if (this.fd === null) return null;
    try {
      let n = fs.readSync(this.fd, scratch, 0, scratch.length, 0);
      if (n === scratch.length) {
        // Rare (a children list of hundreds of pids): fall back to a full read.
        const parts: Buffer[] = [Buffer.from(scratch)];
        let off = n;
        for (;;) {
          const b = Buffer.alloc(65536);
          n = fs.readSync(this.fd, b, 0, b.length, off);
          if (n <= 0) break;
          parts.push(b.subarray(0, n));
          off += n;
        }
        return Buffer.concat(parts).toString('latin1');
      }
      return n > 0 ? scratch.toString('latin1', 0, n) : null;
    } catch {
      this.close();
      return null;
    }
  }
  close(): void {
    this.tried = true;
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already gone */
      }
      this.fd = null;
    }
  }
}

/**
 * One watched process. statm (memory) is the cheap read done every tick; stat (CPU, state,
 * group) costs 2-3x more and is read less often; children only when new pids appeared.
 */
export class WatchedProcess {
  private readonly stat: ProcFile;
  private readonly statm: ProcFile;
  private readonly children: ProcFile;
  fresh = true;
  cpuMs = 0;
  pssBytes: number | null = null;
  rssAtPss = 0;
  pssReadAt = 0;
  constructor(readonly pid: number) {
    this.stat = new ProcFile(`/proc/${pid}/stat`);
    this.statm = new ProcFile(`/proc/${pid}/statm`);
    this.children = new ProcFile(`/proc/${pid}/task/${pid}/children`);
  }
  readStat(): ProcStat | null {
    const t = this.stat.read();
    return t === null ? null : parseStat(this.pid, t);
  }
  /** Resident bytes, or null once the process is gone (a zombie reads 0). */
  readRss(): number | null {
    const t = this.statm.read();
    if (t === null) return null;
    const sp = t.indexOf(' ');
    return Number(t.slice(sp + 1, t.indexOf(' ', sp + 1))) * pageBytes();
  }
  readChildren(): number[] {
    const t = this.children.read();
    if (!t) return [];
    const out: number[] = [];
    for (const s of t.split(' ')) if (s) out.push(Number(s));
    return out;
  }
  close(): void {
    this.stat.close();
    this.statm.close();
    this.children.close();
  }
}

const loadavg = new ProcFile('/proc/loadavg');
/** The last pid the kernel handed out: when it has not moved, nobody forked. */
export function lastPid(): number {
  const t = loadavg.read();
  return t ? Number(t.slice(t.lastIndexOf(' ') + 1)) : -1;
}

/** The file position of a process's fd (shared by every process holding the same open file). */
export function fdPosition(pid: number, fd: number): number | null {
  try {
    const m = /^pos:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** PSS of one process in bytes from smaps_rollup (costly: the kernel walks the page tables), or null. */
export function readPssBytes(pid: number): number | null {
  try {
    const t = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
    const m = /^Pss:\s+(\d+) kB/m.exec(t);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Every pid on the host (a directory listing, no file reads). */
export function listPids(): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(name));
  }
  return out;
}

/** Pids of live (non-zombie) processes in process group pgid; a full /proc scan, so call it rarely. */
export function processGroupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const pid of listPids()) {
    const st = readStat(pid);
    if (st && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X') out.push(pid);
  }
  return out;
}

export interface HostMemory {
  memAvailableMb: number;
  memTotalMb: number;
}

export function parseMeminfo(text: string): HostMemory {
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };
  let avail = kb('MemAvailable');
  // Kernels before 3.14 have no MemAvailable: free + reclaimable cache is the old approximation.
  if (Number.isNaN(avail)) avail = kb('MemFree') + kb('Buffers') + kb('Cached');
  return { memAvailableMb: Math.floor(avail / 1024), memTotalMb: Math.floor(kb('MemTotal') / 1024) };
}

export function readHostMemory(): HostMemory {
  return parseMeminfo(fs.readFileSync('/proc/meminfo', 'latin1'));
}

/** Memory PSI "some avg10" in percent, or null when the kernel has no PSI. */
export function readMemoryPressure(path = '/proc/pressure/memory'): number | null {
  try {
    const m = /^some avg10=([\d.]+)/m.exec(fs.readFileSync(path, 'latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export function smapsRollupReadable(): boolean {
  return readPssBytes(process.pid) !== null;
}

/** Number of CPUs the host has (cpu percent of "the whole machine" divides by this). */
let cpus: number | undefined;
export function cpuCount(): number {
  return (cpus ??= countCpus());
}

function countCpus(): number {
  try {
    const t = fs.readFileSync('/proc/stat', 'latin1');
    const n = (t.match(/^cpu\d+ /gm) ?? []).length;
    if (n > 0) return n;
  } catch {
    /* fall through */
  }
  return 1;
}
