/** Runs as a table; which columns show depends on where (running now, queue, a job's history). */
import { duration, megabytes, percent, words } from '../format';
import type { Run } from '../types';
import { RunStatusBadge, Time } from './ui';

export type RunColumn = 'job' | 'status' | 'trigger' | 'queued' | 'started' | 'finished' | 'duration' | 'wait' | 'memory' | 'cpu' | 'exit' | 'slot' | 'reason';

const HEAD: Record<RunColumn, string> = {
  job: 'Job',
  status: 'Status',
  trigger: 'Trigger',
  queued: 'Queued',
  started: 'Started',
  finished: 'Finished',
  duration: 'Duration',
  wait: 'Waited',
  memory: 'Peak memory',
  cpu: 'CPU',
  exit: 'Exit',
  slot: 'Slot',
  reason: 'Waiting for',
};

const NUMERIC = new Set<RunColumn>(['duration', 'wait', 'memory', 'cpu', 'exit']);

export function jobLabel(run: Run, names?: Map<number, string>): string {
  return run.job_name ?? names?.get(run.job_id) ?? `job #${run.job_id}`;
}

function cell(run: Run, col: RunColumn, names?: Map<number, string>) {
  switch (col) {
    case 'job':
      return <a href={`#/jobs/${run.job_id}`}>{jobLabel(run, names)}</a>;
    case 'status':
      return (
        <a href={`#/runs/${run.id}`}>
          <span class="sr-only">run {run.id}: </span>
          <RunStatusBadge status={run.status} startedAt={run.started_at} cancelRequested={run.cancel_requested} />
        </a>
      );
    case 'trigger':
      return words(run.trigger) + (run.attempt > 1 ? ` (attempt ${run.attempt})` : '');
    case 'queued':
      return <Time iso={run.queued_at} />;
    case 'started':
      return <Time iso={run.started_at} />;
    case 'finished':
      return <Time iso={run.finished_at} />;
    case 'duration':
      return duration(run.duration_ms);
    case 'wait':
      return duration(run.wait_ms);
    case 'memory':
      return run.status === 'running' || run.status === 'queued' ? (run.reservation_mb ? `≤ ${megabytes(run.reservation_mb)}` : '—') : megabytes(run.peak_memory_mb);
    case 'cpu':
      return percent(run.cpu_percent);
    case 'exit':
      return run.signal ?? run.exit_code ?? '—';
    case 'slot':
      return run.slot ? `${run.slot}${run.node ? ` @ ${run.node}` : ''}` : '—';
    case 'reason':
      return run.wait_reason ?? run.skip_reason ?? '—';
  }
}

export function RunTable({ runs, columns, names, testid = 'runs' }: { runs: Run[]; columns: RunColumn[]; names?: Map<number, string>; testid?: string }) {
  return (
    <div class="table-wrap">
      <table data-testid={testid}>
        <thead>
          <tr>
            <th scope="col">Run</th>
            {columns.map((c) => (
              <th key={c} scope="col" class={NUMERIC.has(c) ? 'num' : undefined}>
                {HEAD[c]}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} data-testid="run-row" data-run-id={r.id} data-status={r.status}>
              <td>
                <a href={`#/runs/${r.id}`}>#{r.id}</a>
              </td>
              {columns.map((c) => (
                <td key={c} class={NUMERIC.has(c) ? 'num' : undefined}>
                  {cell(r, c, names)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
