import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ALERT_LABEL, ALERTS, formField, initialState, MISFIRE, OVERLAP, type FormState, type JobFormProps, type Kind } from './JobForm';
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
      {error && (
        <p class="error" id={`${id}-error`} role="alert" data-testid={`error-${id.replace(/^f-/, '')}`}>
          {error}
        </p>
      )}
    </div>
  );
}

const describedBy = (id: string, error?: string, hint = false) => [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined;

export function JobFormView({ job, slots, busy, error, onSubmit, onCancel }: JobFormProps) {
  const [s, setS] = useState<FormState>(() => initialState(job));
  const [local, setLocal] = useState<Record<string, string>>({});
  const serverField = formField(error?.field ?? null);
  const errs: Record<string, string | undefined> = { ...local };
  // Next to its input the field name is implied; the API's message starts with where it looked ("body category = …").
  if (error && serverField) errs[serverField] = error.message.replace(/^body[ .]/, '');
  const formError = error && !serverField ? error.message : error && serverField && !FIELDS.has(serverField) ? error.message : undefined;

  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => {
    setS((old) => ({ ...old, [k]: v }));
    if (local[k]) setLocal(({ [k]: _, ...rest }) => rest);
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

  const choice = (k: 'priority' | 'overlap_policy' | 'misfire_policy', options: [string, string][]) => (
    <select id={`f-${k}`} value={s[k]} onChange={(e) => set(k, e.currentTarget.value)} data-testid={`input-${k}`}>
      {options.map(([v, label]) => (
        <option key={v} value={v}>
          {label}
        </option>
      ))}
    </select>
  );

  // After a failed save, take the reader to the first field that needs fixing.
  useEffect(() => {
    const bad = document.querySelector<HTMLElement>('.job-form [aria-invalid="true"], .job-form [data-testid="form-error"]');
    if (bad) {
      bad.scrollIntoView({ block: 'center' });
      if (bad.matches('input, select')) bad.focus();
    }
  }, [error, local]);

  async function submit(e: Event) {
    e.preventDefault();
    const problems = (await onSubmit(s)) ?? {};
    setLocal(problems);
  }

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
          <Field id="f-script_path" label="Script path" error={errs.script_path}>
            <input {...text('script_path')} placeholder="/opt/cron/backup.sh" spellcheck={false} />
          </Field>
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
      </fieldset>
      <fieldset>
        <legend>When</legend>
        <div class="row">
          <Field id="f-schedule" label="Schedule (cron)" error={errs.schedule} hint={<SchedulePreview id="f-schedule-preview" expr={s.schedule} timezone={s.timezone} />}>
            <input {...text('schedule', { hint: true })} class="mono" required spellcheck={false} autocomplete="off" />
          </Field>
          <Field id="f-timezone" label="Timezone" error={errs.timezone}>
            <input {...text('timezone')} placeholder="host's timezone" list="timezones" />
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

const FIELDS = new Set(['name', 'description', 'command', 'script_path', 'schedule', 'timezone', 'priority', 'category', 'slot', 'timeout_seconds', 'estimated_memory_mb', 'memory_limit_mb', 'overlap_policy', 'misfire_policy', 'retries', 'retry_backoff_seconds', 'tags', 'alerts']);
