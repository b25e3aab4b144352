/**
 * The daemon's log, without a flood: while the database is away every loop fails every second
 * ("dispatcher cycle failed: connect ECONNREFUSED …", "reading cancel requests failed: …"), and
 * the log would fill with thousands of copies of a few lines. A line said again within the window
 * is held back and counted; the next time it is printed it says how often it was held back.
 * The alert lines (`[ALERT] …`, `[RESOLVED] …`) are the seed's record of each event: never held.
 */
import type { Clock } from '../clock.js';

export function quietRepeats(log: (msg: string) => void, clock: Pick<Clock, 'now'>, windowMs = 60_000): (msg: string) => void {
  const seen = new Map<string, { at: number; held: number }>();
  return (msg) => {
    if (msg.startsWith('[')) return log(msg);
    const now = clock.now();
    const s = seen.get(msg);
    if (s && now - s.at < windowMs) {
      s.held++;
      return;
    }
    const held = s?.held ?? 0;
    seen.set(msg, { at: now, held: 0 });
    if (seen.size > 1000) for (const [k, v] of seen) if (now - v.at >= windowMs) seen.delete(k);
    log(held ? `${msg} (and ${held} more time${held === 1 ? '' : 's'} in the last ${Math.round((now - s!.at) / 1000)}s)` : msg);
  };
}
