import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  ALERT_LABEL,
  ALERTS,
  FIELDS,
  formField,
  initialState,
  MISFIRE,
  notDefault,
  OVERLAP,
  REQUIRES_MODE,
  SCRIPT_TYPES,
  SECTIONS,
  type FormState,
  type JobFormProps,
  type Kind,
  type SectionId,
} from './JobForm';
import { SchedulePreview } from './SchedulePreview';

function Field({ id, label, error, hint, children }: { id: string; label: string; error?: string; hint?: ComponentChildren; children: ComponentChildren }) {
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={id}>{label}</label>
      {children}
      {hint && (
        <div class="hint" id={`${id}-hint`}>
          {hint}
        </div>
      )}
      {error && <FieldError id={id} error={error} />}
    </div>
  );
}

function FieldError({ id, error }: { id: string; error: string }) {
  return (
    <p class="error" id={`${id}-error`} role="alert" data-testid={`error-${id.replace(/^f-/, '')}`}>
      {error}
    </p>
  );
}

const describedBy = (id: string, error?: string, hint = false) => [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined;

export function JobFormView({ job, slots, busy, error, onSubmit, onCancel }: JobFormProps) {
  const [s, setS] = useState<FormState>(() => initialState(job));
  const [local, setLocal] = useState<Record<string, string>>({});
  // On edit, a folded section starts open when it holds a value other than the default.
  const [opened, setOpened] = useState<Partial<Record<SectionId, boolean>>>(() => {
    if (!job) return {};
    const loaded = initialState(job);
    return Object.fromEntries((Object.keys(SECTIONS) as SectionId[]).map((id) => [id, notDefault(loaded, id).length > 0]));
  });
  const serverField = formField(error?.field ?? null);
  // The API's answer about a field is about the value it was sent: once that field is edited, it no longer applies.
  const [answered, setAnswered] = useState<typeof error>(null);
  const errs: Record<string, string | undefined> = { ...local };
  // Next to its input the field name is implied; the API's message starts with where it looked ("body category = …").
  if (error && serverField && error !== answered) errs[serverField] = error.message.replace(/^body[ .]/, '');
  const formError = error && !serverField ? error.message : error && serverField && !FIELDS.has(serverField) ? error.message : undefined;

  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => {
    setS((old) => ({ ...old, [k]: v }));
    if (local[k]) setLocal(({ [k]: _, ...rest }) => rest);
    if (error && serverField === k) setAnswered(error);
  };
  const text = (k: keyof FormState, extra: Record<string, unknown> = {}) => ({
    id: `f-${k}`,
    value: s[k] as string,
    onInput: (e: Event) => set(k, (e.currentTarget as HTMLInputElement).value as never),
    'aria-invalid': errs[k] ? ('true' as const) : undefined,
    'aria-describedby': describedBy(`f-${k}`, errs[k], 'hint' in extra),
    'data-testid': `input-${k}`,
    ...extra,
  });

  const choice = (k: 'priority' | 'overlap_policy' | 'misfire_policy' | 'requires_mode' | 'script_type', options: [string, string][]) => (
    <select id={`f-${k}`} value={s[k]} onChange={(e) => set(k, e.currentTarget.value)} data-testid={`input-${k}`} aria-invalid={errs[k] ? 'true' : undefined} aria-describedby={describedBy(`f-${k}`, errs[k])}>
      {options.map(([v, label]) => (
        <option key={v} value={v}>
          {label}
        </option>
      ))}
    </select>
  );

  /** A yes/no setting: its checkbox, its words, and the API's complaint about it if any. */
  const check = (k: 'retry_on_timeout' | 'retry_on_memory' | 'manual_respects_overlap', label: ComponentChildren) => (
    <div class={`field check-field${errs[k] ? ' invalid' : ''}`}>
      <label class="check">
        <input type="checkbox" id={`f-${k}`} checked={s[k]} onChange={(e) => set(k, e.currentTarget.checked)} data-testid={`input-${k}`} aria-invalid={errs[k] ? 'true' : undefined} aria-describedby={describedBy(`f-${k}`, errs[k])} />
        <span>{label}</span>
      </label>
      {errs[k] && <FieldError id={`f-${k}`} error={errs[k]!} />}
    </div>
  );

  /** A folded group of the rarer settings; it opens by itself when one of its fields has an error. */
  const section = (id: SectionId, children: ComponentChildren) => {
    const bad = SECTIONS[id].fields.some((f) => errs[f]);
    const changed = notDefault(s, id).length;
    return (
      <details
        class={`more${bad ? ' invalid' : ''}`}
        open={bad || Boolean(opened[id])}
        onToggle={(e) => {
          const open = (e.currentTarget as HTMLDetailsElement).open;
          setOpened((old) => (Boolean(old[id]) === open ? old : { ...old, [id]: open }));
        }}
        data-testid={`section-${id}`}
      >
        <summary data-testid={`summary-${id}`}>
          {SECTIONS[id].title}
          {changed > 0 && (
            <span class="badge tone-active" title="settings here that differ from the default">
              {changed} set
            </span>
          )}
          {bad && <span class="badge tone-bad">needs a fix</span>}
        </summary>
        <div class="more-body">{children}</div>
      </details>
    );
  };

  // After a failed save, take the reader to the first field that needs fixing (opening its section if it was folded).
  useEffect(() => {
    const bad = document.querySelector<HTMLElement>('.job-form [aria-invalid="true"], .job-form [data-testid="form-error"]');
    if (bad) {
      const folded = bad.closest('details');
      if (folded && !folded.open) folded.open = true;
      bad.scrollIntoView({ block: 'center' });
      if (bad.matches('input, select, textarea')) bad.focus();
    }
  }, [error, local]);

  async function submit(e: Event) {
    e.preventDefault();
    const problems = (await onSubmit(s)) ?? {};
    setLocal(problems);
  }

  // Not set (null) cannot be sent back once a type is stored, so it is offered only while none is.
  const scriptTypes = job?.script_type ? SCRIPT_TYPES.filter(([v]) => v !== '') : SCRIPT_TYPES;

  return (
    <form class="job-form card" onSubmit={submit} noValidate data-testid="job-form">
      {formError && (
        <p class="error" role="alert" data-testid="form-error">
          {formError}
        </p>
      )}
      <fieldset>
        <legend>Job</legend>
        <Field id="f-name" label="Name" error={errs.name}>
          <input {...text('name')} required disabled={Boolean(job)} autocomplete="off" spellcheck={false} />
        </Field>
        <Field id="f-description" label="Description" error={errs.description}>
          <input {...text('description')} />
        </Field>
        <div class="field">
          <span class="label" id="kind-label">
            What to run
          </span>
          <div class="segmented" role="radiogroup" aria-labelledby="kind-label">
            {(['command', 'shell', 'script'] as Kind[]).map((k) => (
              <label key={k} class="radio">
                <input type="radio" name="kind" value={k} checked={s.kind === k} onChange={() => set('kind', k)} data-testid={`kind-${k}`} />
                {k === 'command' ? 'Command (no shell)' : k === 'shell' ? 'Shell line' : 'Script'}
              </label>
            ))}
          </div>
        </div>
        {s.kind === 'script' ? (
          <div class="row">
            <Field id="f-script_path" label="Script path" error={errs.script_path}>
              <input {...text('script_path')} placeholder="/opt/cron/backup.sh" spellcheck={false} />
            </Field>
            <Field id="f-script_type" label="Run it with" error={errs.script_type}>
              {choice('script_type', scriptTypes)}
            </Field>
          </div>
        ) : (
          <Field
            id="f-command"
            label={s.kind === 'shell' ? 'Shell line (run by /bin/sh -c)' : 'Command'}
            error={errs.command}
            hint={s.kind === 'command' ? 'Split into words like a shell would, but never run by one: no pipes, globs or $VARS.' : undefined}
          >
            <input {...text('command', s.kind === 'command' ? { hint: true } : {})} class="mono" spellcheck={false} placeholder={s.kind === 'shell' ? 'pg_dump app | gzip > /backups/app.gz' : '/usr/bin/php /var/www/artisan report:daily'} />
          </Field>
        )}
        {section(
          'environment',
          <>
            <div class="row">
              <Field id="f-working_dir" label="Working directory" error={errs.working_dir} hint="Empty: the home of the user it runs as, as cron does.">
                <input {...text('working_dir', { hint: true })} class="mono" spellcheck={false} placeholder="/var/www/app" />
              </Field>
              <Field id="f-run_as_user" label="Run as user" error={errs.run_as_user} hint="Only when the daemon runs as root. Empty: the daemon's user.">
                <input {...text('run_as_user', { hint: true })} spellcheck={false} autocomplete="off" placeholder="www-data" />
              </Field>
            </div>
            <Field id="f-env" label="Environment variables" error={errs.env} hint="One NAME=value a line. The value is taken as written: no quotes removed, no $VARS expanded.">
              <textarea {...text('env', { hint: true })} class="mono" rows={3} spellcheck={false} placeholder={'APP_ENV=production\nLOG_LEVEL=info'} />
            </Field>
          </>,
        )}
      </fieldset>
      <fieldset>
        <legend>When</legend>
        <div class="row">
          <Field id="f-schedule" label="Schedule (cron)" error={errs.schedule} hint={<SchedulePreview id="f-schedule-preview" expr={s.schedule} timezone={s.timezone} />}>
            <input {...text('schedule', { hint: true })} class="mono" required spellcheck={false} autocomplete="off" />
          </Field>
          <Field id="f-timezone" label="Timezone" error={errs.timezone} hint={<>Empty: the home's (<code>timezone</code> in config.yaml, else the machine's).</>}>
            <input {...text('timezone', { hint: true })} placeholder="the home's timezone" list="timezones" />
            <datalist id="timezones">
              {['UTC', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Asia/Tokyo'].map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
          </Field>
        </div>
      </fieldset>
      <fieldset>
        <legend>Class and limits</legend>
        <div class="row">
          <Field id="f-priority" label="Priority" error={errs.priority}>
            {choice('priority', ['critical', 'high', 'medium', 'low'].map((p) => [p, p]))}
          </Field>
          <Field id="f-category" label="Category" error={errs.category}>
            <input {...text('category')} placeholder="e.g. backup" />
          </Field>
          <Field id="f-slot" label="Slot" error={errs.slot}>
            <input {...text('slot')} list="slot-names" />
            <datalist id="slot-names">
              {['auto', ...new Set(['default', 'heavy', 'light', ...slots])].map((n) => (
                <option key={n} value={n} />
              ))}
            </datalist>
          </Field>
        </div>
        <div class="row">
          <Field id="f-timeout_seconds" label="Timeout (s)" error={errs.timeout_seconds}>
            <input {...text('timeout_seconds')} inputMode="numeric" placeholder="3600" />
          </Field>
          <Field id="f-estimated_memory_mb" label="Estimated memory (MB)" error={errs.estimated_memory_mb}>
            <input {...text('estimated_memory_mb')} inputMode="decimal" placeholder="256" />
          </Field>
          <Field id="f-memory_limit_mb" label="Memory limit (MB)" error={errs.memory_limit_mb}>
            <input {...text('memory_limit_mb')} inputMode="decimal" placeholder="none" />
          </Field>
        </div>
        {section(
          'cost',
          <>
            <div class="row">
              <Field id="f-estimated_cpu_percent" label="Estimated CPU (%)" error={errs.estimated_cpu_percent} hint="100 = the whole machine. Reserved in the slot's CPU budget until runs are measured.">
                <input {...text('estimated_cpu_percent', { hint: true })} inputMode="decimal" placeholder="10" />
              </Field>
              <Field id="f-estimated_duration_seconds" label="Estimated duration (s)" error={errs.estimated_duration_seconds} hint="Orders runs due together until runs are measured. Empty: not stated.">
                <input {...text('estimated_duration_seconds', { hint: true })} inputMode="decimal" placeholder="not stated" />
              </Field>
            </div>
            <div class="row">
              <Field id="f-cpu_weight" label="CPU weight" error={errs.cpu_weight} hint="With slot auto: a weight below 0.5 picks light, above 1.5 heavy.">
                <input {...text('cpu_weight', { hint: true })} inputMode="decimal" placeholder="1" />
              </Field>
              <Field id="f-memory_weight" label="Memory weight" error={errs.memory_weight} hint="From 0 to 100; 1 is an ordinary job.">
                <input {...text('memory_weight', { hint: true })} inputMode="decimal" placeholder="1" />
              </Field>
            </div>
          </>,
        )}
      </fieldset>
      <fieldset>
        <legend>Policies</legend>
        <div class="row">
          <Field id="f-overlap_policy" label="When the last run still goes" error={errs.overlap_policy}>
            {choice('overlap_policy', OVERLAP)}
          </Field>
          <Field id="f-misfire_policy" label="After downtime" error={errs.misfire_policy}>
            {choice('misfire_policy', MISFIRE)}
          </Field>
        </div>
        <div class="row">
          <Field id="f-retries" label="Retries after a failure" error={errs.retries}>
            <input {...text('retries')} inputMode="numeric" placeholder="0" />
          </Field>
          <Field id="f-retry_backoff_seconds" label="Between retries (s, doubling)" error={errs.retry_backoff_seconds}>
            <input {...text('retry_backoff_seconds')} inputMode="numeric" placeholder="30" />
          </Field>
        </div>
        {section(
          'retries',
          <>
            <div class="checks">
              {check('retry_on_timeout', 'Also retry a run that timed out')}
              {check('retry_on_memory', 'Also retry a run killed for memory')}
            </div>
            <div class="row">
              <Field id="f-circuit_failure_threshold" label="Circuit opens after (failures in a row)" error={errs.circuit_failure_threshold} hint="An open circuit skips the job's runs until its cooldown is over, then tries one.">
                <input {...text('circuit_failure_threshold', { hint: true })} inputMode="numeric" placeholder="5" />
              </Field>
              <Field id="f-circuit_cooldown_seconds" label="Circuit cooldown (s)" error={errs.circuit_cooldown_seconds} hint="Doubles each time the circuit opens again.">
                <input {...text('circuit_cooldown_seconds', { hint: true })} inputMode="numeric" placeholder="1800" />
              </Field>
            </div>
          </>,
        )}
        {section(
          'catchup',
          <div class="row">
            <Field id="f-max_catchup_runs" label="Catch-up runs at most" error={errs.max_catchup_runs} hint="After downtime, with run each missed tick: how many of the missed ticks run.">
              <input {...text('max_catchup_runs', { hint: true })} inputMode="numeric" placeholder="100" />
            </Field>
            <Field id="f-starting_deadline_seconds" label="Starting deadline (s)" error={errs.starting_deadline_seconds} hint="A run still waiting this long after its time is skipped. Empty: no deadline.">
              <input {...text('starting_deadline_seconds', { hint: true })} inputMode="numeric" placeholder="no deadline" />
            </Field>
          </div>,
        )}
        {section(
          'coordination',
          <>
            <div class="row">
              <Field id="f-requires_mode" label="When a job it requires has not succeeded" error={errs.requires_mode} hint={<>Which jobs it requires: <code>smart-cron deps add</code>.</>}>
                {choice('requires_mode', REQUIRES_MODE)}
              </Field>
              <Field id="f-requires_wait_seconds" label="Wait at most (s)" error={errs.requires_wait_seconds} hint="With wait: then the run is skipped.">
                <input {...text('requires_wait_seconds', { hint: true })} inputMode="numeric" placeholder="3600" />
              </Field>
            </div>
            <div class="row">
              <Field id="f-mutex_group" label="Mutex group" error={errs.mutex_group} hint="Jobs in the same group never run at the same time, on any node. Empty: none.">
                <input {...text('mutex_group', { hint: true })} spellcheck={false} autocomplete="off" placeholder="none" />
              </Field>
            </div>
            {check('manual_respects_overlap', <>“Run now” respects the overlap policy (with “skip the new tick”, it is refused while a run goes)</>)}
          </>,
        )}
      </fieldset>
      <fieldset data-testid="alert-switches">
        <legend>Alert when</legend>
        <div class="checks">
          {ALERTS.map((a) => (
            <label key={a} class="check">
              <input type="checkbox" checked={s.alerts[a]} onChange={(e) => set('alerts', { ...s.alerts, [a]: e.currentTarget.checked })} data-testid={`alert-${a}`} />
              {ALERT_LABEL[a]}
            </label>
          ))}
        </div>
        {errs.alerts && <p class="error" role="alert">{errs.alerts}</p>}
        {section(
          'alerting',
          <>
            <Field id="f-alert_emails" label="Email alerts to" error={errs.alert_emails} hint="Separated by commas or spaces. Instead of the daemon's recipients; empty: the daemon's.">
              <input {...text('alert_emails', { hint: true })} spellcheck={false} autocomplete="off" placeholder="ops@example.com" />
            </Field>
            <div class="row">
              <Field
                id="f-consecutive_failure_threshold"
                label="Alert after failures in a row"
                error={errs.consecutive_failure_threshold}
                hint={job?.user_overrides && !job.user_overrides.includes('consecutive_failure_threshold') ? "Not set for this job: the daemon's threshold applies until you change it." : "Until you change it, the daemon's threshold applies."}
              >
                <input {...text('consecutive_failure_threshold', { hint: true })} inputMode="numeric" placeholder="3" />
              </Field>
              <Field id="f-missed_grace_seconds" label="Missed after (s late)" error={errs.missed_grace_seconds} hint="How late a run may start before it counts as missed. Empty: the daemon's setting.">
                <input {...text('missed_grace_seconds', { hint: true })} inputMode="numeric" placeholder="daemon's" />
              </Field>
            </div>
          </>,
        )}
      </fieldset>
      <fieldset>
        <legend>Other</legend>
        <Field id="f-tags" label="Tags" error={errs.tags} hint="Separated by commas or spaces.">
          <input {...text('tags', { hint: true })} spellcheck={false} />
        </Field>
        {!job && (
          <label class="check">
            <input type="checkbox" checked={s.enabled} onChange={(e) => set('enabled', e.currentTarget.checked)} data-testid="input-enabled" />
            Enabled (runs on its schedule)
          </label>
        )}
        {section(
          'placement',
          <div class="row">
            <Field id="f-node_selector" label="Node labels required" error={errs.node_selector} hint="One label=value a line: the job runs only on nodes that have all of them.">
              <textarea {...text('node_selector', { hint: true })} class="mono" rows={2} spellcheck={false} placeholder={'disk=ssd\nregion=eu'} />
            </Field>
            <Field id="f-pinned_node" label="Pinned to node" error={errs.pinned_node} hint="Runs only on this node (its node id). Empty: any node.">
              <input {...text('pinned_node', { hint: true })} spellcheck={false} autocomplete="off" placeholder="any node" />
            </Field>
          </div>,
        )}
      </fieldset>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy} data-testid="save-job">
          {busy ? 'Saving…' : job ? 'Save changes' : 'Create job'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
