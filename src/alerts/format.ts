/**
 * What a notification says, once, for every channel: a subject line, a plain-text body for
 * people (what happened, what to do, the last output, a link), a JSON payload for machines.
 */
import type { AlertRow, JobRow, RunRow } from '../storage/schema.js';
import { fmtDuration } from '../durations.js';
import { fmtMb, type AlertType } from './rules.js';

export type NoticeKind = 'alert' | 'recovery' | 'digest' | 'test';

export interface Notice {
  kind: NoticeKind;
  subject: string;
  /** Plain text for email. */
  text: string;
  /** Short text for chat (Slack `text`). */
  short: string;
  /** Generic JSON webhook body. */
  payload: Record<string, unknown>;
  /** The alert the notice is about (null for digests and tests). */
  alertId: number | null;
}

const LABEL: Record<AlertType, string> = {
  failure: 'FAILED',
  timeout: 'TIMED OUT',
  memory_limit: 'KILLED (memory limit)',
  oom_killed: 'OOM-KILLED',
  high_memory: 'HIGH MEMORY',
  high_duration: 'SLOW',
  consecutive_failures: 'FAILING',
  missed: 'MISSED',
  hanging: 'HANGING',
  circuit_open: 'CIRCUIT OPEN',
};

const ADVICE: Record<AlertType, string> = {
  failure: 'Read the output below and the full log of the run; run it again by hand with `smart-cron run NAME --wait` once fixed.',
  timeout: 'Check what the job was waiting for (locks, network, a slow query). If it now needs longer, raise timeout_seconds (`smart-cron jobs set NAME timeout_seconds=…`).',
  memory_limit: 'The run used more than its memory_limit_mb. Find out why it grew (input size?), or raise the limit if the growth is expected.',
  oom_killed: 'The kernel\'s OOM killer ended the run; the message above says where. At the job\'s own memory_limit_mb: find out why it grew, or raise the limit. At the slot\'s limit or the host\'s memory: check what else was running (`smart-cron slots`) and the job\'s memory estimate; a job larger than its slot\'s budget needs a larger slot.',
  high_memory: 'The run finished but used far more memory than usual. Check its input; if this is the new normal, the baseline adapts after a few runs.',
  high_duration: 'The run finished but took far longer than usual. Check for slow dependencies or growing input.',
  consecutive_failures: 'The job keeps failing. Look at the last runs (`smart-cron history NAME`); disable it (`smart-cron jobs disable NAME`) if it cannot be fixed soon.',
  missed: 'A scheduled run did not start in time. Check that the daemon is running (`smart-cron status`), whether the job\'s slot is full (`smart-cron slots`) or gone from config.yaml, and the reason in `smart-cron history`.',
  hanging: 'The run is still going, far beyond its usual duration. Look at the process; it will be killed at its timeout.',
  circuit_open: 'Runs are paused after repeated failures and resume after the cool-down. Fix the cause, then run it by hand to close the circuit.',
};

export function runLink(baseUrl: string, runId: number | null): string | null {
  return runId === null ? null : `${baseUrl.replace(/\/+$/, '')}/#/runs/${runId}`;
}

function lastLines(text: string | null | undefined, n = 20): string | null {
  if (!text) return null;
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.slice(-n).join('\n');
}

function runFacts(run: RunRow | null): string[] {
  if (!run) return [];
  const facts = [`Run:       #${run.id} (${run.trigger}, due ${run.scheduled_for}) status ${run.status}`];
  if (run.started_at) facts.push(`Started:   ${run.started_at}`);
  if (run.exit_code !== null || run.signal) facts.push(`Exit:      ${run.signal ? `signal ${run.signal}` : `code ${run.exit_code}`}`);
  if (run.duration_ms !== null) facts.push(`Duration:  ${fmtDuration(run.duration_ms)}`);
  if (run.peak_memory_mb !== null) facts.push(`Peak mem:  ${fmtMb(run.peak_memory_mb)}`);
  if (run.error_message) facts.push(`Error:     ${run.error_message}`);
  return facts;
}

export function alertPayload(alert: AlertRow, jobName: string | null, baseUrl: string): Record<string, unknown> {
  return { ...alert, job_name: jobName, url: runLink(baseUrl, alert.run_id) };
}

