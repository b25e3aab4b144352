import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, getList, post } from '../api';
import { notify } from '../components/toast';
import { Empty, ErrorNote, Loading, Time } from '../components/ui';
import { commandLine, megabytes } from '../format';
import { missingLabel, missingWhat, reasonFor, REASONS, warningsOf, type Info } from '../discovery';
import { useLoader } from '../hooks';
import type { Job } from '../types';

const EXPLAINED = new Set(Object.values(REASONS).flat());

/** Everything else discovery noted (root, interpreter, the crontab line…), shown as it is. */
function otherDetails(info: Info): [string, string][] {
  return Object.entries(info)
    .filter(([k, v]) => !EXPLAINED.has(k) && v !== null && v !== undefined && v !== '' && typeof v !== 'object')
    .map(([k, v]) => [k.replace(/_/g, ' '), String(v)]);
}

function Guess({ label, value, why }: { label: string; value: ComponentChildren; why: string | null }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>
        {value}
        {why && <div class="why">{why}</div>}
      </dd>
    </div>
  );
}

function ReviewItem({ job, onEnabled }: { job: Job; onEnabled: (j: Job) => void }) {
  const [busy, setBusy] = useState(false);
  const info: Info = job.discovery_info && typeof job.discovery_info === 'object' ? job.discovery_info : {};
  const details = otherDetails(info);
  // What discovery could not use (an annotation or a schedule comment that is not valid), in its words.
  const warnings = warningsOf(info);
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
        {job.missing && <span class="badge tone-bad" title={missingWhat(job)}>{missingLabel(job)}</span>}
        <span class="spacer" />
        <a class="button" href={`#/jobs/${job.id}/edit`}>
          Configure
        </a>
        <button type="button" class="primary" onClick={enable} disabled={busy || job.enabled} data-testid="review-enable">
          {job.enabled ? 'Enabled' : 'Enable'}
        </button>
      </div>
      <code class="wrap">{commandLine(job)}</code>
      {warnings.length > 0 && (
        <ul class="review-warnings" data-testid="review-warnings" aria-label="discovery warnings">
          {warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
      <dl class="guesses">
        <Guess label="Schedule" value={<code>{job.schedule}{job.timezone ? ` (${job.timezone})` : ''}</code>} why={reasonFor(info, 'schedule')} />
        <Guess label="Category" value={job.category} why={reasonFor(info, 'category')} />
        <Guess label="Priority" value={job.priority} why={reasonFor(info, 'priority')} />
        <Guess label="Memory estimate" value={megabytes(job.estimated_memory_mb)} why={reasonFor(info, 'memory')} />
        <Guess label="Timeout" value={`${job.timeout_seconds} s`} why={null} />
        <Guess label="Slot" value={job.slot} why={null} />
        {job.script_type && <Guess label="Type" value={job.script_type} why={reasonFor(info, 'type')} />}
      </dl>
      {details.length > 0 && (
        <details class="discovery-details">
          <summary>Discovery details</summary>
          <dl class="guesses">
            {details.map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
        </details>
      )}
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
