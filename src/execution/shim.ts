/**
 * How a run is launched: the /bin/sh shim every run starts under, the argv for script jobs,
 * the user a run runs as, and the checks that turn a bad command or cwd into a clear message
 * before anything is spawned.
 *
 * Why a shim: the daemon may be killed -9 while jobs run. The shim is the run's first
 * process (its pid and start time are recorded); it outlives the daemon, waits for the real
 * command and writes `runDir/exit` (exit status, CPU time of everything it waited for, end
 * time), so a restarted daemon can still learn how the run ended.
 *
 * Start handshake: the shim first reads one line "go" from stdin. The daemon writes it only
 * after putting the shim into its cgroup (or setting oom_score_adj), so the job never runs a
 * single instruction outside its limits, and no cgroup file has to be writable by the job's
 * user. If the daemon dies before that, stdin reaches EOF and the shim exits 125 unstarted.
 * "go S" (S seconds, fractional) holds the command until its start instant: the shim sleeps S
 * seconds first, so a run prepared ahead starts on time whatever the daemon is doing then; a
 * signal that ends the sleep (a cancel before the start) makes the shim exit 125 unstarted.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { reattachConfinement } from './enforcement/reattach.js';
import type { BackendName, SavedConfinement } from './enforcement/types.js';
import { OutputFollower, type OutputResult } from './output.js';
import { cpuCount, currentBootId, processGroupMembers, readStat } from './procfs.js';

/** Exit code of a shim that never started the command. */
export const SHIM_UNSTARTED = 125;

// trap with a handler (not '') so TERM/INT/HUP sent to the group do not kill the shim while it
// waits for the job (the job itself still gets them, and handlers are not inherited). `times`
// prints the shell's and then its children's CPU time. stdin becomes /dev/null for the job.
// The exit file is written with builtins only (no date, no mv: two processes fewer per run);
// its mtime is the end time, and it is read only once the shim is gone. The status line comes
// first, in one write, so even a shim killed while writing leaves the exit status readable.
// A shim that never starts the command leaves `unstarted` instead (exit 125 alone could be the
// command's own status), so even a daemon that was not there to see it knows it never ran.
export const SHIM_SCRIPT = [
  'd=$1; shift',
  "trap ':' HUP INT TERM",
  'IFS= read -r go',
  'case $go in',
  '  go) ;;',
  '  "go "*) s=/bin/sleep; [ -x $s ] || s=sleep',
  '    $s "${go#go }" || { : >"$d/unstarted" 2>/dev/null; echo "smart-cron: stopped before its start" >&2; exit 125; } ;;',
  '  *) : >"$d/unstarted" 2>/dev/null; echo "smart-cron: supervisor went away before the start signal" >&2; exit 125 ;;',
  'esac',
  'exec 0</dev/null',
  '"$@"',
  'rc=$?',
  '{ echo "$rc"; times; } >"$d/exit" 2>/dev/null',
  'exit "$rc"',
].join('\n');

/** argv for spawn: /bin/sh -c SHIM smart-cron-run <runDir> <command...>. */
export function shimArgs(runDir: string, argv: string[]): string[] {
  return ['-c', SHIM_SCRIPT, 'smart-cron-run', runDir, ...argv];
}

export interface ExitRecord {
  exitCode: number;
  /** CPU time of every process the shim waited for (the job and its reaped descendants). */
  childCpuMs: number | null;
  /** ms since the epoch: the file's mtime (ms precision), else the seconds the shim wrote. */
  endedAt: number;
}

function parseTimes(s: string | undefined): number | null {
  // dash/bash: "0m1.230000s 0m0.010000s"
  if (!s) return null;
  const parts = [...s.matchAll(/(\d+)m([\d.]+)s/g)];
  if (parts.length !== 2) return null;
  return Math.round(parts.reduce((a, m) => a + (Number(m[1]) * 60 + Number(m[2])) * 1000, 0));
}

