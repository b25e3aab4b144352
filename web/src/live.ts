/**
 * One EventSource per tab, shared by every page. Pages subscribe to the event types they
 * show; after a reconnect they get a `resync` so they refetch what they may have missed.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

export type LiveEvent = 'run.queued' | 'run.started' | 'run.cancelling' | 'run.finished' | 'alert.raised' | 'alert.resolved' | 'slots' | 'job.changed' | 'resync';
export type LiveStatus = 'connecting' | 'live' | 'offline';

const EVENTS: LiveEvent[] = ['run.queued', 'run.started', 'run.cancelling', 'run.finished', 'alert.raised', 'alert.resolved', 'slots', 'job.changed'];

type Handler = (type: LiveEvent, data: unknown) => void;

const handlers = new Set<Handler>();
const statusListeners = new Set<(s: LiveStatus) => void>();
let source: EventSource | null = null;
let status: LiveStatus = 'offline';
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let retryDelay = 1000;
let wasLive = false;
let lostSession: () => Promise<boolean> = async () => true;

function setStatus(s: LiveStatus): void {
  status = s;
  for (const l of statusListeners) l(s);
}

function emit(type: LiveEvent, data: unknown): void {
  for (const h of handlers) h(type, data);
}

/** `checkSession` is asked when the stream closes: a stream that closed because the session ended must not retry forever. */
export function connectLive(checkSession: () => Promise<boolean>): void {
  lostSession = checkSession;
  open();
}

function open(): void {
  closeSource();
  setStatus('connecting');
  const es = new EventSource('/api/events', { withCredentials: true });
  source = es;
  es.onopen = () => {
    retryDelay = 1000;
    setStatus('live');
    if (wasLive) emit('resync', null);
    wasLive = true;
  };
  es.onerror = () => {
    if (es !== source) return;
    // CONNECTING means the browser retries by itself; CLOSED means it gave up (a non-200 answer).
    if (es.readyState === EventSource.CLOSED) {
      setStatus('offline');
      scheduleRetry();
    } else {
      setStatus('connecting');
    }
  };
  for (const type of EVENTS) {
    es.addEventListener(type, (e) => {
      let data: unknown = null;
      try {
        data = JSON.parse((e as MessageEvent<string>).data);
      } catch {
        return;
      }
      // Another node's events were missed for a while (the daemon's relay reconnected): reload as after our own reconnect.
      if (type === 'job.changed' && (data as { change?: string } | null)?.change === 'resync') emit('resync', null);
      else emit(type, data);
    });
  }
}

function scheduleRetry(): void {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(async () => {
    const ok = await lostSession().catch(() => true);
    if (ok) open();
  }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 30_000);
}

function closeSource(): void {
  if (source) {
    source.onerror = null;
    source.close();
    source = null;
  }
}

export function disconnectLive(): void {
  clearTimeout(retryTimer);
  closeSource();
  wasLive = false;
  setStatus('offline');
}

/** Call `fn` for each event of the given types while the component is mounted. */
export function useLive(types: LiveEvent[], fn: (type: LiveEvent, data: unknown) => void): void {
  const ref = useRef(fn);
  ref.current = fn;
  const key = types.join(',');
  useEffect(() => {
    const wanted = new Set(key.split(','));
    const h: Handler = (type, data) => {
      if (wanted.has(type)) ref.current(type, data);
    };
    handlers.add(h);
    return () => void handlers.delete(h);
  }, [key]);
}

export function useLiveStatus(): LiveStatus {
  const [s, set] = useState(status);
  useEffect(() => {
    statusListeners.add(set);
    set(status);
    return () => void statusListeners.delete(set);
  }, []);
  return s;
}
