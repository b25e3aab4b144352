/**
 * The LoadBalancer: admission of runs into slots on this node.
 *
 * Where the seed is wrong, and what this does instead: usage is never a counter that drifts.
 * Each running run holds a reservation R (memory) and a CPU share; slot usage is the sum of
 * the live reservations, released exactly as reserved; the table smart_cron_execution_slots
 * is rewritten from those sums, and a restart rebuilds them from the runs still running.
 * Admission also asks the host: MemAvailable minus the part of running reservations not yet
 * used, minus R, must stay above the host reserve; memory pressure (PSI) can veto.
 */
import { iso, type Clock } from '../clock.js';
import type { SlotBudget } from '../config/schema.js';
import type { SlotUsage } from '../events.js';
import type { Database } from '../storage/database.js';
import type { Reservation } from './slots.js';

export interface HostProbe {
  /** MemAvailable in MB. */
  memAvailableMb(): number;
  /** Memory PSI "some avg10" in percent, or null where the kernel has no PSI. */
  memoryPressure(): number | null;
  /** MemTotal in MB: what the host could give with nothing else running (absent: not judged). */
  memTotalMb?(): number;
}

export interface LiveRun {
  runId: number;
  slot: string;
  reservation: Reservation;
  /** Current memory of the run in MB (sampled), for the unused part of its reservation. */
  usedMb(): number;
}

export type AdmitDecision =
  | { ok: true }
  /** anyRun: no run could start there now, whatever its size (a full job count, memory pressure). */
  | { ok: false; reason: string; blocks: 'slot' | 'host'; never?: boolean; anyRun?: boolean };

export interface LoadBalancerOptions {
  node: string;
  slots: Record<string, SlotBudget>;
  reserveMb: number;
  psiVeto: number;
  host: HostProbe;
  clock: Clock;
  database?: Database;
}

/** How a run too large for a host says so; the same words on every node (dispatcher.ts). */
export const NEEDS_MEMORY = (mb: number) => `needs ${Math.round(mb)} MB of memory`;

export class LoadBalancer {
  private readonly live = new Map<number, LiveRun>();

  constructor(private readonly o: LoadBalancerOptions) {}

  get slots(): Record<string, SlotBudget> {
    return this.o.slots;
  }

  hasSlot(slot: string): boolean {
    return Object.hasOwn(this.o.slots, slot);
  }

  usage(slot: string): { jobs: number; memoryMb: number; cpuPercent: number } {
    let jobs = 0;
    let memoryMb = 0;
    let cpuPercent = 0;
    for (const r of this.live.values()) {
      if (r.slot !== slot) continue;
      jobs++;
      memoryMb += r.reservation.memoryMb;
      cpuPercent += r.reservation.cpuPercent;
    }
    return { jobs, memoryMb, cpuPercent };
  }

  /** Can a run with this reservation start in this slot now? */
  canAdmit(slot: string, r: Reservation): AdmitDecision {
    const budget = this.o.slots[slot];
    if (!budget) {
      return { ok: false, reason: `slot "${slot}" is not configured (slots: ${Object.keys(this.o.slots).join(', ')})`, blocks: 'slot', never: true };
    }
    const u = this.usage(slot);
    const fmt = (n: number) => Math.round(n);
    if (u.jobs + 1 > budget.max_concurrent_jobs) {
      return { ok: false, reason: `slot ${slot} full: ${u.jobs}/${budget.max_concurrent_jobs} jobs running`, blocks: 'slot', anyRun: true };
    }
    // A run larger than its whole slot may still run, but only alone there; otherwise it would never start.
    const oversized = r.memoryMb > budget.max_memory_mb;
    if (oversized ? u.jobs > 0 : u.memoryMb + r.memoryMb > budget.max_memory_mb) {
      return {
        ok: false,
        reason: oversized
          ? `needs ${fmt(r.memoryMb)} MB, more than slot ${slot}'s ${fmt(budget.max_memory_mb)} MB budget: waits to run alone there`
          : `slot ${slot} memory: ${fmt(u.memoryMb)} MB reserved + ${fmt(r.memoryMb)} MB > ${fmt(budget.max_memory_mb)} MB budget`,
        blocks: 'slot',
      };
    }
    const cpuNeed = Math.min(r.cpuPercent, budget.max_cpu_percent);
    if (u.jobs > 0 && u.cpuPercent + cpuNeed > budget.max_cpu_percent) {
      return { ok: false, reason: `slot ${slot} CPU: ${fmt(u.cpuPercent)} % + ${fmt(cpuNeed)} % > ${fmt(budget.max_cpu_percent)} %`, blocks: 'slot' };
    }
    return this.hostCheck(r);
  }

