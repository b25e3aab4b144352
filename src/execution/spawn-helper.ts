/**
 * The spawn helper: a small long-lived Perl process that forks every run's shim, so the daemon
 * never forks itself per run.
 *
 * Why: fork() copies the page tables of the forking process, and on a VM that costs about
 * 0.1 ms per MB of it; a daemon of 80-180 MB paid 5-10 ms of its one event-loop thread for every
 * run, the largest single cost of dispatch (docs/benchmarks.md). Perl (perl-base, Essential on
 * Debian and present on nearly every Unix) is ~7 MB, starts in ~10 ms, and its fork(), setsid(),
 * dup2() and exec are the system calls themselves. The helper also writes the new process's pid
 * into its cgroups (the placement, three writes under cgroup v1) before the shim may start, which
 * takes that work off the daemon's thread too, as does making the run's directory and its log
 * (0.3-0.4 ms each of blocking on ext4 under load). No Node API spawns without forking the caller
 * (libuv forks), and a native addon would need a compiler at install; hence this.
 *
 * When Perl (with POSIX) is missing the Runner forks the shim itself, as before; `smart-cron
 * doctor` says which is in use. Semantics are the same either way: own session and process
 * group, stdin a pipe that carries the start handshake (shim.ts), stdout+stderr the run's log,
 * cwd, env, optional uid/gid, signal dispositions reset.
 *
 * Protocol (one line per message; every string field hex-encoded, so any byte is safe):
 *   daemon -> helper   S <id> <cwd> <log> <uid> <gid> <rundir> <runfile> <tokenprefix> <rest>
 *                        <nmkdir> <dir>... <nwrite> <file> <value>... <nplace> <place>...
 *                        <nset> <NAME=value>... <nunset> <NAME>... <argv>...
 *                      (rundir, when not empty: the run's directory, made here (a reused one
 *                      loses its stale exit status) with the log created empty in it, before
 *                      anything else; runfile, when not empty: run.json, written once the shim
 *                      is placed, as {"pid":<pid>,"pidStart":"<tokenprefix><start time>" + rest
 *                      (rest: the other fields and the closing brace); mkdir and write: the
 *                      confinement plan, undone when anything fails; set/unset: the environment
 *                      as changes to the helper's own)
 *                      G <id> <text>     write text to the shim's stdin and close it (the "go")
 *                      C <id>            close the shim's stdin unwritten (it exits unstarted)
 *   helper -> daemon   P <id> <pid> <start>      forked, placed (and run.json written); start: the
 *                                                process's start time (/proc/<pid>/stat field 22),
 *                                                - when unreadable
 *                      E <id> <pid> <message> <stage>
 *                                                failed; pid 0: no shim (stage confine: the plan
 *                                                failed and was undone; spawn: the run directory,
 *                                                pipe or fork), else the process exists, unplaced
 *                                                (stage place) or without its run.json (stage
 *                                                runfile), and exits 125 unstarted
 *                      (P and E of a forked process are written by that process, one write each)
 *                      X <id> <pid> <status>     a shim ended (raw wait status)
 * The helper itself only forks: the new process makes its run directory and confinement, places
 * itself, writes run.json and reports, then becomes the shim. On this VM that work took 2 ms a run
 * under load (new files on ext4, moving a task into a memory cgroup), so done in the helper it
 * queued every start behind the ones before it.
 * The helper exits when its stdin closes (the daemon is gone); the shims it forked live on,
 * like shims of a daemon killed -9, for the next daemon to adopt.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';

const HELPER = String.raw`
use strict; use warnings; use POSIX (); use Fcntl qw(O_WRONLY O_APPEND O_CREAT O_TRUNC);
$0 = 'smart-cron: spawn helper';
my (%stdin_of, %id_of); my $buf = '';
$SIG{CHLD} = sub {}; $SIG{PIPE} = 'IGNORE';
sub out { my $l = "$_[0]\n"; while (length $l) { my $n = syswrite(STDOUT, $l); if (!defined $n) { next if $!{EINTR}; POSIX::_exit(0) } substr($l, 0, $n, '') } }
sub hx { unpack('H*', $_[0]) }
sub reap { while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) { my $st = $?; my $id = delete $id_of{$pid} // 0; close(delete $stdin_of{$id}) if $stdin_of{$id}; out("X $id $pid $st") } }
sub undo { rmdir $_ for reverse @_ }
sub child {
  my ($r, $cwd, $log, $uid, $gid, $set, $unset, $argv) = @_;
  my $fail = sub { syswrite(STDERR, "smart-cron: $_[0]\n"); POSIX::_exit(127) };
  POSIX::setsid();
  POSIX::dup2(fileno($r), 0) // $fail->("stdin: $!");
  sysopen(my $lf, $log, O_WRONLY | O_APPEND) or $fail->("cannot open the run's log $log: $!");
  POSIX::dup2(fileno($lf), 1); POSIX::dup2(fileno($lf), 2);
  if (length $gid) { $) = "$gid $gid"; POSIX::setgid($gid) or $fail->("setgid $gid: $!") }
  if (length $uid) { POSIX::setuid($uid) or $fail->("setuid $uid: $!"); $fail->("still uid $<") if $< != $uid || $> != $uid }
  chdir($cwd) or $fail->("working directory $cwd: $!");
  delete $ENV{$_} for @$unset;
  for (@$set) { my $i = index($_, '='); $ENV{substr($_, 0, $i)} = substr($_, $i + 1) if $i > 0 }
  { no warnings 'exec'; exec { $argv->[0] } @$argv }
  $fail->("cannot start $argv->[0]: $!");
}
sub prepare {
  my ($dir, $log) = @_;
  my $made = mkdir $dir;
  # A new home: runs/ itself is made first.
  if (!$made && $!{ENOENT}) { my ($up) = $dir =~ m{^(.*)/[^/]+$}; mkdir $up if defined $up && length $up; $made = mkdir $dir }
  if (!$made) {
    return "cannot create the run directory $dir ($!)" unless $!{EEXIST};
    unlink "$dir/exit", "$dir/status/exit"; rmdir "$dir/status"; # a reused one: no stale exit status
  }
  sysopen(my $lf, $log, O_WRONLY | O_CREAT | O_TRUNC, 0640) or return "cannot create the run's log $log ($!)";
  close $lf; return undef;
}
sub start_time {
  open(my $sf, '<', "/proc/$_[0]/stat") or return undef;
  my $s = <$sf> // ''; close $sf;
  my $i = rindex($s, ')'); return undef if $i < 0;
  my @f = split / /, substr($s, $i + 2); return $f[19];
}
sub write_runfile {
  my ($file, $text) = @_;
  my $fh; my $ok = sysopen($fh, $file, O_WRONLY | O_CREAT | O_TRUNC, 0666) && (syswrite($fh, $text) // -1) == length $text;
  my $e = $ok ? '' : do { my ($name) = grep { $!{$_} } keys %!; $name ? "$name ($!)" : "$!" };
  $ok = close($fh) && $ok if $fh;
  return $ok ? undef : ($e || 'short write');
}
sub handle {
  my ($op, $id, @f) = split / /, $_[0], -1;
  return unless defined $id;
  if ($op eq 'G' || $op eq 'C') {
    my $w = delete $stdin_of{$id} or return;
    syswrite($w, pack('H*', $f[0] // '')) if $op eq 'G';
    close $w; return;
  }
  return unless $op eq 'S';
  my @d = map { pack('H*', $_) } @f;
  my ($cwd, $log, $uid, $gid, $rundir, $runfile, $prefix, $rest, $nm) = splice(@d, 0, 9);
  my @mkdir = splice(@d, 0, $nm);
  my $nw = shift @d; my @write = splice(@d, 0, 2 * $nw);
  my $np = shift @d; my @place = splice(@d, 0, $np);
  my $ns = shift @d; my @set = splice(@d, 0, $ns);
  my $nu = shift @d; my @unset = splice(@d, 0, $nu);
  my @argv = @d;
  pipe(my $r, my $w) or return out("E $id 0 " . hx("pipe: $!") . " spawn");
  my $pid = fork();
  if (!defined $pid) { my $e = "$!"; close $r; close $w; return out("E $id 0 " . hx("fork: $e") . " spawn") }
  if ($pid == 0) {
    # The other shims' stdin ends stay with the helper: held here too, a stuck start would keep them
    # from seeing their own end (an unstarted run would never exit).
    close $w; close $_ for values %stdin_of; $SIG{$_} = 'DEFAULT' for qw(CHLD PIPE);
    # The rest is done by the new process, so a slow disk or cgroup write delays only its own run.
    my $pid = $$;
    my $fail = sub { out("E $id $_[2] " . hx(substr($_[0], 0, 1000)) . " $_[1]"); POSIX::_exit($_[2] ? 125 : 127) };
    if (length $rundir) { my $e = prepare($rundir, $log); $fail->($e, 'spawn', 0) if defined $e }
    my @made;
    for my $dir (@mkdir) {
      if (!mkdir $dir) { my $e = "$!"; undo(@made); $fail->("cannot create cgroup $dir ($e)", 'confine', 0) }
      push @made, $dir;
    }
    while (my ($f, $v) = splice(@write, 0, 2)) {
      my $fh; my $ok = sysopen($fh, $f, O_WRONLY) && defined syswrite($fh, $v);
      my $e = "$!"; close $fh if $fh;
      if (!$ok) { undo(@made); $fail->("cannot write '$v' to $f ($e)", 'confine', 0) }
    }
    for my $f (@place) {
      my $fh; my $ok = sysopen($fh, $f, O_WRONLY) && defined syswrite($fh, "$pid");
      my $e = "$!"; close $fh if $fh;
      $fail->("$f: $e", 'place', $pid) if !$ok;
    }
    my $st = start_time($pid);
    if (length $runfile) {
      my $e = write_runfile($runfile, "{\"pid\":$pid,\"pidStart\":" . (defined $st ? "\"$prefix$st\"" : 'null') . $rest);
      $fail->($e, 'runfile', $pid) if defined $e;
    }
    out("P $id $pid " . ($st // '-'));
    child($r, $cwd, $log, $uid, $gid, \@set, \@unset, \@argv);
  }
  close $r;
  $id_of{$pid} = $id;
  $stdin_of{$id} = $w;
}
while (1) {
  reap();
  my $rin = ''; vec($rin, 0, 1) = 1;
  # SIGCHLD ends the wait (EINTR); the timeout covers one arriving just before it began.
  my $n = select(my $rout = $rin, undef, undef, %id_of ? 0.05 : undef);
  next unless $n && $n > 0;
  my $got = sysread(STDIN, $buf, 65536, length $buf);
  if (!defined $got) { next if $!{EINTR}; POSIX::_exit(1) }
  POSIX::_exit(0) if $got == 0;
  while ((my $i = index($buf, "\n")) >= 0) { my $line = substr($buf, 0, $i + 1, ''); chomp $line; handle($line) }
}
`;

export interface HelperSpawnRequest {
  cwd: string;
  logPath: string;
  env: Record<string, string>;
  /** argv[0] is a path (the shim: /bin/sh). */
  argv: string[];
  /** Directories to create and files to write first (a backend's ConfinePlan); undone on failure. */
  mkdirs?: readonly string[];
  writes?: readonly (readonly [string, string])[];
  /** Make this run directory (and the log in it, empty) before anything else; see the protocol. */
  runDir?: string;
  /**
   * Write run.json once the shim is placed and before it may start: `fields` (JSON-safe) with
   * the new process's pid and its start token (tokenPrefix + its start time) in front.
   */
  runFile?: { path: string; tokenPrefix: string; fields: object };
  /** Files the new pid is written into before the shim may start (cgroup.procs). */
  placeFiles: readonly string[];
  ids?: { uid: number; gid: number } | undefined;
}

