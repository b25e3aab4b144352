import { useState } from 'preact/hooks';
import { ApiError, getList, post } from '../api';
import { notify } from '../components/toast';
import { Empty, ErrorNote, Loading, Time } from '../components/ui';
import { commandLine, megabytes } from '../format';
import { useLoader } from '../hooks';
import type { Job } from '../types';

/** discovery_info is free-form; show its plain values (why this category, the crontab line…) as they are. */
function reasons(info: Job['discovery_info']): [string, string][] {
  if (!info || typeof info !== 'object') return [];
  return Object.entries(info)
    .filter(([, v]) => v !== null && v !== undefined && v !== '' && typeof v !== 'object')
    .map(([k, v]) => [k.replace(/_/g, ' '), String(v)]);
}

function ReviewItem({ job, onEnabled }: { job: Job; onEnabled: (j: Job) => void }) {
  const [busy, setBusy] = useState(false);
  async function enable() {
    setBusy(true);
    try {
      const updated = await post<Job | undefined>(`/api/jobs/${job.id}/enable`);
      notify(`${job.name} enabled`);
      onEnabled(updated && typeof updated === 'object' && 'id' in updated ? updated : { ...job, enabled: true });
    } catch (e) {
      notify(`${job.name}: ${(e as ApiError).message}`, 'bad');
      setBusy(false);
    }
  }
  return (
    <li class="card review-item" data-testid="review-item" data-job-name={job.name}>
      <div class="review-head">
        <h2>
          <a href={`#/jobs/${job.id}`}>{job.name}</a>
        </h2>
        <span class="badge">{job.source}</span>
        {job.missing && <span class="badge tone-bad">missing</span>}
        <span class="spacer" />
        <a class="button" href={`#/jobs/${job.id}/edit`}>
          Configure
        </a>
        <button type="button" class="primary" onClick={enable} disabled={busy || job.enabled} data-testid="review-enable">
          {job.enabled ? 'Enabled' : 'Enable'}
        </button>
      </div>
      <code class="wrap">{commandLine(job)}</code>
      <dl class="guesses">
        <div>
          <dt>Schedule</dt>
          <dd>
            <code>{job.schedule}</code>
            {job.timezone && ` (${job.timezone})`}
          </dd>
        </div>
        <div>
          <dt>Category</dt>
          <dd>{job.category}</dd>
        </div>
        <div>
          <dt>Priority</dt>
          <dd>{job.priority}</dd>
        </div>
        <div>
          <dt>Slot</dt>
          <dd>{job.slot}</dd>
        </div>
        <div>
          <dt>Memory estimate</dt>
          <dd>{megabytes(job.estimated_memory_mb)}</dd>
        </div>
        <div>
          <dt>Timeout</dt>
          <dd>{job.timeout_seconds} s</dd>
        </div>
        {job.script_type && (
          <div>
            <dt>Type</dt>
            <dd>{job.script_type}</dd>
          </div>
        )}
        {reasons(job.discovery_info).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      {job.tags.length > 0 && (
        <p>
          {job.tags.map((t) => (
            <span key={t} class="tag">
              {t}
            </span>
          ))}
        </p>
      )}
      {job.next_scheduled_run && (
        <p class="muted small">
          Would next run <Time iso={job.next_scheduled_run} />.
        </p>
      )}
    </li>
  );
}

export function ReviewPage() {
  const list = useLoader('review', () => getList<Job>('/api/review', 'jobs'), ['job.changed'], 1000);
  const replace = (j: Job) => list.set((old) => old?.map((x) => (x.id === j.id ? { ...x, ...j } : x)));
  return (
    <div class="page" data-testid="page-review">
      <h1>Review</h1>
      <p class="lead">
        Jobs found by <code>smart-cron discover</code> or <code>import-crontab</code> are registered disabled. Check the guesses, then enable them one by one.
      </p>
      <ErrorNote error={list.error} />
      {!list.data ? (
        !list.error && <Loading />
      ) : list.data.length === 0 ? (
        <Empty>Nothing waits for review.</Empty>
      ) : (
        <ul class="review-list" data-testid="review-list">
          {list.data.map((j) => (
            <ReviewItem key={j.id} job={j} onEnabled={replace} />
          ))}
        </ul>
      )}
    </div>
  );
}
