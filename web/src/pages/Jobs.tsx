import { useEffect, useState } from 'preact/hooks';
import { get, getList, query } from '../api';
import { EnableToggle, RunNowButton } from '../components/JobActions';
import { Empty, ErrorNote, HealthDot, Loading, Pager, RunStatusBadge, Time } from '../components/ui';
import { missingLabel, missingWhat } from '../discovery';
import { words } from '../format';
import { useDebounced, useLoader } from '../hooks';
import { setParams } from '../router';
import type { Job, Run } from '../types';

const PAGE = 50;
/** Running runs fetched with the list: far more than run at once anywhere (the API's largest page). */
const RUNNING_LIMIT = 500;

interface JobList {
  jobs: Job[];
  total: number;
  /** The runs going now, newest first: a job's status reads from them, since its own columns change only when a run ends. */
  running: Run[];
}

async function loadJobs(qs: string): Promise<JobList> {
  const [page, running] = await Promise.all([
    get<{ jobs: Job[]; total: number }>(`/api/jobs${qs}`),
    // The list without them is still the list: a failure here only loses the "running" badges.
    getList<Run>(`/api/runs${query({ status: 'running', limit: RUNNING_LIMIT })}`, 'runs').catch(() => [] as Run[]),
  ]);
  return { ...page, running };
}

interface Filters {
  q: string;
  health: string;
  category: string;
  tag: string;
  enabled: string;
}

function readFilters(p: URLSearchParams): Filters {
  return { q: p.get('q') ?? '', health: p.get('health') ?? '', category: p.get('category') ?? '', tag: p.get('tag') ?? '', enabled: p.get('enabled') ?? '' };
}

export function JobsPage({ params }: { params: URLSearchParams }) {
  const applied = readFilters(params);
  const offset = Number(params.get('offset') ?? 0) || 0;
  // What is typed shows at once; the URL (and so the server query) follows after a pause.
  const [typed, setTyped] = useState({ q: applied.q, category: applied.category, tag: applied.tag });
  const debounced = useDebounced(typed, 300);
  useEffect(() => {
    if (debounced.q !== applied.q || debounced.category !== applied.category || debounced.tag !== applied.tag) {
      setParams({ ...debounced, offset: undefined });
    }
  }, [debounced]);

  const qs = query({ ...applied, limit: PAGE, offset });
  const list = useLoader(`jobs${qs}`, () => loadJobs(qs), ['job.changed', 'run.finished', 'run.started', 'run.cancelling'], 1000);

  const replace = (j: Job) => list.set((old) => (old ? { ...old, jobs: old.jobs.map((x) => (x.id === j.id ? { ...x, ...j } : x)) } : old));
  const categories = [...new Set(list.data?.jobs.map((j) => j.category) ?? [])].sort();
  const filtered = Object.values(applied).some(Boolean);

  return (
    <div class="page" data-testid="page-jobs">
      <div class="page-head">
        <h1>Jobs</h1>
        <a class="button primary" href="#/jobs/new" data-testid="new-job">
          New job
        </a>
      </div>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()} aria-label="filter jobs">
        <label>
          Search
          <input type="search" value={typed.q} placeholder="name, description or command" onInput={(e) => setTyped({ ...typed, q: e.currentTarget.value })} data-testid="job-search" />
        </label>
        <label>
          Health
          <select value={applied.health} onChange={(e) => setParams({ health: e.currentTarget.value, offset: undefined })} data-testid="filter-health">
            <option value="">any</option>
            <option value="critical">critical</option>
            <option value="warning">warning</option>
            <option value="healthy">healthy</option>
          </select>
        </label>
        <label>
          Category
          <input list="categories" value={typed.category} size={12} onInput={(e) => setTyped({ ...typed, category: e.currentTarget.value })} data-testid="filter-category" />
          <datalist id="categories">
            {categories.map((c) => (
              <option key={c} value={c} />
            ))}
          </datalist>
        </label>
        <label>
          Tag
          <input value={typed.tag} size={10} onInput={(e) => setTyped({ ...typed, tag: e.currentTarget.value })} data-testid="filter-tag" />
        </label>
        <label>
          Enabled
          <select value={applied.enabled} onChange={(e) => setParams({ enabled: e.currentTarget.value, offset: undefined })} data-testid="filter-enabled">
            <option value="">any</option>
            <option value="true">enabled</option>
            <option value="false">disabled</option>
          </select>
        </label>
        {filtered && (
          <button
            type="button"
            class="link"
            onClick={() => {
              setTyped({ q: '', category: '', tag: '' });
              setParams({ q: undefined, health: undefined, category: undefined, tag: undefined, enabled: undefined, offset: undefined });
            }}
          >
            Clear filters
          </button>
        )}
      </form>
      <ErrorNote error={list.error} />
      {!list.data ? (
        <Loading what="Loading jobs" />
      ) : list.data.jobs.length === 0 ? (
        <Empty>{filtered ? 'No job matches these filters.' : 'No jobs yet. Add one, or run `smart-cron discover DIR`.'}</Empty>
      ) : (
        <>
          <JobTable jobs={list.data.jobs} running={list.data.running} onChanged={replace} />
          <Pager offset={offset} limit={PAGE} shown={list.data.jobs.length} total={list.data.total} onChange={(o) => setParams({ offset: o ? String(o) : undefined })} />
        </>
      )}
    </div>
  );
}

