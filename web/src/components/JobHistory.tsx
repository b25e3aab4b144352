import { useState } from 'preact/hooks';
import { getList, query } from '../api';
import { useLoader } from '../hooks';
import type { Run } from '../types';
import { RunTable } from './RunTable';
import { Empty, ErrorNote, Loading, Pager } from './ui';

const PAGE = 25;

/** Newest first, paged with `before` (the last id seen): offsets would shift as new runs arrive. */
export function JobHistory({ jobId }: { jobId: number }) {
  const [cursors, setCursors] = useState<number[]>([]);
  const before = cursors[cursors.length - 1];
  const runs = useLoader(
    `runs-${jobId}-${before ?? 'top'}`,
    () => getList<Run>(`/api/jobs/${jobId}/runs${query({ limit: PAGE + 1, before })}`, 'runs'),
    // Only the first page changes when runs come and go.
    before === undefined ? ['run.queued', 'run.started', 'run.cancelling', 'run.finished'] : [],
    500,
    (_t, d) => (d as { job_id?: number }).job_id === jobId,
  );
  const rows = runs.data?.slice(0, PAGE) ?? [];
  const hasMore = (runs.data?.length ?? 0) > PAGE;
  const offset = cursors.length * PAGE;
  return (
    <section aria-labelledby="history-h">
      <h2 id="history-h">Run history</h2>
      <ErrorNote error={runs.error} />
      {!runs.data ? (
        !runs.error && <Loading />
      ) : rows.length === 0 ? (
        <Empty>No runs yet.</Empty>
      ) : (
        <>
          <RunTable runs={rows} columns={['status', 'trigger', 'started', 'duration', 'wait', 'memory', 'cpu', 'exit', 'slot']} testid="job-runs" />
          {(hasMore || cursors.length > 0) && (
            <Pager
              offset={offset}
              limit={PAGE}
              shown={rows.length}
              hasMore={hasMore}
              onChange={(o) => setCursors(o > offset ? [...cursors, rows[rows.length - 1]!.id] : cursors.slice(0, -1))}
            />
          )}
        </>
      )}
    </section>
  );
}
