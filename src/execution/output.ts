/**
 * Following a run's log file. The job writes its stdout+stderr straight into the file
 * (O_APPEND), so its output survives a daemon restart and a flooding job is never blocked
 * on a pipe the daemon reads too slowly. The daemon never reads the whole stream: the byte
 * count is the file size (plus what was cut away before), the head is read once, and the
 * tail is read from the end of the file when needed. Memory stays at head + tail bytes.
 *
 * The cap: when the file passes logMaxBytes the daemon keeps its last tail bytes in memory
 * and truncates the file to zero; O_APPEND writers simply continue at the new end. At the end
 * the file is rewritten as head + "[... N bytes omitted ...]" + the most recent output, the head
 * taking at most a quarter of the cap.
 * Bytes a job appends in the few microseconds between the last size check and the truncate
 * are lost (from the file and the count); that is the price of a cap on a file the job owns.
 *
 * Readers of the live log (`logs --follow`) count in the whole output, not the file: output.state
 * beside the log says how many bytes were cut away (output.head keeps the head that went with
 * them). It is replaced atomically, and marked busy before each cut and before the final rewrite,
 * so a reader that finds the same state text before and after reading knows no cut came between.
 * A rewritten log is a new file (renamed over the old one); its parts are found by the marker
 * whose count adds up to the byte count the run records (rewrittenParts).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface OutputLimits {
  /** Bytes of output kept for the history row, head and tail together. */
  tailBytes: number;
  /** Size cap of the log file. */
  logMaxBytes: number;
}

export interface OutputResult {
  outputTail: string;
  outputBytes: number;
  outputTruncated: boolean;
  logPath: string;
}

interface SavedState {
  base: number;
  /** A cut or the final rewrite is under way: the file is changing under a reader. */
  busy?: 'cut' | 'rewrite';
}

export function omittedMarker(n: number): string {
  return `\n[... ${n} bytes omitted ...]\n`;
}
const MARKER = /^\n\[\.\.\. (\d{1,16}) bytes omitted \.\.\.\]\n/;

/** The files beside a log that describe a cut: the state (bytes cut away) and the head cut with them. */
export function cutFiles(logPath: string): { state: string; head: string } {
  const dir = path.dirname(logPath);
  return { state: path.join(dir, 'output.state'), head: path.join(dir, 'output.head') };
}

/** What output.state's text (null: no such file, the log was never cut) tells a reader. */
export function parseCutState(text: string | null): { base: number; busy: boolean } {
  if (text === null) return { base: 0, busy: false };
  try {
    const s = JSON.parse(text) as SavedState;
    return { base: s.base, busy: s.busy !== undefined };
  } catch {
    return { base: 0, busy: true }; // not ours to read yet
  }
}

/**
 * The parts of a rewritten log (head + marker + the latest output) from its first bytes `start`,
 * its size and the run's byte count: the head's length, where the latest output begins in the
 * file (`body`) and in the whole output (`tailFrom`). The first marker whose count adds up (the
 * head may print marker-like lines itself); null when `start` holds none.
 */
export function rewrittenParts(start: Buffer, fileSize: number, total: number): { head: number; body: number; tailFrom: number } | null {
  const open = Buffer.from('\n[... ');
  for (let i = start.indexOf(open); i >= 0; i = start.indexOf(open, i + 1)) {
    const m = MARKER.exec(start.subarray(i, i + 64).toString('latin1'));
    if (!m) continue;
    const body = i + m[0].length;
    const tailFrom = i + Number(m[1]);
    if (body <= fileSize && tailFrom + (fileSize - body) === total) return { head: i, body, tailFrom };
  }
  return null;
}

/** Text safe for any database column: PostgreSQL text cannot hold NUL. */
function text(b: Buffer): string {
  return b.toString('utf8').replace(/\u0000/g, '\uFFFD');
}

export class OutputFollower {
  private fd: number | null;
  private readonly headMax: number;
  private readonly tailMax: number;
  private head: Buffer = Buffer.alloc(0);
  /** Most recent output that was cut from the file (at most tailMax bytes). */
  private cutTail: Buffer = Buffer.alloc(0);
  /** Bytes removed from the file by truncation. */
  private base = 0;
  private lastSize = 0;
  private lastPollAt = 0;
  private fast: NodeJS.Timeout | null = null;
  private watcher: fs.FSWatcher | null = null;
  private ticks = 0;
  private finished: OutputResult | null = null;
  private headSaved = false;