/** A spawn the helper refused: stage 'confine' (the confinement plan, undone) or 'spawn' (pipe, fork). */
export class HelperSpawnError extends Error {
  constructor(
    message: string,
    readonly stage: 'confine' | 'spawn',
  ) {
    super(message);
  }
}

export interface HelperExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface HelperSpawned {
  pid: number;
  /** Its start time (/proc/<pid>/stat field 22, clock ticks since boot), null when unreadable. */
  startTime: string | null;
  /**
   * Why the process could not be placed (stage place) or its run.json not written (stage
   * runfile); its stdin is closed, it exits unstarted. Else null.
   */
  failed: { stage: 'place' | 'runfile'; message: string } | null;
  /** Write the start handshake to the shim's stdin and close it. */
  go(text: string): void;
  /** Close the shim's stdin without the handshake: it exits unstarted. */
  close(): void;
}

interface Pending {
  resolve(s: HelperSpawned): void;
  reject(e: Error): void;
  /** Called once: with the exit, or null when the helper died first (the pid must be watched). */
  onExit(exit: HelperExit | null): void;
  spawned: boolean;
}

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(osConstants.signals).map(([k, v]) => [v, k as NodeJS.Signals]));

let perlChecked: boolean | null = null;

/** Whether `perl` with its POSIX module runs here (checked once per process). */
export function perlAvailable(): boolean {
  if (perlChecked === null) {
    try {
      perlChecked = spawnSync('perl', ['-MPOSIX', '-MFcntl', '-e', 'exit 0'], { stdio: 'ignore', timeout: 5000 }).status === 0;
    } catch {
      perlChecked = false;
    }
  }
  return perlChecked;
}

