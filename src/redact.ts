/**
 * Secrets (SMTP passwords, tokens in webhook URLs) must never reach a log line, a delivery
 * row or the terminal: every target and every error message passes through here first.
 */

/** A URL safe to print: no password, no query values, no token-like path segments (Slack-style hooks). */
export function redactUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return raw.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
  }
  if (u.password) u.password = '***';
  for (const k of [...u.searchParams.keys()]) u.searchParams.set(k, '***');
  u.pathname = u.pathname
    .split('/')
    .map((seg) => (isTokenLike(seg) ? '***' : seg))
    .join('/');
  return u.toString().replace(/%2A%2A%2A/g, '***');
}

/** Long opaque segments, or shorter ones mixing letters and digits (Slack's T…/B…/token). */
function isTokenLike(seg: string): boolean {
  if (!/^[A-Za-z0-9_-]+$/.test(seg)) return false;
  return seg.length >= 20 || (seg.length >= 8 && /\d/.test(seg) && /[A-Za-z]/.test(seg));
}

/** Remove every known secret (and any user:password@ in URLs) from a message. */
export function scrub(text: string, secrets: (string | undefined | null)[]): string {
  let out = text.replace(/\/\/([^:/@\s]+):([^@\s]*)@/g, '//$1:***@');
  for (const s of secrets) {
    if (!s || s.length < 3) continue;
    out = out.split(s).join('***');
    const enc = encodeURIComponent(s);
    if (enc !== s) out = out.split(enc).join('***');
  }
  return out;
}

/** The most precise message an error carries (fetch hides the socket error in `cause`). */
export function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as Error & { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message && e.message === 'fetch failed') return cause.message;
  if (cause && typeof cause === 'object' && 'errors' in cause && Array.isArray((cause as AggregateError).errors)) {
    return (cause as AggregateError).errors.map((x: Error) => x.message).join('; ');
  }
  return e.message || e.name;
}