  /**
   * resume: a restarted daemon picks up a run's log; state files in the run directory say how
   * much was already cut away and hold the head that was cut.
   */
  constructor(
    readonly logPath: string,
    private readonly limits: OutputLimits,
    resume = false,
    /** The file position of the job's stdout (shared by all writers), from /proc/<pid>/fdinfo/1. */
    private readonly writerPos?: () => number | null,
  ) {
    this.headMax = Math.floor(limits.tailBytes / 4);
    this.tailMax = limits.tailBytes - this.headMax;
    this.fd = fs.openSync(logPath, 'r+');
    if (resume) this.loadState();
    // The shared sampler polls every <= 100 ms; a flood can write hundreds of MB in that time,
    // so the first write wakes us (inotify) and a growing file is polled again soon after.
    try {
      this.watcher = fs.watch(logPath, { persistent: false }, () => this.soon(2));
      this.watcher.on('error', () => this.unwatch());
    } catch {
      /* no inotify: the sampler's polls alone */
    }
  }

  private soon(ms: number): void {
    if (this.fast || this.fd === null) return;
    this.fast = setTimeout(() => {
      this.fast = null;
      try {
        this.poll();
      } catch {
        /* the run finished meanwhile */
      }
    }, ms);
    this.fast.unref();
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  get outputBytes(): number {
    return this.base + this.lastSize;
  }

  /**
   * The shared sampler's tick. With inotify a write already wakes a poll (soon()), so the tick
   * is only a backstop and polls every 5th time; without inotify it polls every time.
   */
  tick(): void {
    if (this.watcher && this.ticks++ % 5 !== 0) return;
    this.poll();
  }

  /** Cheap (one fstat); called by the shared sampler tick and again sooner while the log floods. */
  poll(): void {
    if (this.fd === null) return;
    const size = fs.fstatSync(this.fd).size;
    if (this.base === 0 && this.head.length < this.headMax && size > this.head.length) this.readHead(size);
    if (size > this.limits.logMaxBytes) this.cut();
    else this.lastSize = size;
    this.scheduleFastPoll();
  }

  /** Read what is left, build the history text, rewrite a cut log; idempotent. */
  finish(): OutputResult {
    if (this.finished) return this.finished;
    this.cancelFast();
    const fd = this.fd!;
    const size = fs.fstatSync(fd).size;
    if (this.base === 0 && this.head.length < this.headMax && size > this.head.length) this.readHead(size);
    const total = this.base + size;
    const keep = Math.min(total, this.headMax + this.tailMax);
    // The most recent `recentLen` bytes of the stream: the cut tail's end, then the file.
    const recent = (n: number): Buffer => {
      const fromFile = Math.min(n, size);
      const fileBytes = this.pread(size - fromFile, fromFile);
      const fromCut = Math.min(n - fromFile, this.cutTail.length);
      return Buffer.concat([this.cutTail.subarray(this.cutTail.length - fromCut), fileBytes]);
    };
    let outputTail: string;
    let truncated = false;
    if (total <= keep) {
      outputTail = text(this.base === 0 ? this.pread(0, size) : Buffer.concat([this.head, recent(total - this.head.length)]));
    } else {
      truncated = true;
      const omitted = total - this.headMax - this.tailMax;
      outputTail = text(this.head) + omittedMarker(omitted) + text(recent(this.tailMax));
    }
    if (total > this.limits.logMaxBytes) {
      try {
        this.rewriteLog(total, recent);
      } catch {
        // A full disk: the log keeps its last part only (its state files stay: they say what it
        // lacks); the run's result is not lost for it.
        try {
          fs.rmSync(`${this.logPath}.tmp`, { force: true });
        } catch {
          /* not ours to remove */
        }
      }
    }
    fs.closeSync(fd);
    this.fd = null;
    this.finished = { outputTail, outputBytes: total, outputTruncated: truncated, logPath: this.logPath };
    return this.finished;
  }

  /** Stop without producing a result (the run was abandoned to another daemon). */
  close(): void {
    this.cancelFast();
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private readHead(size: number): void {
    const want = Math.min(this.headMax, size);
    this.head = Buffer.concat([this.head, this.pread(this.head.length, want - this.head.length)]);
  }

  private cut(): void {
    const fd = this.fd!;
    // Readers hold off from here until the state counts the cut. Saved first: the size is taken
    // after it, so the bytes written meanwhile are in the tail kept, not lost with the truncate.
    this.saveState('cut');
    const size = fs.fstatSync(fd).size;
    const n = Math.min(this.tailMax, size);
    const last = this.pread(size - n, n);
    const keepOld = Math.min(this.tailMax - n, this.cutTail.length);
    this.cutTail = Buffer.concat([this.cutTail.subarray(this.cutTail.length - keepOld), last]);
    // fstat and truncate back to back: bytes appended between the two are lost.
    const before = fs.fstatSync(fd).size;
    fs.ftruncateSync(fd, 0);
    // The writers' shared file position still says where their last write ended when that
    // write came before the truncate (after it, the position is within the new, short file).
    const pos = this.writerPos?.() ?? null;
    const after = fs.fstatSync(fd).size;
    this.base += pos !== null && pos > after && pos >= before ? pos : before;
    this.lastSize = 0;
    this.saveState();
  }

  /** While the file grows fast, poll again just before it would reach the cap. */
  private scheduleFastPoll(): void {
    const now = Date.now();
    const size = this.lastSize;
    const dt = now - this.lastPollAt;
    const grew = this.base + size - this.prevTotal;
    this.prevTotal = this.base + size;
    this.lastPollAt = now;
    if (dt <= 0 || grew <= 0) return;
    const rate = grew / dt; // bytes per ms
    const eta = Math.max(0, this.limits.logMaxBytes * 0.9 - size) / rate;
    if (eta < 50) this.soon(Math.max(1, Math.floor(eta)));
  }
  private prevTotal = 0;

  private cancelFast(): void {
    if (this.fast) clearTimeout(this.fast);
    this.fast = null;
    this.unwatch();
  }

  private rewriteLog(total: number, recent: (n: number) => Buffer): void {
    // The head takes at most a quarter of the file: under a cap smaller than the history row's
    // head (output_tail_bytes / 4), the latest output, which says how the job ended, still fits.
    const head = this.head.subarray(0, Math.min(this.head.length, Math.floor(this.limits.logMaxBytes / 4)));
    const marker = Buffer.from(omittedMarker(total - head.length));
    const room = Math.max(0, this.limits.logMaxBytes - head.length - marker.length);
    const tail = recent(Math.min(room, total - head.length));
    const omitted = total - head.length - tail.length;
    const tmp = `${this.logPath}.tmp`;
    // The log's own mode (0640: the job's output is not for every local user); chmod, as the umask applies at creation.
    const mode = fs.fstatSync(this.fd!).mode & 0o7777;
    fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(omittedMarker(omitted)), tail]), { mode });
    fs.chmodSync(tmp, mode);
    this.saveState('rewrite');
    try {
      fs.renameSync(tmp, this.logPath);
    } catch (e) {
      this.saveState(); // the old file stays, as the state describes it
      throw e;
    }
    // The rewritten log holds its head itself; nothing was cut from it.
    const files = cutFiles(this.logPath);
    fs.rmSync(files.state, { force: true });
    fs.rmSync(files.head, { force: true });
  }

  private pread(pos: number, len: number): Buffer {
    if (len <= 0) return Buffer.alloc(0);
    const b = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(this.fd!, b, got, len - got, pos + got);
      if (n <= 0) break;
      got += n;
    }
    return b.subarray(0, got);
  }

  /** Replaced whole (write, rename): a reader sees the old state or the new one, never half. */
  private saveState(busy?: SavedState['busy']): void {
    const files = cutFiles(this.logPath);
    // Before the first state that counts a cut: a reader of that state finds the head with it.
    if (!this.headSaved) {
      // Job output, as private as the log itself.
      fs.writeFileSync(files.head, this.head, { mode: fs.fstatSync(this.fd!).mode & 0o777 });
      this.headSaved = true;
    }
    const s: SavedState = busy ? { base: this.base, busy } : { base: this.base };
    fs.writeFileSync(`${files.state}.tmp`, JSON.stringify(s));
    fs.renameSync(`${files.state}.tmp`, files.state);
  }

  private loadState(): void {
    const files = cutFiles(this.logPath);
    try {
      const s = JSON.parse(fs.readFileSync(files.state, 'utf8')) as SavedState;
      this.base = s.base;
      this.head = fs.readFileSync(files.head).subarray(0, this.headMax);
      this.headSaved = true;
      // A daemon stopped in the middle of a cut: readers waiting for it to end may go on.
      if (s.busy) this.saveState();
    } catch {
      /* never cut: the file still holds everything */
    }
  }
}
