import type { Command } from 'commander';
import { fmtDuration } from '../durations.js';
import { ValidationError } from '../errors.js';
import type { CliContext } from './context.js';
import { formatTable, print, printJson, when } from './output.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('health')
    .description('health of the enabled jobs: counts, then each job in the dashboard order')
    .action(async () => {
      await ctx.withApp(async (app) => {
        const s = await app.jobs.getJobHealthSummary();
        if (ctx.globals().json) return printJson(s);
        const now = app.clock.now();
        print(`critical ${s.counts.critical}   warning ${s.counts.warning}   healthy ${s.counts.healthy}`);
        if (s.jobs.length === 0) return print('no enabled jobs');
        print(
          formatTable(s.jobs, [
            { header: 'name', get: (r) => r.name, max: 40 },
            { header: 'health', get: (r) => r.health_status },
            { header: 'status', get: (r) => r.execution_status },
            { header: 'priority', get: (r) => r.priority },
            { header: 'last run', get: (r) => when(r.last_executed_at as string | null, now) },
            { header: 'next run', get: (r) => when(r.next_scheduled_run as string | null, now) },
            { header: '24h runs', get: (r) => r.executions_24h, align: 'right' },
            { header: 'fail', get: (r) => r.failures_24h, align: 'right' },
            { header: 'consec', get: (r) => r.consecutive_failures, align: 'right' },
          ]),
        );
      });
    });

  program
    .command('trends')
    .description("a job's performance per day: runs, failures, duration and memory")
    .argument('<name>', 'job name or id')
    .option('--days <n>', 'how many days: UTC calendar days, today included (1 = today)', '30')
    .action(async (name: string, o: { days: string }) => {
      const days = Number(o.days);
      if (!Number.isInteger(days) || days < 1 || days > 3650) {
        throw new ValidationError(`--days: "${o.days}" is not a whole number of days from 1 to 3650`, 'days');
      }
      await ctx.withApp(async (app) => {
        const rows = await app.jobs.getPerformanceTrends(name, { days });
        if (ctx.globals().json) return printJson(rows);
        if (rows.length === 0) return print(`no finished runs of ${name} ${days === 1 ? 'today (UTC)' : `in the last ${days} days (UTC calendar days, today included)`}`);
        const s = (ms: number | null) => (ms === null ? null : fmtDuration(ms));
        const mb = (m: number | null) => (m === null ? null : `${m.toFixed(1)} MB`);
        print(
          formatTable(rows, [
            { header: 'day (UTC)', get: (r) => r.day },
            { header: 'runs', get: (r) => r.runs, align: 'right' },
            { header: 'failures', get: (r) => r.failures, align: 'right' },
            { header: 'avg duration', get: (r) => s(r.avg_duration_ms), align: 'right' },
            { header: 'max duration', get: (r) => s(r.max_duration_ms), align: 'right' },
            { header: 'avg memory', get: (r) => mb(r.avg_memory_mb), align: 'right' },
            { header: 'max memory', get: (r) => mb(r.max_memory_mb), align: 'right' },
          ]),
        );
      });
    });
}
