/**
 * Webhooks: a generic JSON body with the alert's fields, or Slack's `{ text }`. One call is
 * one attempt; retries and their backoff belong to the delivery layer (and its clock).
 */
import type { Notice } from '../format.js';
import { errorText, redactUrl, scrub } from '../../redact.js';

export interface WebhookSettings {
  url: string;
  format?: 'json' | 'slack';
  timeout_ms?: number;
  retries?: number;
}

export class WebhookNotifier {
  /** The URL, safe to print (tokens in the path or query masked). */
  readonly target: string;

  constructor(readonly settings: WebhookSettings) {
    this.target = redactUrl(settings.url);
  }

  body(notice: Notice): unknown {
    return this.settings.format === 'slack' ? { text: notice.short } : notice.payload;
  }

  async send(notice: Notice): Promise<void> {
    const timeout = this.settings.timeout_ms ?? 5000;
    const secrets = secretsOf(this.settings.url);
    let res: Response;
    try {
      res = await fetch(this.settings.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'smart-cron' },
        body: JSON.stringify(this.body(notice)),
        // The network runs in real time even when the scheduler's clock is virtual.
        signal: AbortSignal.timeout(timeout),
        redirect: 'error',
      });
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new Error(`no answer within ${timeout} ms`);
      throw new Error(scrub(errorText(e), secrets));
    }
    if (res.status < 200 || res.status >= 300) {
      const detail = (await res.text().catch(() => '')).trim().slice(0, 200);
      throw new Error(scrub(`HTTP ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`, secrets));
    }
    await res.body?.cancel().catch(() => {});
  }
}

function secretsOf(url: string): string[] {
  try {
    const u = new URL(url);
    return [u.password, ...u.searchParams.values(), ...u.pathname.split('/').filter((s) => s.length >= 12)].filter(Boolean);
  } catch {
    return [];
  }
}
