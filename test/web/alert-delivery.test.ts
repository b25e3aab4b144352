/**
 * What an alert card says about its notice (web/src/alert-delivery.ts), for each state the API
 * reports: a notice still being retried after a failure says so with the error, not "notifying…".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deliveryState } from '../../web/src/alert-delivery.js';

const err = 'email ops@example.org: connect ECONNREFUSED 127.0.0.1:2525';

test('each delivery state in words, with the error where there is one', () => {
  const cases: [Parameters<typeof deliveryState>[0], ReturnType<typeof deliveryState>][] = [
    [{ notification_status: 'sent', notification_error: null, notified_at: '2026-12-07T10:00:00.000Z' }, { tone: 'muted', text: 'notified', when: '2026-12-07T10:00:00.000Z' }],
    [{ notification_status: 'failed', notification_error: err, notified_at: null }, { tone: 'bad', text: `not delivered: ${err}`, title: err }],
    [{ notification_status: 'pending', notification_error: err, notified_at: null }, { tone: 'warn', text: `not delivered yet, retrying: ${err}`, title: err }],
    [{ notification_status: 'pending', notification_error: null, notified_at: null }, { tone: 'muted', text: 'notifying…' }],
    [{ notification_status: 'suppressed', notification_error: null, notified_at: null }, { tone: 'muted', text: 'held back by the rate limit (in the next digest)' }],
    [{ notification_status: 'none', notification_error: null, notified_at: null }, { tone: 'muted', text: 'no channel to notify' }],
  ];
  for (const [alert, want] of cases) assert.deepEqual(deliveryState(alert), want, alert.notification_status);
});
