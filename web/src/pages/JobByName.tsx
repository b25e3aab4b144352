import { useEffect } from 'preact/hooks';
import { get } from '../api';
import { ErrorNote, Loading } from '../components/ui';
import { useLoader } from '../hooks';
import { navigate } from '../router';
import type { Job } from '../types';

/**
 * `#/jobs/<name>` and `#/jobs/<name>/edit`: the CLI and the API take a job by name, so a link
 * typed or pasted that way works too. The job's pages live at its id (a name is never digits
 * alone), so the name is looked up once and the URL replaced by the id form.
 */
export function JobByName({ name, edit }: { name: string; edit: boolean }) {
  const job = useLoader(`job-name-${name}`, () => get<Job>(`/api/jobs/${encodeURIComponent(name)}`));
  const id = job.data?.id;
  useEffect(() => {
    if (id !== undefined) navigate(`/jobs/${id}${edit ? '/edit' : ''}`, true);
  }, [id, edit]);
  return (
    <div class="page" data-testid="page-job-by-name">
      <nav class="crumbs" aria-label="breadcrumb">
        <a href="#/jobs">Jobs</a> ›
      </nav>
      {job.error ? <ErrorNote error={job.error} /> : <Loading what={`Looking up ${name}`} />}
    </div>
  );
}