/** Whether the run's shim exited without starting the command (runDir/unstarted, or under status/). */
export function readUnstarted(runDir: string): boolean {
  return fs.existsSync(path.join(runDir, 'unstarted')) || fs.existsSync(path.join(runDir, 'status', 'unstarted'));
}

/** runDir/exit, or runDir/status/exit for a run as another user. */
export function readExitFile(runDir: string): ExitRecord | null {
  const own = path.join(runDir, 'exit');
  const file = fs.existsSync(own) ? own : path.join(runDir, 'status', 'exit');
  try {
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const exitCode = Number(lines[0]);
    if (lines[0] === '' || !Number.isInteger(exitCode)) return null;
    const mtime = fs.statSync(file).mtimeMs;
    const secs = Number(lines[3]); // written by shims of earlier versions
    return {
      exitCode,
      childCpuMs: parseTimes(lines[2]),
      endedAt: Number.isFinite(mtime) && mtime > 0 ? Math.round(mtime) : secs * 1000,
    };
  } catch {
    return null;
  }
}

const SIGNALS: Record<number, string> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS',
  8: 'SIGFPE', 9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE',
  14: 'SIGALRM', 15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ', 31: 'SIGSYS',
};

/**
 * The shell reports a command killed by signal N as status 128+N and cannot say more, so
 * the shim's status follows that convention (a job that deliberately exits 137 reads as SIGKILL).
 */
export function signalFromStatus(code: number): string | null {
  return code > 128 && code < 160 ? (SIGNALS[code - 128] ?? `SIG${code - 128}`) : null;
}

export type ScriptType = 'php' | 'bash' | 'python' | 'python3' | 'node' | 'executable' | 'sh';

/**
 * The interpreter line of a script as Linux reads it (binfmt_script): the program, and the rest
 * of the line, trimmed, as one optional argument (so `#!/usr/bin/env -S node --flag` gives env
 * "-S node --flag", which env splits). null when the file has none or cannot be read.
 */
