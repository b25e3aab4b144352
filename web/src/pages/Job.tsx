import { useState } from 'preact/hooks';
import { api, ApiError, get } from '../api';
import { DependencySection } from '../components/Dependencies';
import { EnableToggle, RunNowButton } from '../components/JobActions';
import { JobHistory } from '../components/JobHistory';
import { JobStats } from '../components/JobStats';
import { JobTrends } from '../components/JobTrends';
import { notify } from '../components/toast';
import { ErrorNote, HealthDot, Loading } from '../components/ui';
import { words } from '../format';
import { useLoader } from '../hooks';
import { navigate } from '../router';
import type { Job } from '../types';

export function JobPage({ id }: { id: number }) {
  const job = useLoader(
    `job-${id}`,
    () => get<Job>(`/api/jobs/${id}`),
    ['job.changed', 'run.started', 'run.finished'],
    500,
    (_t, d) => (d as { id?: number; job_id?: number }).job_id === id || (d as { id?: number }).id === id,
  );
  const [deleting, setDeleting] = useState(false);

  if (!job.data) return job.error ? <ErrorNote error={job.error} /> : <Loading />;
  const j = job.data;

  async function remove() {
    if (!confirm(`Delete the job "${j.name}" and its history?`)) return;
    setDeleting(true);
    try {
      await api('DELETE', `/api/jobs/${j.id}`);
      notify(`${j.name} deleted`);
      navigate('/jobs');
    } catch (e) {
      notify(`Could not delete: ${(e as ApiError).message}`, 'bad');
      setDeleting(false);
    }
  }

  return (
    <div class="page" data-testid="page-job" data-job-id={j.id}>
      <nav class="crumbs" aria-label="breadcrumb">
        <a href="#/jobs">Jobs</a> ›
      </nav>
      <div class="page-head">
        <h1>
          <HealthDot health={j.health_status} /> <span data-testid="job-name">{j.name}</span>
        </h1>
        <span class={`exec exec-${j.execution_status}`} data-testid="job-execution-status">
          {j.enabled ? words(j.execution_status) : 'disabled'}
        </span>
        <span class="spacer" />
        <EnableToggle job={j} showLabel onChanged={(n) => job.set(() => ({ ...j, ...n }))} />
        <RunNowButton job={j} />
        <a class="button" href={`#/jobs/${j.id}/edit`} data-testid="configure-job">
          Configure
        </a>
        <button type="button" class="danger" onClick={remove} disabled={deleting} data-testid="delete-job">
          Delete
        </button>
      </div>
      {j.description && <p class="lead">{j.description}</p>}
      <ErrorNote error={job.error} />
      <JobStats job={j} />
      <JobTrends job={j} />
      <DependencySection jobId={j.id} />
      <JobHistory jobId={j.id} />
    </div>
  );
}
