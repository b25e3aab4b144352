/**
 * The one way the dashboard talks to the API: JSON in and out, the CSRF header on every
 * change, errors as ApiError (with the field they are about), and 401 -> sign-in.
 */
const CSRF_KEY = 'smart-cron.csrf';

let csrf = readCsrf();
let onUnauthorized: () => void = () => {};

function readCsrf(): string {
  try {
    return sessionStorage.getItem(CSRF_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setCsrf(value: string): void {
  csrf = value;
  try {
    if (value) sessionStorage.setItem(CSRF_KEY, value);
    else sessionStorage.removeItem(CSRF_KEY);
  } catch {
    // Private mode without storage: memory is enough for this tab.
  }
}

export function hasCsrf(): boolean {
  return csrf !== '';
}

export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

async function request(method: Method, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (e) {
    throw new ApiError(0, 'NETWORK', `cannot reach the smart-cron API (${(e as Error).message})`);
  }
  if (res.ok) return res;
  let code = 'HTTP', message = `${res.status} ${res.statusText}`, field: string | null = null;
  try {
    const data = (await res.json()) as { error?: { code?: string; message?: string; field?: string | null } };
    if (data.error) {
      code = data.error.code ?? code;
      message = data.error.message ?? message;
      field = data.error.field ?? null;
    }
  } catch {
    // Not JSON (a proxy's error page): keep the status line.
  }
  // Signing in with a wrong token is a 401 too, but that is the form's error to show, not a redirect.
  if (res.status === 401 && path !== '/api/session') onUnauthorized();
  throw new ApiError(res.status, code, message, field);
}

export async function api<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T,>(path: string) => api<T>('GET', path);
export const post = <T,>(path: string, body: unknown = {}) => api<T>('POST', path, body);

export async function getText(path: string): Promise<string> {
  const res = await request('GET', path);
  return res.text();
}

/**
 * Lists come back either bare (`[...]`) or wrapped (`{ runs: [...], next_before }`); accept both,
 * so the dashboard does not break on either reading of the contract.
 */
export function listOf<T>(data: unknown, key: string): T[] {
  if (Array.isArray(data)) return data as T[];
  const inner = data && typeof data === 'object' ? (data as Record<string, unknown>)[key] : undefined;
  return Array.isArray(inner) ? (inner as T[]) : [];
}

export async function getList<T>(path: string, key: string): Promise<T[]> {
  return listOf<T>(await api<unknown>('GET', path), key);
}

/** `?a=1&b=x` from an object, leaving out empty values. */
export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function signIn(token: string): Promise<void> {
  const r = await api<{ csrf: string }>('POST', '/api/session', { token });
  setCsrf(r.csrf);
}

export async function signOut(): Promise<void> {
  try {
    await api('DELETE', '/api/session');
  } finally {
    setCsrf('');
  }
}

/** Whether this tab may use the API: a session cookie and the CSRF value that goes with it. */
export async function checkSession(): Promise<boolean> {
  const r = await api<{ authenticated?: boolean; signed_in?: boolean; csrf?: string }>('GET', '/api/session');
  if (r.csrf) setCsrf(r.csrf);
  // A new tab shares the cookie but not sessionStorage; without the CSRF value it could only read.
  return Boolean(r.authenticated ?? r.signed_in) && hasCsrf();
}
