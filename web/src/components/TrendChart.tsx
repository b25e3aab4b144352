/**
 * A small uPlot line chart of per-day values with the baseline as a dashed line. uPlot is
 * loaded on first use, so the overview and job list never pay for it.
 */
import { useEffect, useRef } from 'preact/hooks';
import type uPlot from 'uplot';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: number[];
}

let uplotModule: Promise<typeof uPlot> | undefined;
function loadUplot(): Promise<typeof uPlot> {
  // The ESM build has a default export; the typings say `export =`, hence the cast.
  uplotModule ??= Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(([m]) => (m as unknown as { default: typeof uPlot }).default);
  return uplotModule;
}

export function TrendChart({ title, days, series, format, testid }: { title: string; days: string[]; series: ChartSeries[]; format: (v: number) => string; testid?: string }) {
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = box.current;
    if (!el || days.length === 0) return;
    let plot: uPlot | undefined;
    let gone = false;
    let observer: ResizeObserver | undefined;
    loadUplot().then((UPlot) => {
      if (gone) return;
      const ink = getComputedStyle(el).color;
      const grid = getComputedStyle(el).getPropertyValue('--grid').trim() || 'rgba(128,128,128,0.2)';
      const xs = days.map((d) => Date.parse(`${d.slice(0, 10)}T00:00:00Z`) / 1000);
      const today = Math.floor(Date.now() / 86_400_000) * 86_400;
      const end = Math.max(xs[xs.length - 1]!, today);
      const start = Math.min(xs[0]!, end - 6 * 86_400);
      const axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
      const opts: uPlot.Options = {
        width: Math.max(el.clientWidth, 200),
        height: 200,
        tzDate: (ts) => UPlot.tzDate(new Date(ts * 1000), 'UTC'),
        // At least the last week up to today, half a day of margin: left to itself, uPlot spreads a single day over years.
        scales: { x: { time: true, auto: false, range: [start - 43_200, end + 43_200] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [axis, { ...axis, size: 70, values: (_u, ticks) => ticks.map(format) }],
        series: [
          { label: 'day', value: (_u, v) => (v === null ? '—' : new Date(v * 1000).toISOString().slice(0, 10)) },
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            dash: s.dash,
            points: { show: !s.dash, size: 5 },
            spanGaps: true,
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)),
          })),
        ],
      };
      plot = new UPlot(opts, [xs, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
      observer = new ResizeObserver(() => plot?.setSize({ width: Math.max(el.clientWidth, 200), height: 200 }));
      observer.observe(el);
    });
    return () => {
      gone = true;
      observer?.disconnect();
      plot?.destroy();
    };
  }, [days.join(), JSON.stringify(series)]);

  return (
    <figure class="chart" data-testid={testid}>
      <figcaption>{title}</figcaption>
      {days.length ? <div ref={box} class="chart-box" role="img" aria-label={`${title}: chart of ${days.length} days`} /> : <p class="muted">No runs in this period.</p>}
    </figure>
  );
}
