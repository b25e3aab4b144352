import type { JobPatch } from './definition.js';
import { BOOLEAN_COLUMNS } from './job.js';

const JSON_FIELDS = new Set(['command', 'env', 'alert_emails', 'node_selector']);
const BOOLS = new Set<string>(BOOLEAN_COLUMNS);

/** A definition's fields as registry column values (booleans 0/1, lists and maps as JSON); tags excluded. */
export function toRowValues(p: JobPatch & { name?: string }): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const [k, v] of Object.entries(p)) {
    if (k === 'tags' || k === 'name' || v === undefined) continue;
    if (BOOLS.has(k)) out[k] = v ? 1 : 0;
    else if (JSON_FIELDS.has(k)) out[k] = v === null ? null : JSON.stringify(v);
    else if (k === 'discovery_info') out[k] = v === null ? null : JSON.stringify(v);
    else out[k] = v as string | number | null;
  }
  return out;
}
