import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get } from './api';
import { useLive, type LiveEvent } from './live';
import { statusLabel } from './status-label';
import type { RunStatus } from './types';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
  /** Replace the data locally (live patches) without a fetch. */
  set: (fn: (old: T | undefined) => T | undefined) => void;
}

/**
 * Fetch on mount and whenever `key` changes; refetch (at most every `throttleMs`) when one of
 * `events` arrives. Answers that arrive out of order are dropped, so typing fast never shows
 * an older result last.
 */
export function useLoader<T>(
  key: string,
  fetcher: () => Promise<T>,
  events: LiveEvent[] = [],
  throttleMs = 400,
  /** Only refetch for events this returns true for (e.g. runs of this job). */
  filter?: (type: LiveEvent, data: unknown) => boolean,
): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const fetchRef = useRef(fetcher);
  fetchRef.current = fetcher;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const lastKey = useRef(key);

  const load = useCallback(() => {
    const mine = ++seq.current;
    setLoading(true);
    fetchRef.current().then(
      (d) => {
        if (mine !== seq.current) return;
        setData(d);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (mine !== seq.current) return;
        setError(e instanceof ApiError ? e : new ApiError(0, 'CLIENT', String(e)));
        setLoading(false);
      },
    );
  }, []);

  useEffect(() => {
    // A new key is a different thing to show: do not keep the old one on screen as if it were current.
    if (lastKey.current !== key) {
      lastKey.current = key;
      setData(undefined);
    }
    load();
    return () => {
      clearTimeout(timer.current);
      timer.current = undefined;
    };
  }, [key, load]);

  const filterRef = useRef(filter);
  filterRef.current = filter;
  useLive(events.length ? [...events, 'resync'] : [], (type, data) => {
    if (type !== 'resync' && filterRef.current && !filterRef.current(type, data)) return;
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      load();
    }, throttleMs);
  });

  return { data, error, loading, reload: load, set: setData as Loaded<T>['set'] };
}

export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

const nowListeners = new Set<(n: number) => void>();
let nowTimer: ReturnType<typeof setInterval> | undefined;

/** The current time, ticking every 10 s: relative times stay true without each one running a timer. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    nowListeners.add(setNow);
    if (!nowTimer) {
      nowTimer = setInterval(() => {
        const n = Date.now();
        for (const l of nowListeners) l(n);
      }, 10_000);
    }
    return () => {
      nowListeners.delete(setNow);
      if (nowListeners.size === 0) {
        clearInterval(nowTimer);
        nowTimer = undefined;
      }
    };
  }, []);
  return now;
}

/**
 * A run's status as it reads (statusLabel): `starting` while a running run's start is still
 * ahead, and `running` from that instant on, re-rendering then rather than at the next tick;
 * `cancelling` once a person asked to stop it.
 */
export function useStatusLabel(status: RunStatus | null | undefined, startedAt: string | null | undefined, cancelRequested?: string | null): string | null {
  const [, rerender] = useState(0);
  const label = status ? statusLabel({ status, started_at: startedAt ?? null, cancel_requested: cancelRequested }, Date.now()) : null;
  useEffect(() => {
    if (label !== 'starting' || !startedAt) return;
    const t = setTimeout(() => rerender((n) => n + 1), Math.max(0, Date.parse(startedAt) - Date.now()) + 10);
    return () => clearTimeout(t);
  }, [label, startedAt]);
  return label;
}

let homeZone: Promise<string> | undefined;

/**
 * The home's timezone (config.yaml `timezone`, else the machine's), the zone of every job without
 * its own. Only the daemon knows it; a schedule preview without a zone names the one it used.
 * Asked once per page load, and only by a page that needs it (`wanted`); undefined until known.
 */
export function useHomeZone(wanted = true): string | undefined {
  const [zone, setZone] = useState<string | undefined>(undefined);
  useEffect(() => {
    if (!wanted) return;
    let live = true;
    homeZone ??= get<{ timezone: string }>('/api/schedule/preview?expr=%40daily&count=1').then((r) => r.timezone);
    homeZone.then(
      (z) => live && setZone(z),
      () => (homeZone = undefined), // asked again by the next page that needs it
    );
    return () => void (live = false);
  }, [wanted]);
  return zone;
}
