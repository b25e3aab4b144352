/**
 * Whether the people were told about an alert, in a few words (the CLI's NOTIFIED column), for
 * the dashboard's alert cards. A notice that failed says why; one still being retried says so,
 * with the last error (retries go on for hours, after a restart too).
 */
import type { Alert } from './types.js';

export interface DeliveryState {
  tone: 'muted' | 'warn' | 'bad';
  /** The words on the card; `when` follows them for a sent notice. */
  text: string;
  /** The whole error, for a tooltip. */
  title?: string;
  when?: string;
}

export function deliveryState(alert: Pick<Alert, 'notification_status' | 'notification_error' | 'notified_at'>): DeliveryState {
  const s = alert.notification_status;
  const error = alert.notification_error ?? undefined;
  if (s === 'sent') return { tone: 'muted', text: 'notified', when: alert.notified_at ?? undefined };
  if (s === 'failed') return { tone: 'bad', text: `not delivered: ${error ?? 'no reason recorded'}`, title: error ?? 'no reason recorded' };
  if (s === 'pending' && error) return { tone: 'warn', text: `not delivered yet, retrying: ${error}`, title: error };
  const words: Record<string, string> = { pending: 'notifying…', suppressed: 'held back by the rate limit (in the next digest)', none: 'no channel to notify' };
  const text = words[s] ?? s;
  return { tone: 'muted', text };
}
