import { useState } from 'preact/hooks';
import { deliveryState } from '../alert-delivery';
import { ApiError, post } from '../api';
import { words } from '../format';
import type { Alert } from '../types';
import { notify } from './toast';
import { SeverityBadge, Time } from './ui';

/** Whether the people were told, in a few words (the CLI's NOTIFIED column); a failure says why. */
function Delivery({ alert }: { alert: Alert }) {
  const d = deliveryState(alert);
  return (
    <span class={d.title ? `${d.tone} alert-notify-error` : d.tone} title={d.title} data-testid="alert-notified" data-status={alert.notification_status}>
      {d.text}
      {d.when && (
        <>
          {' '}
          <Time iso={d.when} />
        </>
      )}
    </span>
  );
}

function AlertItem({ alert, onChanged }: { alert: Alert; onChanged: (a: Alert) => void }) {
  const [busy, setBusy] = useState(false);
  async function ack() {
    setBusy(true);
    try {
      const updated = await post<Alert | undefined>(`/api/alerts/${alert.id}/ack`);
      onChanged(updated && typeof updated === 'object' && 'id' in updated ? updated : { ...alert, acknowledged_at: new Date().toISOString() });
    } catch (e) {
      notify(`Could not acknowledge: ${(e as ApiError).message}`, 'bad');
    } finally {
      setBusy(false);
    }
  }
  const state = alert.resolved_at ? 'resolved' : alert.acknowledged_at ? 'acknowledged' : 'open';
  return (
    <li class={`alert alert-${state} alert-sev-${alert.severity}`} data-testid="alert-item" data-alert-id={alert.id} data-state={state}>
      <div class="alert-head">
        <SeverityBadge severity={alert.severity} />
        <strong>{words(alert.alert_type)}</strong>
        {alert.job_id !== null && <a href={`#/jobs/${alert.job_id}`}>{alert.job_name ?? `job #${alert.job_id}`}</a>}
        {alert.count > 1 && <span class="muted">×{alert.count}</span>}
        <span class="spacer" />
        {/* Two instants of one alert: each says which it is (a repeat moves "last seen", never "raised"). */}
        <span class="muted" data-testid="alert-times">
          raised <Time iso={alert.created_at} testid="alert-raised" />
          {alert.count > 1 && (
            <>
              {' · last seen '}
              <Time iso={alert.updated_at} testid="alert-last-seen" />
            </>
          )}
        </span>
      </div>
      <p class="alert-message">{alert.message}</p>
      <div class="alert-foot">
        {alert.run_id !== null && <a href={`#/runs/${alert.run_id}`}>run #{alert.run_id}</a>}
        <span class="muted" data-testid="alert-state">
          {state}
          {state === 'acknowledged' && <> <Time iso={alert.acknowledged_at} /></>}
          {state === 'resolved' && <> <Time iso={alert.resolved_at} /></>}
        </span>
        <Delivery alert={alert} />
        {state === 'open' && (
          <button type="button" onClick={ack} disabled={busy} data-testid="alert-ack">
            Acknowledge
          </button>
        )}
      </div>
    </li>
  );
}

export function AlertList({ alerts, onChanged, testid = 'alerts' }: { alerts: Alert[]; onChanged: (a: Alert) => void; testid?: string }) {
  return (
    <ul class="alerts" data-testid={testid}>
      {alerts.map((a) => (
        <AlertItem key={a.id} alert={a} onChanged={onChanged} />
      ))}
    </ul>
  );
}