export function readShebang(scriptPath: string): string[] | null {
  let fd: number | null = null;
  try {
    fd = fs.openSync(scriptPath, 'r');
    const head = Buffer.alloc(256);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n < 3 || head[0] !== 0x23 || head[1] !== 0x21) return null;
    const end = head.subarray(0, n).indexOf(0x0a);
    const line = head.subarray(2, end < 0 ? n : end).toString('utf8').replace(/\r$/, '').trim();
    const m = /^(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) return null;
    return m[2] ? [m[1]!, m[2].trim()] : [m[1]!];
  } catch {
    return null;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/**
 * argv that runs a script file (never through a shell line). A script with an interpreter line
 * runs as its author wrote it: executed directly when it is executable (the kernel reads the line),
 * else through that line's program; its type's usual interpreter would lose a virtualenv's
 * python, `bash -e`, node flags, zsh or python2. Without the line (PHP scripts, mostly), the
 * type's interpreter (php, bash, python3, node), or the file itself.
 */
export function argvForScript(scriptPath: string, scriptType: ScriptType | null | undefined): string[] {
  const shebang = readShebang(scriptPath);
  if (shebang) {
    let executable = false;
    try {
      fs.accessSync(scriptPath, fs.constants.X_OK);
      executable = true;
    } catch {
      /* not executable by us: run its interpreter line's program */
    }
    return executable ? [scriptPath] : [...shebang, scriptPath];
  }
  switch (scriptType) {
    case 'php':
      return ['php', scriptPath];
    case 'bash':
      return ['bash', scriptPath];
    case 'sh':
      return ['/bin/sh', scriptPath];
    case 'python':
    case 'python3':
      return ['python3', scriptPath];
    case 'node':
      // .ts would need a loader; node runs js/mjs/cjs directly.
      return ['node', scriptPath];
    default:
      return [scriptPath];
  }
}

export interface UserIds {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** uid/gid of a user from /etc/passwd, else `id` (for NSS users: LDAP, sssd). */
export function lookupUser(name: string, passwd = '/etc/passwd'): UserIds | null {
  try {
    for (const line of fs.readFileSync(passwd, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f.length >= 7) {
        return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/', shell: f[6] || '/bin/sh' };
      }
    }
  } catch {
    /* fall back to id */
  }
  try {
    const opts = { encoding: 'utf8' as const, stdio: ['ignore', 'pipe', 'ignore'] as ['ignore', 'pipe', 'ignore'] };
    const uid = Number(execFileSync('id', ['-u', name], opts).trim());
    const gid = Number(execFileSync('id', ['-g', name], opts).trim());
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { name, uid, gid, home: '/', shell: '/bin/sh' };
  } catch {
    /* unknown user */
  }
  return null;
}

/** Why a run cannot even be spawned, in words that name the thing; null when it can. */
export function preflight(argv: string[], cwd: string, envPath: string | undefined): string | null {
  try {
    if (!fs.statSync(cwd).isDirectory()) return `working directory ${cwd} is not a directory`;
  } catch (e) {
    return `working directory ${cwd}: ${describeFsError(e)}`;
  }
  const cmd = argv[0];
  if (cmd === undefined || cmd === '') return 'empty command: argv has no program to run';
  if (cmd.includes('/')) {
    const full = path.resolve(cwd, cmd);
    return checkExecutable(full, cmd);
  }
  for (const dir of (envPath ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    const full = path.join(dir, cmd);
    if (fs.existsSync(full) && checkExecutable(full, cmd) === null) return null;
  }
  return `command '${cmd}' not found in PATH (${envPath ?? '(unset)'}) (ENOENT)`;
}

function checkExecutable(full: string, shown: string): string | null {
  try {
    const st = fs.statSync(full);
    if (st.isDirectory()) return `command '${shown}' is a directory (EISDIR)`;
    fs.accessSync(full, fs.constants.X_OK);
    // root passes X_OK for any file with at least one x bit; none at all still fails at exec.
    if ((st.mode & 0o111) === 0) return `command '${shown}' is not executable (EACCES)`;
    return null;
  } catch (e) {
    return `command '${shown}': ${describeFsError(e)}`;
  }
}

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'does not exist (ENOENT)';
  if (code === 'EACCES') return 'permission denied (EACCES)';
  if (code === 'ENOTDIR') return 'a path component is not a directory (ENOTDIR)';
  return (e as Error).message;
}

// ---- How a run ended: the outcome from the shim's record, our kill reason and the backend's numbers.

export type RunStatusFinal = 'succeeded' | 'failed' | 'timeout' | 'memory_limit' | 'oom_killed' | 'interrupted';

export interface RunOutcome {
  status: RunStatusFinal;
  exitCode: number | null;
  signal: string | null;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  peakMemoryMb: number | null;
  memorySource: 'cgroup' | 'sampled' | null;
  cpuTimeMs: number | null;
  cpuPercent: number | null;
  outputTail: string;
  outputBytes: number;
  outputTruncated: boolean;
  logPath: string;
  errorMessage: string | null;
  /** False when the command never ran (its shim was stopped or let go before the start): no start time. */
  started: boolean;
}

/** What a restarted daemon needs to find a run again (all in the history row). */
export interface AdoptRecord {
  runId: string | number;
  pid: number;
  pidStart: string;
  runDir: string;
}

/**
 * Processes of a dead run's group that outlived its shim. The group id is the shim's old pid,
 * which may since belong to someone else: only processes started after the shim are the run's.
 */
function killGroupLeftovers(record: AdoptRecord): void {
  const [boot, ticks] = record.pidStart.split(':');
  if (boot !== currentBootId() || ticks === undefined) return;
  for (const pid of processGroupMembers(record.pid)) {
    const st = readStat(pid);
    if (st && st.startTime >= Number(ticks)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/** runDir/run.json: what a restarted daemon needs besides the history row. */
export interface RunFile {
  runId: string;
  jobName: string;
  argv: string[];
  startedAt: number;
  timeoutMs: number;
  memoryLimitMb: number | null;
  pid: number;
  pidStart: string | null;
  confinement: SavedConfinement;
}

const MB = 1024 * 1024;
/** A run id or slot as a cgroup directory name. */
export const safeId = (id: string | number): string => String(id).replace(/[^A-Za-z0-9._-]/g, '_');
export const round1 = (n: number): number => Math.round(n * 10) / 10;

export function baseOutcome(status: RunStatusFinal, startedAt: number, endedAt: number, out: OutputResult, msg: string | null): RunOutcome {
  return {
    status,
    exitCode: null,
    signal: null,
    startedAt,
    finishedAt: endedAt,
    durationMs: Math.max(0, endedAt - startedAt),
    peakMemoryMb: null,
    memorySource: null,
    cpuTimeMs: null,
    cpuPercent: null,
    ...out,
    errorMessage: msg,
    started: true,
  };
}

interface OutcomeFacts {
  startedAt: number;
  endedAt: number;
  mainExit: { code: number | null; signal: string | null } | null;
  exit: ExitRecord | null;
  stop: { status: 'timeout' | 'memory_limit' | 'interrupted'; message: string } | null;
  failMessage: string | null;
  oomKills: number;
  memoryLimitMb: number | null;
  usage: { peakBytes: number | null; source: 'cgroup' | 'sampled'; cpuTimeMs: number | null };
  out: OutputResult;
  backend: BackendName;
  killedHard: boolean;
  /** Whether the run's group was signalled at all (a run cancelled before its shim existed was not). */
  signalled?: boolean;
  /** The shim exited without starting the command (readUnstarted). */
  unstarted?: boolean;
}

export function buildOutcome(f: OutcomeFacts): RunOutcome {
  const o = baseOutcome('failed', f.startedAt, f.endedAt, f.out, null);
  if (f.mainExit && f.mainExit.code === null) o.signal = f.mainExit.signal;
  else {
    const code = f.mainExit?.code ?? f.exit?.exitCode ?? null;
    o.exitCode = code;
    o.signal = code === null ? null : signalFromStatus(code);
  }
  if (f.usage.peakBytes !== null) {
    o.peakMemoryMb = round1(f.usage.peakBytes / MB);
    o.memorySource = f.usage.source;
  }
  // cgroup CPU time is exact; otherwise the shim's `times` (every waited-for process) or samples.
  const sampled = f.usage.cpuTimeMs;
  o.cpuTimeMs = f.backend !== 'portable' && sampled !== null ? sampled : Math.max(f.exit?.childCpuMs ?? 0, sampled ?? 0);
  o.cpuTimeMs = Math.round(o.cpuTimeMs);
  o.cpuPercent = o.durationMs > 0 ? round1((o.cpuTimeMs / o.durationMs / cpuCount()) * 100) : 0;
  const hard = f.killedHard ? ', then SIGKILL after the grace period' : '';
  if (f.unstarted && !f.exit) {
    // It never ran: no start, no duration, and no exit status of its own to report.
    Object.assign(o, { started: false, durationMs: 0, exitCode: null, signal: null, cpuTimeMs: 0, cpuPercent: 0 });
    // A start that failed stays failed (its message says why); a stop or a daemon gone: interrupted.
    o.status = f.failMessage ? 'failed' : 'interrupted';
    o.errorMessage = f.failMessage
      ? f.failMessage
      : f.stop
        ? `${f.stop.message} before its start: the command never ran`
        : "never started: the daemon went away before the run's start signal, so the command never ran";
    return o;
  }
  if (f.failMessage) o.errorMessage = f.failMessage;
  else if (f.stop) {
    o.status = f.stop.status;
    o.errorMessage = f.stop.status === 'memory_limit' || f.signalled === false ? f.stop.message : `${f.stop.message} (SIGTERM to the process group${hard})`;
  } else if (f.oomKills > 0) {
    // Also when the command went on and exited 0 after the kernel killed one of its processes:
    // cgroup v2's oom.group (and our v1 sampler, when it sees the kill first) ends the whole run
    // then, so which of the two a run got must not depend on how soon it exited.
    o.status = 'oom_killed';
    const at = f.memoryLimitMb ? `its memory limit of ${f.memoryLimitMb} MB` : "its slot's memory limit (the slot's budget × 1.25 + 64 MB)";
    const kills = `${f.oomKills} OOM kill${f.oomKills > 1 ? 's' : ''} in the run's cgroup`;
    o.errorMessage =
      o.exitCode === 0
        ? `a process of the run was killed by the kernel OOM killer at ${at} (${kills}); the command went on and exited 0`
        : `killed by the kernel OOM killer at ${at} (${kills})`;
  } else if (o.exitCode === 0) {
    o.status = 'succeeded';
  } else if (!f.mainExit && !f.exit) {
    o.status = 'interrupted';
    o.errorMessage = 'the run ended while no supervisor was watching and left no exit status';
  } else if (o.exitCode === null) {
    o.errorMessage = `killed by signal ${o.signal}`;
  } else {
    const sig = o.signal ? ` (killed by ${o.signal})` : o.exitCode === 127 ? ' (command not found?)' : '';
    o.errorMessage = `exited with code ${o.exitCode}${sig}`;
  }
  return o;
}

export function readRunFile(runDir: string): RunFile | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunFile;
  } catch {
    return null;
  }
}

/** The outcome of a run whose process is gone: the shim's exit file, else interrupted. */
export async function collectFinishedRun(
  record: AdoptRecord,
  opts: { outputTailBytes: number; logMaxBytes: number; clock?: Clock },
): Promise<RunOutcome> {
  const clock = opts.clock ?? systemClock;
  const rf = readRunFile(record.runDir);
  const exit = readExitFile(record.runDir);
  const logPath = path.join(record.runDir, 'output.log');
  let out: OutputResult = { outputTail: '', outputBytes: 0, outputTruncated: false, logPath };
  if (fs.existsSync(logPath)) out = new OutputFollower(logPath, { tailBytes: opts.outputTailBytes, logMaxBytes: opts.logMaxBytes }, true).finish();
  let usage: { peakBytes: number | null; source: 'cgroup' | 'sampled'; cpuTimeMs: number | null; oomKills: number } = {
    peakBytes: null,
    source: 'sampled',
    cpuTimeMs: null,
    oomKills: 0,
  };
  if (rf && rf.confinement.backend !== 'portable' && rf.confinement.paths.every((p) => fs.existsSync(p))) {
    try {
      const conf = reattachConfinement(rf.confinement, record.pid, null, safeId(record.runId));
      conf.killAll(); // whatever the job left behind in its cgroup
      usage = conf.finish();
      conf.release();
    } catch {
      /* a run.json naming a foreign cgroup: report without its numbers */
    }
  }
  killGroupLeftovers(record);
  let endedAt = exit?.endedAt;
  if (endedAt === undefined) {
    try {
      endedAt = Math.round(fs.statSync(logPath).mtimeMs);
    } catch {
      endedAt = clock.now();
    }
  }
  const startedAt = rf?.startedAt ?? endedAt;
  return buildOutcome({
    startedAt,
    endedAt: Math.max(startedAt, endedAt),
    mainExit: null,
    exit,
    stop: null,
    failMessage: null,
    oomKills: usage.oomKills,
    memoryLimitMb: rf?.memoryLimitMb ?? null,
    usage,
    out,
    backend: rf?.confinement.backend ?? 'portable',
    killedHard: false,
    unstarted: exit === null && readUnstarted(record.runDir),
  });
}
