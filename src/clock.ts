/**
 * Time, injected. Everything that reads the time or waits takes a Clock, so the
 * scheduler and the job manager can be tested in virtual time, never by sleeping.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Run fn after ms milliseconds (of this clock's time). */
  setTimer(ms: number, fn: () => void): TimerHandle;
}

/** The longest delay Node's timers hold (2^31-1 ms, 24.8 days): past it one fires at once, with a TimeoutOverflowWarning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    // A longer wait is slept in pieces, each re-armed for what is left until the real due time,
    // so however long (or non-finite) the delay, it never fires early.
    const due = Date.now() + Math.max(0, ms);
    let t: NodeJS.Timeout;
    const arm = (left: number) => {
      t = setTimeout(() => {
        const rest = due - Date.now();
        if (rest > 0 && left > MAX_TIMER_MS) arm(rest);
        else fn();
      }, Math.min(Math.max(0, left), MAX_TIMER_MS));
    };
    arm(Number.isNaN(ms) ? 0 : Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

/** ISO-8601 UTC with milliseconds: the fixed-width text form every timestamp is stored in. */
export function iso(ms: number | Date): string {
  return new Date(typeof ms === 'number' ? ms : ms.getTime()).toISOString();
}

export function parseIso(s: string): number {
  return Date.parse(s);
}

interface VirtualTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. advance() fires due timers in time order,
 * letting promise callbacks settle between them so async code behaves as it would
 * in real time.
 */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: VirtualTimer[] = [];

  constructor(start: number | string | Date = Date.UTC(2026, 0, 1)) {
    this.t = typeof start === 'number' ? start : new Date(start).getTime();
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: VirtualTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Pending (not cancelled) timers. */
  get pending(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }

  /** Move time forward by ms, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      this.timers = this.timers.filter((x) => !x.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
    await settle();
  }

  /** Jump the wall clock (as an NTP step would) without firing timers. */
  jump(ms: number): void {
    this.t += ms;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}
