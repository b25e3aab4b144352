/**
 * The job's dependency links, both ways, with a form to add one (requires a success of another
 * job, within a window; or runs after it, on an outcome) and a two-step remove on each link this
 * job has. The rules and their messages are the API's (the same as `smart-cron deps`): a window
 * such as "6h" is sent as typed and the API's answer to it shows under the field.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, get } from '../api';
import { duration } from '../format';
import { useLoader } from '../hooks';
import type { Dependencies, DependencyChange, DependencyKind, DependencyLink, DependencyOn, DependencyRemoval, Job } from '../types';
import { notify } from './toast';
import { ErrorNote } from './ui';

const RELATION: Record<DependencyKind, string> = { requires: 'requires a success of', triggers: 'runs after' };
const ONS: DependencyOn[] = ['success', 'failure', 'always'];

function target(l: DependencyLink) {
  if (typeof l.job === 'string') return <span>{l.job}</span>;
  return <a href={`#/jobs/${l.job.id}`}>{l.job.name}</a>;
}

const otherName = (l: DependencyLink) => (typeof l.job === 'string' ? l.job : l.job.name);

/** [before, after] the linked job's name, e.g. "requires a success of" X "within 6 h". */
function describe(l: DependencyLink, dir: 'up' | 'down'): [string, string] {
  const within = l.window_seconds ? ` within ${duration(l.window_seconds * 1000)}` : '';
  if (l.kind === 'requires') return dir === 'up' ? [RELATION.requires, within] : ['is required by', within ? ` (a success${within})` : ''];
  return dir === 'up' ? [RELATION.triggers, ` (on ${l.on})`] : ['triggers', ` (on ${l.on})`];
}

