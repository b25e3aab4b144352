/**
 * What registering a definition would change, without writing: the same rules as
 * JobManager.registerJob (a non-user registration never touches `enabled` or a field the
 * user overrode), so --dry-run tells the truth and unchanged jobs are not rewritten.
 */
import type { JobPatch } from '../jobs/definition.js';
import { jobOverrides, type Job } from '../jobs/job.js';
import { toRowValues } from '../jobs/values.js';

export type Change = 'new' | 'updated' | 'unchanged';

export function previewChange(existing: Job, def: JobPatch & { name?: string }, byUser = false): { change: Change; changed: string[] } {
  const p: Record<string, unknown> = { ...def };
  delete p.name;
  if (!byUser) {
    delete p.enabled;
    for (const f of jobOverrides(existing)) delete p[f];
  }
  const values = toRowValues(p as JobPatch);
  const changed: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    if ((existing as unknown as Record<string, unknown>)[k] !== v) changed.push(k);
  }
  if (Array.isArray(p.tags)) {
    const want = JSON.stringify([...new Set(p.tags as string[])].sort());
    if (want !== JSON.stringify([...existing.tags].sort())) changed.push('tags');
  }
  return { change: changed.length ? 'updated' : 'unchanged', changed };
}