function JobTable({ jobs, running, onChanged }: { jobs: Job[]; running: Run[]; onChanged: (j: Job) => void }) {
  const going = new Map<number, Run[]>();
  for (const r of running) going.set(r.job_id, [...(going.get(r.job_id) ?? []), r]);
  return (
    <div class="table-wrap">
      <table class="jobs" data-testid="jobs-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">
              <span class="sr-only">Health</span>
            </th>
            <th scope="col">Status</th>
            <th scope="col">Last run</th>
            <th scope="col">Next run</th>
            <th scope="col" class="num" title="runs in the last 24 hours">
              24 h runs
            </th>
            <th scope="col" class="num" title="failures in the last 24 hours">
              24 h fail
            </th>
            <th scope="col" class="num" title="consecutive failures">
              Consec.
            </th>
            <th scope="col">Priority</th>
            <th scope="col">Category</th>
            <th scope="col">Schedule</th>
            <th scope="col">Enabled</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr key={j.id} data-testid="job-row" data-job-name={j.name} data-job-id={j.id} class={j.enabled ? undefined : 'disabled'}>
              <td class="name">
                <a href={`#/jobs/${j.id}`} data-testid="job-link">
                  {breakable(j.name)}
                </a>
                {j.missing && (
                  <span class="badge tone-bad" title={missingWhat(j)} data-testid="job-missing">
                    {missingLabel(j)}
                  </span>
                )}
              </td>
              <td>
                <HealthDot health={j.health_status} />
              </td>
              <td data-testid="execution-status">
                <ExecutionStatus job={j} running={going.get(j.id)} />
              </td>
              <td>
                <Time iso={j.last_executed_at} testid="last-run" />
              </td>
              <td>{j.enabled ? <Time iso={j.next_scheduled_run} /> : <span class="muted">—</span>}</td>
              <td class="num">{j.executions_24h}</td>
              <td class={`num${j.failures_24h ? ' bad' : ''}`}>{j.failures_24h}</td>
              <td class={`num${j.consecutive_failures ? ' bad' : ''}`} data-testid="consecutive-failures">
                {j.consecutive_failures}
              </td>
              <td>
                <span class={`prio prio-${j.priority}`}>{j.priority}</span>
              </td>
              <td>{j.category}</td>
              <td>
                <code title={j.timezone ?? undefined}>{j.schedule}</code>
              </td>
              <td>
                <EnableToggle job={j} onChanged={onChanged} />
              </td>
              <td>
                <RunNowButton job={j} compact />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A name may break after its separators (`crontab:user/command-hash`): where a person would break it. */
function breakable(name: string) {
  return name.split(/(?<=[:/_.-])/).flatMap((part, i) => (i ? [<wbr key={i} />, part] : [part]));
}

/** While a run goes, that is the job's status (its run's badge, linked); otherwise how its finished runs went. */
function ExecutionStatus({ job, running }: { job: Job; running: Run[] | undefined }) {
  const run = running?.[0];
  if (run) {
    return (
      <a href={`#/runs/${run.id}`} title={running.length > 1 ? `${running.length} runs going` : undefined} data-testid="job-running" data-run-id={run.id}>
        <RunStatusBadge status={run.status} startedAt={run.started_at} cancelRequested={run.cancel_requested} testid="job-run-status" />
        {running.length > 1 && <span class="muted"> ×{running.length}</span>}
      </a>
    );
  }
  return <span class={`exec exec-${job.execution_status}`}>{job.enabled ? words(job.execution_status) : 'disabled'}</span>;
}
