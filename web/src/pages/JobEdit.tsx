import { useState } from 'preact/hooks';
import { api, ApiError, get, getList } from '../api';
import { changes, forCreate, initialState, toBody, type FormState } from '../components/JobForm';
import { JobFormView } from '../components/JobFormView';
import { notify } from '../components/toast';
import { ErrorNote, Loading } from '../components/ui';
import { useLoader } from '../hooks';
import { navigate } from '../router';
import type { Job, SlotUsage } from '../types';

export function JobEditPage({ id }: { id?: number }) {
  const job = useLoader(`edit-${id ?? 'new'}`, () => (id === undefined ? Promise.resolve(undefined) : get<Job>(`/api/jobs/${id}`)));
  const slots = useLoader('slot-names', () => getList<SlotUsage>('/api/slots', 'slots'));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  if (id !== undefined && !job.data) return job.error ? <ErrorNote error={job.error} /> : <Loading />;
  const original = job.data;

  async function submit(s: FormState): Promise<Record<string, string> | void> {
    const { body, errors } = toBody(s);
    // Checked again: the last answer's complaint is about values that may be gone now.
    setError(null);
    if (Object.keys(errors).length) return errors;
    setBusy(true);
    try {
      if (original) {
        const patch = changes(body, toBody(initialState(original)).body);
        delete patch.name;
        delete patch.enabled;
        if (Object.keys(patch).length === 0) {
          navigate(`/jobs/${original.id}`);
          return;
        }
        await api<Job>('PATCH', `/api/jobs/${original.id}`, patch);
        notify(`${original.name} saved`);
        navigate(`/jobs/${original.id}`);
      } else {
        // A new job gets only the folded settings the user changed: the rest follow the registry's defaults.
        const created = await api<Job>('POST', '/api/jobs', forCreate(body));
        notify(`${created.name} created`);
        navigate(`/jobs/${created.id}`);
      }
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'CLIENT', String(e)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="page narrow" data-testid="page-job-edit">
      <nav class="crumbs" aria-label="breadcrumb">
        <a href="#/jobs">Jobs</a> › {original && <a href={`#/jobs/${original.id}`}>{original.name}</a>}
        {original && ' ›'}
      </nav>
      <h1>{original ? `Configure ${original.name}` : 'New job'}</h1>
      <JobFormView
        job={original}
        slots={[...new Set(slots.data?.map((x) => x.slot) ?? [])]}
        busy={busy}
        error={error}
        onSubmit={submit}
        onCancel={() => navigate(original ? `/jobs/${original.id}` : '/jobs')}
      />
    </div>
  );
}
