import { megabytes, percent } from '../format';
import type { SlotUsage } from '../types';
import { Bar } from './ui';

export function SlotCard({ slot }: { slot: SlotUsage }) {
  const id = `${slot.node}/${slot.slot}`;
  return (
    <article class="card slot" data-testid="slot-card" data-slot={slot.slot} aria-label={`slot ${id}`}>
      <header class="slot-head">
        <h3>{slot.slot}</h3>
        <span class="muted">{slot.node}</span>
        {slot.queued > 0 && (
          <span class="badge tone-warn" data-testid="slot-queued">
            {slot.queued} queued
          </span>
        )}
      </header>
      <Bar label="Jobs" value={slot.current_running_jobs} max={slot.max_concurrent_jobs} format={(n) => String(n)} testid="slot-jobs" />
      <Bar label="Memory" value={slot.current_memory_mb} max={slot.max_memory_mb} format={megabytes} testid="slot-memory" />
      <Bar label="CPU" value={slot.current_cpu_percent} max={slot.max_cpu_percent} format={percent} testid="slot-cpu" />
    </article>
  );
}

/** Replace the slot rows a `slots` event carries (it may cover one node only). */
export function mergeSlots(old: SlotUsage[], incoming: SlotUsage[]): SlotUsage[] {
  const key = (s: SlotUsage) => `${s.node}\u0000${s.slot}`;
  const byKey = new Map(old.map((s) => [key(s), s]));
  for (const s of incoming) byKey.set(key(s), s);
  return [...byKey.values()].sort((a, b) => a.node.localeCompare(b.node) || a.slot.localeCompare(b.slot));
}
