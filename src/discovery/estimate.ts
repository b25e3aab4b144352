/**
 * A first guess at what a job costs, before it has ever run: memory, timeout and the
 * cpu/memory weights that pick its slot. Measured baselines replace these later (the
 * execution layer's business); until then a generous guess keeps the host safe, because
 * admission reserves the estimate.
 *
 * The seed's example: queue/bin/process_queue.php (queue processing, a small PHP file)
 * gives 512 MB and 5 minutes.
 */
import type { ScriptType } from '../storage/schema.js';
import type { Category } from './classify.js';
import { words } from './classify.js';

export interface CostBase {
  memory_mb: number;
  timeout_seconds: number;
  cpu_weight: number;
}

/** What a job of each category typically costs: imports, reports and backups are the heavy ones. */
export const CATEGORY_COST: Record<Category, CostBase> = {
  backup: { memory_mb: 1024, timeout_seconds: 3600, cpu_weight: 1.5 },
  import_export: { memory_mb: 1024, timeout_seconds: 1800, cpu_weight: 1.5 },
  reporting: { memory_mb: 768, timeout_seconds: 1800, cpu_weight: 1.5 },
  business: { memory_mb: 512, timeout_seconds: 300, cpu_weight: 1.0 },
  sync: { memory_mb: 256, timeout_seconds: 900, cpu_weight: 1.0 },
  maintenance: { memory_mb: 256, timeout_seconds: 1800, cpu_weight: 1.0 },
  cleanup: { memory_mb: 128, timeout_seconds: 600, cpu_weight: 0.5 },
  notification: { memory_mb: 128, timeout_seconds: 300, cpu_weight: 0.3 },
  monitoring: { memory_mb: 64, timeout_seconds: 60, cpu_weight: 0.2 },
  other: { memory_mb: 256, timeout_seconds: 600, cpu_weight: 1.0 },
};

/**
 * Interpreted runtimes carry their own heap; a shell script's cost is mostly in the programs
 * it calls, which the category already accounts for, so it counts half.
 */
export const TYPE_MEMORY_FACTOR: Record<ScriptType, number> = {
  php: 1,
  python: 1,
  node: 1,
  bash: 0.5,
  executable: 1,
};
/** No runtime starts in less than this. */
export const TYPE_MIN_MEMORY: Record<ScriptType, number> = { php: 64, python: 64, node: 96, bash: 16, executable: 32 };

/** Words that say the job handles everything at once. */
export const HEAVY_WORDS = ['full', 'all', 'bulk', 'batch', 'rebuild', 'reindex', 'migrate', 'nightly', 'archive', 'dump'];

/** Memory that makes a weight of 1.0: the default slot's typical job. */
const MB_PER_WEIGHT = 512;

export interface Estimate {
  estimated_memory_mb: number;
  timeout_seconds: number;
  cpu_weight: number;
  memory_weight: number;
  reason: string;
}

export function estimateCost(input: {
  category: string;
  type: ScriptType | null;
  sizeBytes?: number;
  texts: (string | null | undefined)[];
}): Estimate {
  const base = CATEGORY_COST[input.category as Category] ?? CATEGORY_COST.other;
  const why: string[] = [`${input.category} baseline ${base.memory_mb} MB/${base.timeout_seconds}s`];
  let mem = base.memory_mb;
  let timeout = base.timeout_seconds;
  let cpu = base.cpu_weight;
  if (input.type) {
    const f = TYPE_MEMORY_FACTOR[input.type];
    if (f !== 1) {
      mem *= f;
      why.push(`${input.type} x${f}`);
    }
  }
  const size = input.sizeBytes ?? 0;
  // Big scripts do more: a 100 KB script is rarely a one-liner's cost.
  const sizeFactor = size > 100 * 1024 ? 2 : size > 20 * 1024 ? 1.5 : 1;
  if (sizeFactor !== 1) {
    mem *= sizeFactor;
    timeout *= sizeFactor;
    why.push(`size ${Math.round(size / 1024)} KB x${sizeFactor}`);
  }
  const ws = input.texts.flatMap((t) => words(t));
  const heavy = HEAVY_WORDS.find((w) => ws.includes(w));
  if (heavy) {
    mem *= 1.5;
    timeout *= 2;
    cpu *= 1.5;
    why.push(`"${heavy}" x1.5`);
  }
  if (input.type) mem = Math.max(mem, TYPE_MIN_MEMORY[input.type]);
  mem = Math.round(mem / 16) * 16 || 16;
  timeout = Math.min(Math.round(timeout), 24 * 3600);
  return {
    estimated_memory_mb: mem,
    timeout_seconds: timeout,
    cpu_weight: round1(Math.min(cpu, 4)),
    memory_weight: round1(Math.min(Math.max(mem / MB_PER_WEIGHT, 0.1), 8)),
    reason: why.join(', '),
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
