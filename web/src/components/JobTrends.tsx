import { useState } from 'preact/hooks';
import { getList, query } from '../api';
import { duration, megabytes } from '../format';
import { useLoader } from '../hooks';
import type { Job, TrendDay } from '../types';
import { TrendChart } from './TrendChart';
import { ErrorNote, Loading } from './ui';

const PERIODS = [7, 30, 90];
const ms = (v: number | null) => (v === null ? null : v / 1000);

export function JobTrends({ job }: { job: Job }) {
  const [days, setDays] = useState(30);
  const trends = useLoader(
    `trends-${job.id}-${days}`,
    () => getList<TrendDay>(`/api/jobs/${job.id}/trends${query({ days })}`, 'trends'),
    ['run.finished'],
    2000,
    (_t, d) => (d as { job_id?: number }).job_id === job.id,
  );
  const rows = trends.data ?? [];
  const labels = rows.map((r) => r.day);
  const flat = (v: number | null) => rows.map(() => v);
  return (
    <section aria-labelledby="trends-h" data-testid="trends">
      <div class="section-head">
        <h2 id="trends-h">Trends</h2>
        <div class="segmented" role="group" aria-label="period">
          {PERIODS.map((p) => (
            <button key={p} type="button" aria-pressed={days === p} onClick={() => setDays(p)}>
              {p} d
            </button>
          ))}
        </div>
      </div>
      <ErrorNote error={trends.error} />
      {!trends.data ? (
        !trends.error && <Loading />
      ) : (
        <div class="charts">
          <TrendChart
            title="Duration"
            testid="chart-duration"
            days={labels}
            format={(v) => duration(v * 1000)}
            series={[
              { label: 'avg', values: rows.map((r) => ms(r.avg_duration_ms)), color: '#2f6fdf' },
              { label: 'max', values: rows.map((r) => ms(r.max_duration_ms)), color: '#d98a1c' },
              ...(job.baseline_duration_seconds !== null ? [{ label: 'baseline', values: flat(job.baseline_duration_seconds), color: '#7a7f8a', dash: [6, 4] }] : []),
            ]}
          />
          <TrendChart
            title="Memory"
            testid="chart-memory"
            days={labels}
            format={megabytes}
            series={[
              { label: 'avg', values: rows.map((r) => r.avg_memory_mb), color: '#2f6fdf' },
              { label: 'max', values: rows.map((r) => r.max_memory_mb), color: '#d98a1c' },
              ...(job.baseline_memory_mb !== null ? [{ label: 'baseline', values: flat(job.baseline_memory_mb), color: '#7a7f8a', dash: [6, 4] }] : []),
            ]}
          />
        </div>
      )}
    </section>
  );
}
