/** Enable/disable and "run now": the same controls on the jobs list, the job page and the review page. */
import { useState } from 'preact/hooks';
import { ApiError, post } from '../api';
import type { Job, Run } from '../types';
import { notify } from './toast';

export function EnableToggle({ job, onChanged, showLabel = false }: { job: Job; onChanged: (j: Job) => void; showLabel?: boolean }) {
  const [busy, setBusy] = useState(false);
  async function toggle() {
    const want = !job.enabled;
    setBusy(true);
    onChanged({ ...job, enabled: want });
    try {
      const updated = await post<Job | undefined>(`/api/jobs/${job.id}/${want ? 'enable' : 'disable'}`);
      if (updated && typeof updated === 'object' && 'id' in updated) onChanged(updated);
    } catch (e) {
      onChanged({ ...job, enabled: !want });
      notify(`${job.name}: ${(e as ApiError).message}`, 'bad');
    } finally {
      setBusy(false);
    }
  }
  return (
    <label class="switch" title={job.enabled ? 'Enabled: click to disable' : 'Disabled: click to enable'}>
      <input type="checkbox" role="switch" checked={job.enabled} disabled={busy} onChange={toggle} aria-label={`${job.name} enabled`} data-testid="enable-toggle" />
      <span class="switch-track" aria-hidden="true" />
      {showLabel && <span class="switch-label">{job.enabled ? 'Enabled' : 'Disabled'}</span>}
    </label>
  );
}

export function RunNowButton({ job, label = 'Run now', compact = false, onQueued }: { job: Job; label?: string; compact?: boolean; onQueued?: (r: Run) => void }) {
  const [busy, setBusy] = useState(false);
  async function run() {
    setBusy(true);
    try {
      const r = await post<Run>(`/api/jobs/${job.id}/run`, {});
      notify(
        <>
          {job.name}: <a href={`#/runs/${r.id}`}>run #{r.id}</a> queued
        </>,
      );
      onQueued?.(r);
    } catch (e) {
      notify(`${job.name}: ${(e as ApiError).message}`, 'bad');
    } finally {
      setBusy(false);
    }
  }
  return (
    <button type="button" class={compact ? 'compact' : undefined} onClick={run} disabled={busy} aria-label={`${label}: ${job.name}`} data-testid="run-now">
      {busy ? 'Queuing…' : label}
    </button>
  );
}
