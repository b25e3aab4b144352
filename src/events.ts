/**
 * The daemon's live events, for the API's server-sent events and the dashboard. The daemon
 * creates one bus and passes it to whoever publishes (dispatcher, alerts) or listens (API).
 */
import { EventEmitter } from 'node:events';
import type { AlertRow, RunRow } from './storage/schema.js';

export interface SlotUsage {
  node: string;
  slot: string;
  max_concurrent_jobs: number;
  max_memory_mb: number;
  max_cpu_percent: number;
  current_running_jobs: number;
  current_memory_mb: number;
  current_cpu_percent: number;
  /** Runs waiting for this slot on this node. */
  queued: number;
}

export interface BusEvents {
  'run.queued': [RunRow];
  'run.started': [RunRow];
  /** A request to stop a running run (cancel_requested set); it ends later as run.finished. */
  'run.cancelling': [RunRow];
  'run.finished': [RunRow];
  'alert.raised': [AlertRow];
  'alert.resolved': [AlertRow];
  'slots': [SlotUsage[]];
  'job.changed': [{ id: number; change: string }];
  /**
   * One of the events above that happened on another node (daemon/relay.ts), for the API's
   * event stream only: counting (metrics) and acting (the dispatcher) stay with local events.
   */
  cluster: [RelayedEvent];
}

/** The events about a run, and about an alert (each carries the row). */
export const RUN_EVENTS = ['run.queued', 'run.started', 'run.cancelling', 'run.finished'] as const;
export const ALERT_EVENTS = ['alert.raised', 'alert.resolved'] as const;

/** The events another node's dashboards hear of, with what they carry. */
export type RelayedEvent =
  | { event: (typeof RUN_EVENTS)[number]; data: RunRow }
  | { event: (typeof ALERT_EVENTS)[number]; data: AlertRow }
  | { event: 'job.changed'; data: { id: number; change: string } };

export class EventBus extends EventEmitter<BusEvents> {
  constructor() {
    super();
    // One SSE client per dashboard tab: many listeners are normal.
    this.setMaxListeners(1000);
  }
}
