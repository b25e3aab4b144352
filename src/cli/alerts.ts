import type { Command } from 'commander';
import { AlertManager } from '../alerts/manager.js';
import { ValidationError } from '../errors.js';
import type { App } from '../daemon/app.js';
import type { CliContext } from './context.js';
import { formatTable, print, printJson, when } from './output.js';
import { decimalWhole } from './words.js';

function alertManager(app: App): AlertManager {
  // The CLI only reads, acknowledges and tests, and prints each outcome itself: no log lines.
  const quiet = { warn() {}, info() {}, error() {} };
  return new AlertManager({ db: app.database.db, clock: app.clock, config: app.config, logger: quiet });
}

async function withAlerts<T>(ctx: CliContext, fn: (am: AlertManager, app: App) => Promise<T>): Promise<T> {
  return ctx.withApp(async (app) => {
    const am = alertManager(app);
    try {
      return await fn(am, app);
    } finally {
      await am.close();
    }
  });
}

function positiveInt(text: string, flag: string): number {
  const n = decimalWhole(text);
  if (n === null || n < 1) {
    throw new ValidationError(`${flag}: "${text}" is not an alert id (expected a whole number from 1, see \`smart-cron alerts\`)`, flag);
  }
  return n;
}

export function register(program: Command, ctx: CliContext): void {
  const alerts = program.command('alerts').description('list alerts (newest first); `alerts ack ID` acknowledges one, `alerts test` sends a test notification');

  // The default: `alerts [--open …]` and `alerts list [--open …]` alike (as `jobs list`).
  alerts
    .command('list', { isDefault: true })
    .description('list alerts, newest first (the default)')
    .option('--open', 'only alerts that have not resolved')
    .option('--job <name>', 'only alerts of this job (name or id)')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (o: { open?: boolean; job?: string; limit: string }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10000) {
        throw new ValidationError(`--limit: "${o.limit}" is not a whole number from 1 to 10000`, 'limit');
      }
      await withAlerts(ctx, async (am, app) => {
        const jobId = o.job !== undefined ? (await app.jobs.getJob(o.job)).id : undefined;
        const { alerts: rows, total } = await am.list({ open: o.open, jobId, limit });
        if (ctx.globals().json) return printJson(rows);
        if (rows.length === 0) return print(o.open ? 'no open alerts' : 'no alerts');
        const now = app.clock.now();
        print(
          formatTable(rows, [
            { header: 'id', get: (r) => r.id, align: 'right' },
            { header: 'job', get: (r) => r.job_name, max: 32 },
            { header: 'type', get: (r) => r.alert_type },
            { header: 'severity', get: (r) => r.severity },
            { header: 'count', get: (r) => r.count, align: 'right' },
            { header: 'state', get: (r) => (r.resolved_at ? 'resolved' : r.acknowledged_at ? 'acknowledged' : 'open') },
            { header: 'notified', get: (r) => r.notification_status },
            { header: 'last seen', get: (r) => when(r.updated_at, now) },
            { header: 'message', get: (r) => r.message, max: 60 },
          ]),
        );
        if (total > rows.length) print(`(${rows.length} of ${total}; use --limit)`);
      });
    });

  alerts
    .command('ack')
    .description('acknowledge an alert: a person has seen it (it stays open until its condition clears)')
    .argument('<id>', 'alert id')
    .action(async (idText: string) => {
      const id = positiveInt(idText, 'id');
      await withAlerts(ctx, async (am) => {
        const row = await am.acknowledge(id);
        if (ctx.globals().json) return printJson(row);
        print(`acknowledged alert #${row.id} (${row.alert_type}, ${row.severity}) at ${row.acknowledged_at}`);
      });
    });

  alerts
    .command('test')
    .description('send a test notification now (to the configured channels unless --email/--webhook) and report each result')
    .option('--email <addr>', 'send the test mail to this address')
    .option('--webhook <url>', 'post the test to this webhook URL')
    .option('--format <f>', 'webhook body: json or slack', 'json')
    .action(async (o: { email?: string; webhook?: string; format: string }) => {
      if (o.format !== 'json' && o.format !== 'slack') {
        throw new ValidationError(`--format: "${o.format}" is not a webhook format (expected json or slack)`, 'format');
      }
      if (o.email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(o.email)) {
        throw new ValidationError(`--email: "${o.email}" is not an email address`, 'email');
      }
      if (o.webhook !== undefined && !/^https?:\/\//.test(o.webhook)) {
        throw new ValidationError(`--webhook: "${o.webhook}" is not an http(s) URL`, 'webhook');
      }
      await withAlerts(ctx, async (am) => {
        const r = await am.test({ email: o.email, webhook: o.webhook, format: o.format as 'json' | 'slack' });
        const describe = (x: (typeof r.results)[number]) => `${x.channel} ${x.target}${x.channel === 'email' ? ` via ${am.smtpServer}` : ''}`;
        if (ctx.globals().json) printJson(r);
        else for (const x of r.results) print(x.status === 'sent' ? `sent    ${describe(x)}` : `FAILED  ${describe(x)}: ${x.error}`);
        // Each failure is on its FAILED line already: the exit code says the rest, not the same text again.
        if (!r.ok) process.exitCode = 1;
      });
    });
}