/** The API's message without the field name in front (the field is where it shows). */
function fieldMessage(e: ApiError): string {
  return e.field ? e.message.replace(new RegExp(`^(body )?${e.field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), '') : e.message;
}

function RemoveLink({ jobId, l, onRemoved }: { jobId: number; l: DependencyLink; onRemoved: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  if (typeof l.job === 'string') return null;
  const other = l.job;
  const what = `${RELATION[l.kind]} ${other.name}`;
  async function remove() {
    setBusy(true);
    setError(null);
    try {
      const r = await api<DependencyRemoval>('DELETE', `/api/jobs/${jobId}/dependencies/${other.id}?kind=${l.kind}`);
      notify(`removed: ${r.job.name} ${what}`);
      onRemoved();
    } catch (e) {
      setError(e as ApiError);
      setBusy(false);
      setConfirming(false);
    }
  }
  return (
    <span class="dep-remove">
      {confirming ? (
        <>
          <span class="muted">Remove this link?</span>
          <button type="button" class="compact danger" onClick={remove} disabled={busy} aria-label={`Yes, remove: ${what}`} data-testid="dep-remove-confirm">
            {busy ? 'Removing…' : 'Remove'}
          </button>
          <button type="button" class="compact" onClick={() => setConfirming(false)} disabled={busy} data-testid="dep-remove-cancel">
            Keep
          </button>
        </>
      ) : (
        <button type="button" class="compact" onClick={() => setConfirming(true)} aria-label={`Remove the link: ${what}`} title={`Remove: ${what}`} data-testid="dep-remove">
          Remove…
        </button>
      )}
      {error && <ErrorNote error={error} testid="dep-remove-error" />}
    </span>
  );
}

function Link({ jobId, l, dir, onChanged }: { jobId: number; l: DependencyLink; dir: 'up' | 'down'; onChanged: () => void }) {
  const [before, after] = describe(l, dir);
  return (
    <li data-testid={`dep-${dir}`} data-dep-job={otherName(l)} data-dep-kind={l.kind}>
      {before} {target(l)}
      <span class="muted">{after}</span>
      {dir === 'up' && <RemoveLink jobId={jobId} l={l} onRemoved={onChanged} />}
    </li>
  );
}

type FieldErrors = Partial<Record<'job' | 'window_seconds' | 'on' | 'kind', string>>;
const FIELD_LABEL: Record<keyof FieldErrors, string> = { job: 'job', window_seconds: 'window', on: 'on', kind: 'kind' };

function AddLink({ jobId, names, onAdded }: { jobId: number; names: string[]; onAdded: () => void }) {
  const [kind, setKind] = useState<DependencyKind>('requires');
  const [other, setOther] = useState('');
  const [within, setWithin] = useState('');
  const [on, setOn] = useState<DependencyOn>('success');
  const [busy, setBusy] = useState(false);
  const [errs, setErrs] = useState<FieldErrors>({});
  const [error, setError] = useState<ApiError | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    if (!other.trim()) {
      setErrs({ job: 'choose the job this one depends on (type or pick its name)' });
      return;
    }
    setErrs({});
    setBusy(true);
    try {
      const body = kind === 'requires' ? { job: other.trim(), kind, window_seconds: within.trim() || null } : { job: other.trim(), kind, on };
      const r = await api<DependencyChange>('POST', `/api/jobs/${jobId}/dependencies`, body);
      const l = r.depends_on;
      const verb = r.change === 'new' ? 'added' : r.change;
      notify(`${verb}: ${r.job.name} ${RELATION[l.kind]} ${otherName(l)}${describe(l, 'up')[1]}`);
      setOther('');
      setWithin('');
      onAdded();
    } catch (err) {
      const ae = err as ApiError;
      const f = ae.field as keyof FieldErrors | null;
      if (f && f in FIELD_LABEL) setErrs({ [f]: fieldMessage(ae) });
      else setError(ae);
    } finally {
      setBusy(false);
    }
  }

  const invalid = (k: keyof FieldErrors) => (errs[k] ? ('true' as const) : undefined);
  const describedBy = (k: keyof FieldErrors) => (errs[k] ? `dep-${k}-error` : undefined);
  return (
    <form class="dep-form" onSubmit={submit} noValidate data-testid="dep-form" aria-label="add a dependency">
      <div class="dep-form-row">
        <span>This job</span>
        <select
          value={kind}
          onChange={(e) => {
            setKind(e.currentTarget.value as DependencyKind);
            setErrs({});
          }}
          aria-label="kind of link"
          aria-invalid={invalid('kind')}
          data-testid="dep-kind"
        >
          <option value="requires">{RELATION.requires}</option>
          <option value="triggers">{RELATION.triggers}</option>
        </select>
        <input
          value={other}
          onInput={(e) => setOther(e.currentTarget.value)}
          list={`dep-jobs-${jobId}`}
          placeholder="job name"
          aria-label="the other job"
          aria-invalid={invalid('job')}
          aria-describedby={describedBy('job')}
          autocomplete="off"
          data-testid="dep-job"
        />
        <datalist id={`dep-jobs-${jobId}`}>
          {names.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        {kind === 'requires' ? (
          <label class="dep-inline">
            within
            <input
              class="dep-window"
              value={within}
              onInput={(e) => setWithin(e.currentTarget.value)}
              placeholder="any time (or 6h, 30m, 2d)"
              aria-invalid={invalid('window_seconds')}
              aria-describedby={describedBy('window_seconds')}
              data-testid="dep-window"
            />
          </label>
        ) : (
          <label class="dep-inline">
            on
            <select value={on} onChange={(e) => setOn(e.currentTarget.value as DependencyOn)} aria-invalid={invalid('on')} aria-describedby={describedBy('on')} data-testid="dep-on">
              {ONS.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          </label>
        )}
        <button type="submit" class="primary compact" disabled={busy} data-testid="dep-add">
          {busy ? 'Adding…' : 'Add link'}
        </button>
      </div>
      {(Object.keys(errs) as (keyof FieldErrors)[]).map((k) => (
        <p key={k} class="error" id={`dep-${k}-error`} role="alert" data-testid={`dep-error-${k}`}>
          {FIELD_LABEL[k]}: {errs[k]}
        </p>
      ))}
      <ErrorNote error={error} testid="dep-form-error" />
    </form>
  );
}

export function DependencySection({ jobId }: { jobId: number }) {
  // A 404 means this API has no dependencies (an older daemon): stop asking on every change.
  const [gone, setGone] = useState(false);
  const deps = useLoader(`deps-${jobId}`, () => get<Dependencies>(`/api/jobs/${jobId}/dependencies`), gone ? [] : ['job.changed']);
  // Names for the job field's suggestions (this job left out: it cannot depend on itself).
  const jobs = useLoader('dep-job-names', () => get<{ jobs: Pick<Job, 'id' | 'name'>[] }>('/api/jobs?sort=name&limit=500'), gone ? [] : ['job.changed'], 2000);
  const missing = deps.error?.status === 404;
  useEffect(() => {
    if (missing) setGone(true);
  }, [missing]);
  if (!deps.data || deps.error) return null;
  const { upstream, downstream } = deps.data;
  const names = (jobs.data?.jobs ?? []).filter((j) => j.id !== jobId).map((j) => j.name);
  return (
    <section aria-labelledby="deps-h" data-testid="dependencies">
      <h2 id="deps-h">Dependencies</h2>
      {upstream.length === 0 && downstream.length === 0 ? (
        <p class="muted" data-testid="deps-none">No dependencies.</p>
      ) : (
        <ul class="deps">
          {upstream.map((l) => (
            <Link key={`u-${l.kind}-${otherName(l)}`} jobId={jobId} l={l} dir="up" onChanged={deps.reload} />
          ))}
          {downstream.map((l) => (
            <Link key={`d-${l.kind}-${otherName(l)}`} jobId={jobId} l={l} dir="down" onChanged={deps.reload} />
          ))}
        </ul>
      )}
      <AddLink jobId={jobId} names={names} onAdded={deps.reload} />
    </section>
  );
}
