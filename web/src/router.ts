/** Hash routing: `#/jobs/12?health=critical` -> { parts: ['jobs', '12'], params }. */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  parts: string[];
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', q = ''] = raw.split('?', 2);
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(q) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function navigate(path: string, replace = false): void {
  const hash = `#${path}`;
  if (replace) history.replaceState(null, '', hash);
  else location.hash = hash;
  if (replace) dispatchEvent(new HashChangeEvent('hashchange'));
}

/** Change the query part of the current route (filters), keeping the path, without a history entry per keystroke. */
export function setParams(params: Record<string, string | undefined>): void {
  const { parts, params: cur } = parseHash(location.hash);
  const next = new URLSearchParams(cur);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '') next.delete(k);
    else next.set(k, v);
  }
  const q = next.toString();
  navigate(`/${parts.map(encodeURIComponent).join('/')}${q ? `?${q}` : ''}`, true);
}
