/** The job's dependency links. The endpoint comes with a later issue: on 404 the section stays hidden. */
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api';
import { useLoader } from '../hooks';
import type { Dependencies, DependencyLink } from '../types';

function target(l: DependencyLink) {
  if (typeof l.job === 'string') return <span>{l.job}</span>;
  return <a href={`#/jobs/${l.job.id}`}>{l.job.name}</a>;
}

/** [before, after] the linked job's name, e.g. "requires a success of" X "within 6 h". */
function describe(l: DependencyLink, dir: 'up' | 'down'): [string, string] {
  const within = l.window_seconds ? ` within ${l.window_seconds >= 3600 ? `${Math.round(l.window_seconds / 3600)} h` : `${Math.round(l.window_seconds / 60)} min`}` : '';
  if (l.kind === 'requires') return dir === 'up' ? ['requires a success of', within] : ['is required by', within ? ` (a success${within})` : ''];
  return dir === 'up' ? ['runs after', ` (on ${l.on})`] : ['triggers', ` (on ${l.on})`];
}

function Link({ l, dir }: { l: DependencyLink; dir: 'up' | 'down' }) {
  const [before, after] = describe(l, dir);
  return (
    <li data-testid={`dep-${dir}`}>
      {before} {target(l)}
      <span class="muted">{after}</span>
    </li>
  );
}

export function DependencySection({ jobId }: { jobId: number }) {
  // A 404 means this API has no dependencies yet: stop asking on every change.
  const [gone, setGone] = useState(false);
  const deps = useLoader(`deps-${jobId}`, () => get<Dependencies>(`/api/jobs/${jobId}/dependencies`), gone ? [] : ['job.changed']);
  const missing = deps.error?.status === 404;
  useEffect(() => {
    if (missing) setGone(true);
  }, [missing]);
  if (!deps.data || deps.error) return null;
  const { upstream, downstream } = deps.data;
  return (
    <section aria-labelledby="deps-h" data-testid="dependencies">
      <h2 id="deps-h">Dependencies</h2>
      {upstream.length === 0 && downstream.length === 0 ? (
        <p class="muted">No dependencies.</p>
      ) : (
        <ul class="deps">
          {upstream.map((l, i) => (
            <Link key={`u${i}`} l={l} dir="up" />
          ))}
          {downstream.map((l, i) => (
            <Link key={`d${i}`} l={l} dir="down" />
          ))}
        </ul>
      )}
    </section>
  );
}