export function alertNotice(alert: AlertRow, job: Pick<JobRow, 'name'> | null, run: RunRow | null, baseUrl: string): Notice {
  const name = job?.name ?? `job ${alert.job_id}`;
  const type = alert.alert_type as AlertType;
  const subject = `[smart-cron] ${LABEL[type] ?? alert.alert_type.toUpperCase()} ${name}: ${alert.message}`;
  const link = runLink(baseUrl, alert.run_id);
  const out = lastLines(run?.output_tail);
  const text = [
    `${name}: ${alert.message}`,
    '',
    'What happened',
    `Alert:     ${alert.alert_type} (${alert.severity}), #${alert.id}, raised ${alert.created_at}`,
    `Job:       ${name}`,
    ...runFacts(run),
    '',
    'What to do',
    (ADVICE[type] ?? 'Look at the job and its last runs.').replaceAll('NAME', name),
    `Acknowledge: smart-cron alerts ack ${alert.id}`,
    ...(out ? ['', 'Last output lines', out] : []),
    ...(link ? ['', `Run in the dashboard: ${link}`] : []),
  ].join('\n');
  const short = `${alert.severity === 'critical' ? ':rotating_light:' : ':warning:'} *${LABEL[type] ?? alert.alert_type}* ${name}: ${alert.message}${link ? ` <${link}|run #${alert.run_id}>` : ''}`;
  return { kind: 'alert', subject, text, short, payload: { event: 'alert', alert: alertPayload(alert, name, baseUrl) }, alertId: alert.id };
}

export function recoveryNotice(resolved: AlertRow[], job: Pick<JobRow, 'name' | 'consecutive_failures'> | null, run: RunRow | null, baseUrl: string): Notice {
  const name = job?.name ?? `job ${resolved[0]?.job_id}`;
  const failures = resolved.find((a) => a.alert_type === 'failure' || a.alert_type === 'consecutive_failures');
  const total = resolved.reduce((m, a) => Math.max(m, a.alert_type === 'failure' ? a.count : 0), 0);
  const why = run?.status === 'succeeded' ? (failures && total > 0 ? `succeeded after ${total} failed run${total === 1 ? '' : 's'}` : 'succeeded') : 'the condition cleared';
  const link = runLink(baseUrl, run?.id ?? null);
  const text = [
    `${name}: ${why}.`,
    '',
    'Resolved alerts',
    ...resolved.map((a) => `- #${a.id} ${a.alert_type} (${a.severity}) x${a.count}: ${a.message}`),
    ...runFacts(run),
    ...(link ? ['', `Run in the dashboard: ${link}`] : []),
  ].join('\n');
  return {
    kind: 'recovery',
    subject: `[smart-cron] RECOVERED ${name}: ${why}`,
    text,
    short: `:white_check_mark: *RECOVERED* ${name}: ${why} (${resolved.map((a) => a.alert_type).join(', ')})`,
    payload: { event: 'recovery', job_name: name, run_id: run?.id ?? null, url: link, resolved: resolved.map((a) => alertPayload(a, name, baseUrl)) },
    alertId: resolved[0]?.id ?? null,
  };
}

export interface Suppressed {
  alertId: number | null;
  subject: string;
  at: string;
}

export function digestNotice(items: Suppressed[], windowStart: string, windowEnd: string): Notice {
  const subject = `[smart-cron] digest: ${items.length} notification${items.length === 1 ? '' : 's'} held back by the rate limit`;
  const lines = items.map((i) => `- ${i.at} ${i.subject.replace(/^\[smart-cron\] /, '')}`);
  return {
    kind: 'digest',
    subject,
    text: [`Between ${windowStart} and ${windowEnd} these notifications were not sent one by one (rate limit per hour reached):`, '', ...lines, '', 'See them all with `smart-cron alerts --open`.'].join('\n'),
    short: [`:inbox_tray: *smart-cron digest*: ${items.length} held back`, ...lines].join('\n'),
    payload: { event: 'digest', window_start: windowStart, window_end: windowEnd, items: items.map((i) => ({ alert_id: i.alertId, subject: i.subject, at: i.at })) },
    alertId: null,
  };
}

export function testNotice(at: string): Notice {
  return {
    kind: 'test',
    subject: '[smart-cron] test notification',
    text: `This is a test notification from smart-cron, sent at ${at}. If you can read it, alerts reach you on this channel.`,
    short: `smart-cron test notification (${at})`,
    payload: { event: 'test', at },
    alertId: null,
  };
}
