/** Short notices ("run #12 queued") that any page can raise and that go away on their own. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

interface Notice {
  id: number;
  body: ComponentChildren;
  tone: 'ok' | 'bad';
}

let next = 1;
let notices: Notice[] = [];
const listeners = new Set<(n: Notice[]) => void>();

function publish(): void {
  for (const l of listeners) l(notices);
}

export function notify(body: ComponentChildren, tone: 'ok' | 'bad' = 'ok'): void {
  const n = { id: next++, body, tone };
  notices = [...notices, n].slice(-4);
  publish();
  setTimeout(() => {
    notices = notices.filter((x) => x.id !== n.id);
    publish();
  }, tone === 'bad' ? 8000 : 5000);
}

export function Toasts() {
  const [list, setList] = useState(notices);
  useEffect(() => {
    listeners.add(setList);
    return () => void listeners.delete(setList);
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((n) => (
        <div key={n.id} class={`toast tone-${n.tone}`} data-testid="toast">
          {n.body}
        </div>
      ))}
    </div>
  );
}
