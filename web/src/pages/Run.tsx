import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, getText, post } from '../api';
import { notify } from '../components/toast';
import { ErrorNote, Loading, RunStatusBadge, Stat, Time } from '../components/ui';
import { bytes, duration, megabytes, percent, words } from '../format';
import { useLoader } from '../hooks';
import { useLive } from '../live';
import { updateRun } from '../run-state';
import { FINAL_STATUSES, type Job, type Run } from '../types';

const OUTPUT_POLL_MS = 2000;

export function RunPage({ id }: { id: number }) {
  const run = useLoader(`run-${id}`, () => get<Run>(`/api/runs/${id}`));
  const r = run.data;
  const live = r !== undefined && !FINAL_STATUSES.includes(r.status);
  const [output, setOutput] = useState<string | null>(null);
  const [outputError, setOutputError] = useState<ApiError | null>(null);
  const [jobName, setJobName] = useState<string | undefined>(undefined);
  const pre = useRef<HTMLPreElement>(null);

  // The event carries the whole row: no fetch needed to show the new status.
  useLive(['run.started', 'run.cancelling', 'run.finished', 'run.queued'], (_t, data) => {
    const d = data as Run;
    if (d.id === id) run.set((old) => updateRun(old, d));
  });

  const loadOutput = () =>
    getText(`/api/runs/${id}/output`).then(
      (t) => {
        setOutput(t);
        setOutputError(null);
      },
      (e: ApiError) => setOutputError(e),
    );

  useEffect(() => {
    if (!r || r.status === 'queued') return;
    void loadOutput();
    if (!live) return;
    const t = setInterval(loadOutput, OUTPUT_POLL_MS);
    return () => clearInterval(t);
  }, [r?.status, live]);

  useEffect(() => {
    if (r && !r.job_name && jobName === undefined) get<Job>(`/api/jobs/${r.job_id}`).then((j) => setJobName(j.name), () => setJobName(''));
  }, [r?.job_id]);

  // Follow the end of the log while it grows, unless the reader scrolled up.
  useEffect(() => {
    const el = pre.current;
    if (el && live && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [output]);

  if (!r) return run.error ? <ErrorNote error={run.error} /> : <Loading />;
  const name = r.job_name ?? jobName ?? `job #${r.job_id}`;

  async function cancel() {
    try {
      const updated = await post<Run | undefined>(`/api/runs/${id}/cancel`);
      // The reply was made before the stop it asked for may have been announced: updateRun keeps the later state.
      if (updated && typeof updated === 'object' && 'id' in updated) run.set((old) => updateRun(old, updated));
      else run.reload();
    } catch (e) {
      notify(`Could not cancel: ${(e as ApiError).message}`, 'bad');
    }
  }

  return (
    <div class="page" data-testid="page-run" data-run-id={r.id}>
      <nav class="crumbs" aria-label="breadcrumb">
        <a href="#/jobs">Jobs</a> › <a href={`#/jobs/${r.job_id}`} data-testid="run-job-link">{name}</a> ›
      </nav>
      <div class="page-head">
        <h1>Run #{r.id}</h1>
        <RunStatusBadge status={r.status} startedAt={r.started_at} cancelRequested={r.cancel_requested} />
        <span class="spacer" />
        {live && (
          <button
            type="button"
            class="danger"
            onClick={cancel}
            disabled={Boolean(r.cancel_requested)}
            title={r.cancel_requested ? `Asked to stop: ${r.cancel_requested}` : 'Stop this run (its processes get TERM, then KILL after the grace period)'}
            data-testid="cancel-run"
          >
            {r.cancel_requested ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
      </div>
      {r.error_message && <p class="error" data-testid="run-error">{r.error_message}</p>}
      {(r.wait_reason || r.skip_reason) && <p class="muted">{r.status === 'skipped' ? `Skipped: ${r.skip_reason}` : `Waiting: ${r.wait_reason}`}</p>}
      <div class="stats-grid">
        <section class="card" aria-labelledby="timing-h">
          <h2 id="timing-h">Timing</h2>
          <dl class="kv">
            <Stat label="Trigger">{words(r.trigger)}{r.attempt > 1 ? ` (attempt ${r.attempt})` : ''}</Stat>
            <Stat label="Scheduled for"><Time iso={r.scheduled_for} withClock /></Stat>
            <Stat label="Queued"><Time iso={r.queued_at} withClock /></Stat>
            <Stat label="Started"><Time iso={r.started_at} withClock /></Stat>
            <Stat label="Finished"><Time iso={r.finished_at} testid="run-finished" withClock /></Stat>
            <Stat label="Waited">{duration(r.wait_ms)}</Stat>
            <Stat label="Duration" testid="run-duration">{duration(r.duration_ms)}</Stat>
          </dl>
        </section>
        <section class="card" aria-labelledby="resources-h">
          <h2 id="resources-h">Resources</h2>
          <dl class="kv">
            <Stat label="Peak memory" testid="run-peak-memory">
              {megabytes(r.peak_memory_mb)} {r.memory_source && <span class="muted">({r.memory_source})</span>}
            </Stat>
            <Stat label="Reservation">{megabytes(r.reservation_mb)}</Stat>
            <Stat label="CPU" testid="run-cpu">
              {percent(r.cpu_percent)} {r.cpu_time_ms !== null && <span class="muted">({duration(r.cpu_time_ms)} CPU time)</span>}
            </Stat>
            <Stat label="Exit" testid="run-exit">{r.signal ? `signal ${r.signal}` : r.exit_code ?? '—'}</Stat>
            <Stat label="Where">{r.slot ?? '—'}{r.node ? ` @ ${r.node}` : ''}{r.pid ? ` · pid ${r.pid}` : ''}</Stat>
          </dl>
        </section>
      </div>
      <section aria-labelledby="output-h">
        <div class="section-head">
          <h2 id="output-h">Output</h2>
          <span class="muted">
            {bytes(r.output_bytes)}
            {r.output_truncated ? ' (showing the tail)' : ''}
          </span>
          <span class="spacer" />
          {r.status !== 'queued' && (
            <a class="button" href={`/api/runs/${r.id}/output?download=1`} download data-testid="download-output">
              Download full log
            </a>
          )}
        </div>
        <ErrorNote error={outputError} />
        {r.status === 'queued' ? (
          <p class="muted">The run has not started yet.</p>
        ) : (
          <pre class="output" ref={pre} tabIndex={0} aria-label="run output" aria-live={live ? 'polite' : undefined} data-testid="run-output">
            {output === null ? 'Loading…' : output || r.output_tail || '(no output)'}
          </pre>
        )}
      </section>
    </div>
  );
}