export class SpawnHelper {
  private proc: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buf = '';
  private disposed = false;
  /** The environment the helper was started with. */
  private baseEnv: Record<string, string> = {};

  /** A helper when Perl is here, else null (the Runner then forks the shims itself). */
  static create(): SpawnHelper | null {
    return perlAvailable() ? new SpawnHelper() : null;
  }

  /** The helper's pid while it runs (tests kill it to check recovery). */
  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  spawn(req: HelperSpawnRequest, onExit: (exit: HelperExit | null) => void): Promise<HelperSpawned> {
    if (this.disposed) return Promise.reject(new Error('the spawn helper was stopped'));
    const proc = this.ensure();
    const id = this.nextId++;
    // The environment as changes to the helper's own (it started with ours): a few bytes a run.
    const base = this.baseEnv;
    const set = Object.entries(req.env)
      .filter(([k, v]) => base[k] !== v)
      .map(([k, v]) => `${k}=${v}`);
    const unset = Object.keys(base).filter((k) => !(k in req.env));
    const ids = req.ids;
    const rf = req.runFile;
    if (rf && !/^[\w.-]*:$/.test(rf.tokenPrefix)) return Promise.reject(new Error(`bad start token prefix ${JSON.stringify(rf.tokenPrefix)}`));
    // What follows the helper's {"pid":N,"pidStart":T in run.json.
    const body = rf ? JSON.stringify(rf.fields) : '';
    const rest = !rf ? '' : body === '{}' ? '}' : `,${body.slice(1)}`;
    const mkdirs = req.mkdirs ?? [];
    const writes = req.writes ?? [];
    const fields = [
      req.cwd,
      req.logPath,
      ids ? String(ids.uid) : '',
      ids ? String(ids.gid) : '',
      req.runDir ?? '',
      rf?.path ?? '',
      rf?.tokenPrefix ?? '',
      rest,
      String(mkdirs.length),
      ...mkdirs,
      String(writes.length),
      ...writes.flat(),
      String(req.placeFiles.length),
      ...req.placeFiles,
      String(set.length),
      ...set,
      String(unset.length),
      ...unset,
      ...req.argv,
    ];
    return new Promise<HelperSpawned>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onExit, spawned: false });
      this.refresh();
      proc.stdin!.write(`S ${id} ${fields.map(hex).join(' ')}\n`);
    });
  }

  /** Stop the helper (its shims live on). */
  dispose(): void {
    this.disposed = true;
    const proc = this.proc;
    if (!proc) return;
    proc.stdin?.end();
    this.pending.clear();
    this.refresh();
  }

  private ensure(): ChildProcess {
    if (this.proc) return this.proc;
    // Its own process group: a Ctrl-C at the daemon's terminal does not reach it.
    this.baseEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) this.baseEnv[k] = v;
    const proc = spawn('perl', ['-e', HELPER], { stdio: ['pipe', 'pipe', 'inherit'], detached: true, env: this.baseEnv });
    this.proc = proc;
    this.buf = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      this.buf += chunk;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        this.onLine(line);
      }
    });
    proc.stdin!.on('error', () => {
      /* the helper died: 'exit' follows */
    });
    proc.on('error', (e) => this.lost(proc, e));
    proc.on('exit', (code, signal) => this.lost(proc, new Error(`the spawn helper exited (${signal ?? `code ${code}`})`)));
    return proc;
  }

  private onLine(line: string): void {
    const [op, idText, pidText, rest, stage] = line.split(' ');
    const id = Number(idText);
    const p = this.pending.get(id);
    const pid = Number(pidText);
    const text = (h: string | undefined) => Buffer.from(h ?? '', 'hex').toString('utf8');
    if (op === 'X') {
      if (!p) return;
      this.pending.delete(id);
      this.refresh();
      const status = Number(rest);
      const sig = status & 0x7f;
      // A process that fails its start exits at once, and its P/E and this X often come in one
      // read: its spawn promise's handlers (queued when it resolved) must run first, since they
      // set up the run that this end finishes. A microtask queued now runs after them.
      queueMicrotask(() => p.onExit(sig ? { code: null, signal: SIGNAL_NAMES.get(sig) ?? null } : { code: (status >> 8) & 0xff, signal: null }));
      return;
    }
    if (!p || p.spawned) return;
    if (op === 'P' || (op === 'E' && pid > 0)) {
      p.spawned = true;
      p.resolve({
        pid,
        startTime: op === 'P' && rest && rest !== '-' ? rest : null,
        failed: op === 'E' ? { stage: stage === 'runfile' ? 'runfile' : 'place', message: text(rest) } : null,
        go: (text) => this.proc?.stdin?.write(`G ${id} ${hex(text)}\n`),
        close: () => this.proc?.stdin?.write(`C ${id}\n`),
      });
    } else if (op === 'E') {
      this.pending.delete(id);
      this.refresh();
      p.reject(new HelperSpawnError(text(rest), stage === 'confine' ? 'confine' : 'spawn'));
    }
  }

  /** The helper is gone: spawns in flight fail; running shims must now be watched by pid. */
  private lost(proc: ChildProcess, e: Error): void {
    if (this.proc !== proc) return;
    this.proc = null;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      if (p.spawned) p.onExit(null);
      else p.reject(e);
    }
  }

  /** Keep the daemon's event loop alive only while runs are in flight through the helper. */
  private refresh(): void {
    const proc = this.proc;
    if (!proc) return;
    const busy = this.pending.size > 0 && !this.disposed;
    const streams = [proc.stdout, proc.stdin] as unknown as ({ ref?(): void; unref?(): void } | null)[];
    if (busy) {
      proc.ref();
      for (const s of streams) s?.ref?.();
    } else {
      proc.unref();
      for (const s of streams) s?.unref?.();
    }
  }
}
