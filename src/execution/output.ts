/**
 * Following a run's log file. The job writes its stdout+stderr straight into the file
 * (O_APPEND), so its output survives a daemon restart and a flooding job is never blocked
 * on a pipe the daemon reads too slowly. The daemon never reads the whole stream: the byte
 * count is the file size (plus what was cut away before), the head is read once, and the
 * tail is read from the end of the file when needed. Memory stays at head + tail bytes.
 *
 * The cap: when the file passes logMaxBytes the daemon keeps its last tail bytes in memory
 * and truncates the file to zero; O_APPEND writers simply continue at the new end. At the end
 * the file is rewritten as head + "[... N bytes omitted ...]" + the most recent output.
 * Bytes a job appends in the few microseconds between the last size check and the truncate
 * are lost (from the file and the count); that is the price of a cap on a file the job owns.
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
}

export function omittedMarker(n: number): string {
  return `\n[... ${n} bytes omitted ...]\n`;
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
    if (size > this.limits.logMaxBytes) this.cut(size);
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
        // A full disk: the log keeps its last part only; the run's result is not lost for it.
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

  private cut(size: number): void {
    const fd = this.fd!;
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
    const marker = Buffer.from(omittedMarker(total - this.head.length));
    const room = Math.max(0, this.limits.logMaxBytes - this.head.length - marker.length);
    const tail = recent(Math.min(room, total - this.head.length));
    const omitted = total - this.head.length - tail.length;
    const tmp = `${this.logPath}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([this.head, Buffer.from(omittedMarker(omitted)), tail]));
    fs.renameSync(tmp, this.logPath);
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

  private statePath(): string {
    return path.join(path.dirname(this.logPath), 'output.state');
  }

  private saveState(): void {
    const dir = path.dirname(this.logPath);
    if (this.base > 0 && !fs.existsSync(path.join(dir, 'output.head'))) {
      fs.writeFileSync(path.join(dir, 'output.head'), this.head);
    }
    const s: SavedState = { base: this.base };
    fs.writeFileSync(this.statePath(), JSON.stringify(s));
  }

  private loadState(): void {
    const dir = path.dirname(this.logPath);
    try {
      const s = JSON.parse(fs.readFileSync(this.statePath(), 'utf8')) as SavedState;
      this.base = s.base;
      this.head = fs.readFileSync(path.join(dir, 'output.head')).subarray(0, this.headMax);
    } catch {
      /* never cut: the file still holds everything */
    }
  }
}