  /**
   * The host check: MemAvailable - unused part of running reservations - R >= reserve; PSI veto.
   * A reservation larger than the host's RAM minus the reserve can never pass: it is `never`, so
   * that it is not left at the head of the queue holding back every run on the node for good.
   */
  hostCheck(r: Reservation): AdmitDecision {
    const total = this.o.host.memTotalMb?.();
    if (total !== undefined && r.memoryMb > total - this.o.reserveMb) {
      const most = Math.max(0, Math.round(total - this.o.reserveMb));
      return {
        ok: false,
        reason: `${NEEDS_MEMORY(r.memoryMb)} (more than node "${this.o.node}" can ever give: ${Math.round(total)} MB of RAM - ${Math.round(this.o.reserveMb)} MB host reserve = ${most} MB)`,
        blocks: 'host',
        never: true,
      };
    }
    const psi = this.o.host.memoryPressure();
    if (this.o.psiVeto > 0 && psi !== null && psi > this.o.psiVeto) {
      return { ok: false, reason: `host memory pressure ${psi.toFixed(1)} % > ${this.o.psiVeto} %`, blocks: 'host', anyRun: true };
    }
    const available = this.o.host.memAvailableMb();
    let promised = 0;
    for (const run of this.live.values()) promised += Math.max(0, run.reservation.memoryMb - run.usedMb());
    const left = available - promised - r.memoryMb;
    if (left < this.o.reserveMb) {
      return {
        ok: false,
        reason: `host memory: ${Math.round(available)} MB available - ${Math.round(promised)} MB promised to running jobs - ${Math.round(r.memoryMb)} MB = ${Math.round(left)} MB < ${Math.round(this.o.reserveMb)} MB reserve`,
        blocks: 'host',
      };
    }
    return { ok: true };
  }

  acquire(run: LiveRun): void {
    this.live.set(run.runId, run);
  }

  /** Give back exactly what the run reserved. */
  release(runId: number): void {
    this.live.delete(runId);
  }

  get running(): number {
    return this.live.size;
  }

  snapshot(queuedBySlot: Map<string, number> = new Map()): SlotUsage[] {
    return Object.entries(this.o.slots).map(([slot, b]) => {
      const u = this.usage(slot);
      return {
        node: this.o.node,
        slot,
        max_concurrent_jobs: b.max_concurrent_jobs,
        max_memory_mb: b.max_memory_mb,
        max_cpu_percent: b.max_cpu_percent,
        current_running_jobs: u.jobs,
        current_memory_mb: u.memoryMb,
        current_cpu_percent: u.cpuPercent,
        queued: queuedBySlot.get(slot) ?? 0,
      };
    });
  }

  private persisting: Promise<void> = Promise.resolve();
  /** A write queued behind the one in progress, not started yet: later callers share it. */
  private queuedWrite: Promise<void> | null = null;

  /**
   * Rewrite this node's rows of smart_cron_execution_slots from the live reservations (one write
   * at a time). Resolves after a write that began after the call; calls made while a write waits
   * to begin share it, since it reads the reservations when it begins (a burst of admissions and
   * ends costs two writes, not one per change).
   */
  persist(): Promise<void> {
    if (this.queuedWrite) return this.queuedWrite;
    const next = this.persisting
      .catch(() => {})
      .then(() => {
        this.queuedWrite = null;
        return this.write();
      });
    this.queuedWrite = next;
    this.persisting = next;
    return next;
  }

  /** What the last write stored per slot (its fields but updated_at), and the slot set it cleaned up for. */
  private written = new Map<string, string>();
  private writtenSlots: string | null = null;

  /** Only rows whose usage changed since the last write are written (a burst changes one slot). */
  private async write(): Promise<void> {
    const database = this.o.database;
    if (!database) return;
    const now = iso(this.o.clock.now());
    const rows = this.snapshot().map((s) => ({
      node: s.node,
      slot: s.slot,
      max_concurrent_jobs: s.max_concurrent_jobs,
      max_memory_mb: s.max_memory_mb,
      max_cpu_percent: s.max_cpu_percent,
      current_running_jobs: s.current_running_jobs,
      current_memory_mb: s.current_memory_mb,
      current_cpu_percent: s.current_cpu_percent,
    }));
    const slots = rows.map((r) => r.slot).join('\n');
    const stored = new Map(rows.map((r) => [r.slot, JSON.stringify(r)]));
    const changed = rows.filter((r) => this.written.get(r.slot) !== stored.get(r.slot));
    if (changed.length === 0 && slots === this.writtenSlots) return;
    await database.db.transaction().execute(async (trx) => {
      // Rows of slots no longer configured: once per configuration.
      if (slots !== this.writtenSlots) {
        await trx
          .deleteFrom('smart_cron_execution_slots')
          .where('node', '=', this.o.node)
          .where('slot', 'not in', rows.map((r) => r.slot))
          .execute();
      }
      for (const r of slots !== this.writtenSlots ? rows : changed) {
        const row = { ...r, updated_at: now };
        const { node: _n, slot: _s, ...update } = row;
        await trx
          .insertInto('smart_cron_execution_slots')
          .values(row)
          .onConflict((oc) => oc.columns(['node', 'slot']).doUpdateSet(update))
          .execute();
      }
    });
    this.writtenSlots = slots;
    this.written = stored;
  }
}
