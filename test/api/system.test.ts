/** Slots, queue, alerts, health, overview, the cron preview and the review list. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Value from 'typebox/value';
import { AlertManager } from '../../src/alerts/manager.js';
import { AlertOut } from '../../src/api/schemas.js';
import { nextCommand } from '../../src/cli/next.js';
import { addJob, harness, type Harness, type InjectResponse } from './helpers.js';

async function insertAlert(h: Harness, jobId: number | null, over: Record<string, unknown> = {}) {
  const now = new Date(h.clock.now()).toISOString();
  return h.app.database.db
    .insertInto('smart_cron_performance_alerts')
    .values({ job_id: jobId, alert_type: 'failure', severity: 'error', message: 'job failed', created_at: now, updated_at: now, ...over })
    .returningAll()
    .executeTakeFirstOrThrow();
}

for (const backend of ['table', 'AlertManager'] as const) {
  describe(`system routes (alerts from the ${backend})`, () => {
    let h: Harness;
    let get: (url: string) => Promise<InjectResponse>;
    before(async () => {
      h = await harness();
      if (backend === 'AlertManager') {
        // Rebuild the server with the real AlertManager behind /api/alerts.
        await h.server.close();
        const { buildServer } = await import('../../src/api/server.js');
        const alerts = new AlertManager({ db: h.app.database.db, clock: h.clock, config: { alerts: h.app.config.alerts }, logger: { alert() {}, resolved() {} } as never });
        h.server = buildServer({ app: h.app, executor: h.executor, bus: h.bus, token: h.token, alerts, webRoot: '/nonexistent' });
        await h.server.ready();
      }
      get = (url) => h.server.inject({ url, headers: h.auth });
      const a = await addJob(h, 'alpha', { priority: 'critical' });
      await addJob(h, 'beta');
      await h.app.jobs.jobs.update(a.id, { consecutive_failures: 3, last_executed_at: '2026-03-01T11:00:00.000Z' });
      await h.app.jobs.registerJob({ name: 'found-1', schedule: '@daily', script_path: '/etc/cron.daily/x' }, { source: 'discovered' });
      await h.app.jobs.registerJob({ name: 'imported-1', schedule: '@hourly', command: ['/bin/y'] }, { source: 'crontab' });
      await h.executor.requestRun({ job: 'alpha' });
      await h.executor.requestRun({ job: 'beta' });
      await h.app.jobs.history.update(2, { status: 'running', started_at: '2026-03-01T12:00:00.000Z' });
      await insertAlert(h, a.id);
      await insertAlert(h, a.id, { alert_type: 'timeout', severity: 'warning', resolved_at: '2026-03-01T12:00:00.000Z' });
      await insertAlert(h, null, { alert_type: 'missed', severity: 'critical' });
    });
    after(() => h.close());

    test('GET /api/slots and /api/queue come from the executor', async () => {
      const s = (await get('/api/slots')).json();
      assert.deepEqual(s.slots.map((x: { slot: string }) => x.slot).sort(), ['default', 'heavy', 'light']);
      const def = s.slots.find((x: { slot: string }) => x.slot === 'default');
      assert.equal(def.max_memory_mb, 3072);
      assert.equal(def.current_running_jobs, 1);
      const q = (await get('/api/queue')).json();
      assert.deepEqual(q.runs.map((r: { id: number; job_name: string }) => [r.id, r.job_name]), [[1, 'alpha']]);
    });

    test('GET /api/alerts with filters and paging; POST /api/alerts/:id/ack', async () => {
      const all = (await get('/api/alerts')).json();
      assert.equal(all.alerts.length, 3);
      assert.equal(all.total, 3);
      assert.equal(all.alerts[0].alert_type, 'missed');
      // Each as documented, and nothing sent undocumented.
      for (const x of all.alerts) {
        assert.ok(Value.Check(AlertOut, x), JSON.stringify([...Value.Errors(AlertOut, x)].slice(0, 3)));
        assert.deepEqual(Object.keys(x).filter((k) => !(k in AlertOut.properties)), [], 'alert fields missing from AlertOut');
      }
      const open = (await get('/api/alerts?open=true')).json();
      assert.equal(open.alerts.length, 2);
      assert.ok(open.alerts.every((x: { open: boolean }) => x.open));
      const alpha = (await get('/api/alerts?job=alpha&limit=1')).json();
      assert.equal(alpha.alerts.length, 1);
      assert.equal(alpha.alerts[0].job_name, 'alpha');
      assert.equal(alpha.total, 2);
      h.clock.jump(90_000); // acknowledged later than it was last seen
      const ack = await h.server.inject({ method: 'POST', url: '/api/alerts/1/ack', headers: h.auth });
      assert.equal(ack.statusCode, 200);
      assert.ok(ack.json().acknowledged_at);
      assert.equal(ack.json().updated_at, all.alerts.find((x: { id: number }) => x.id === 1).updated_at, 'an acknowledgement is not a new sighting');
      // A resolved alert is over: acknowledging it is refused, with or without the daemon's manager.
      const resolved = all.alerts.find((x: { alert_type: string }) => x.alert_type === 'timeout');
      const late = await h.server.inject({ method: 'POST', url: `/api/alerts/${resolved.id}/ack`, headers: h.auth });
      assert.equal(late.statusCode, 409);
      assert.match(late.json().error.message, /resolved at 2026-03-01T12:00:00.000Z: only an open alert can be acknowledged/);
      assert.equal((await get('/api/alerts')).json().alerts.find((x: { id: number }) => x.id === resolved.id).acknowledged_at, null);
      assert.equal((await h.server.inject({ method: 'POST', url: '/api/alerts/999/ack', headers: h.auth })).statusCode, 404);
      assert.equal((await h.server.inject({ method: 'POST', url: '/api/alerts/x/ack', headers: h.auth })).json().error.field, 'id');
      assert.equal((await get('/api/alerts?open=perhaps')).json().error.field, 'open');
      assert.equal((await get('/api/alerts?job=nope')).statusCode, 404);
    });

    test('GET /api/health: counts and enabled jobs in dashboard order', async () => {
      const r = (await get('/api/health')).json();
      assert.deepEqual(r.counts, { critical: 1, warning: 0, healthy: 1 });
      assert.deepEqual(r.jobs.map((j: { name: string }) => j.name), ['alpha', 'beta']);
    });

    test('GET /api/overview: the first screen in one call', async () => {
      const r = await get('/api/overview');
      assert.equal(r.statusCode, 200);
      const o = r.json();
      assert.deepEqual(o.counts, { critical: 1, warning: 0, healthy: 1 });
      assert.deepEqual(o.jobs, { total: 4, enabled: 2 });
      assert.equal(o.slots.length, 3);
      assert.deepEqual(o.running.map((x: { id: number }) => x.id), [2]);
      assert.deepEqual(o.queued.map((x: { id: number }) => x.id), [1]);
      assert.equal(o.alerts.length, 2);
    });

    test('GET /api/schedule/preview: next times, or 400 naming the cron field', async () => {
      const ok = (await get('/api/schedule/preview?expr=' + encodeURIComponent('30 2 * * 1-5') + '&timezone=UTC&count=3')).json();
      assert.deepEqual(ok.next_runs, ['2026-03-02T02:30:00.000Z', '2026-03-03T02:30:00.000Z', '2026-03-04T02:30:00.000Z']);
      const berlin = (await get('/api/schedule/preview?expr=@daily&timezone=Europe/Berlin&count=1')).json();
      assert.deepEqual(berlin.next_runs, ['2026-03-01T23:00:00.000Z']);
      for (const [expr, msg] of [
        ['61 * * * *', /minute field "61".*out of range/],
        ['0 25 * * *', /hour field/],
        ['0 0 32 * *', /day-of-month/],
        ['0 0 * 13 *', /month field/],
        ['0 0 * * 9', /day-of-week/],
        ['* * *', /3 fields/],
        ['@fortnightly', /unknown macro/],
      ] as const) {
        const r = await get('/api/schedule/preview?expr=' + encodeURIComponent(expr));
        assert.equal(r.statusCode, 400, expr);
        assert.equal(r.json().error.field, 'expr');
        assert.match(r.json().error.message, msg);
      }
      assert.equal((await get('/api/schedule/preview?expr=@daily&timezone=Nowhere/Land')).json().error.field, 'timezone');
      assert.equal((await get('/api/schedule/preview')).json().error.field, 'expr');
      assert.equal((await get('/api/schedule/preview?expr=@daily&count=1000')).json().error.field, 'count');
      assert.equal((await get('/api/schedule/preview?expr=@daily&from=yesterday')).json().error.field, 'from');
      assert.deepEqual((await get('/api/schedule/preview?expr=@reboot')).json().next_runs, []);
    });

    test('GET /api/schedule/preview?from= reads from as `smart-cron next --from` does: the same runs, the same refusals', async () => {
      const preview = (expr: string, tz: string, from: string, count = 3) =>
        get(`/api/schedule/preview?expr=${encodeURIComponent(expr)}&timezone=${encodeURIComponent(tz)}&count=${count}&from=${encodeURIComponent(from)}`);
      const cases: Array<[expr: string, tz: string, from: string, first: string]> = [
        // A run exactly at from is listed.
        ['30 2 * * 1-5', 'UTC', '2026-03-02T02:30:00Z', '2026-03-02T02:30:00.000Z'],
        // Without an offset, from is a wall time in the schedule's zone (not UTC, not the server's).
        ['@daily', 'Europe/Berlin', '2026-03-10', '2026-03-09T23:00:00.000Z'],
        ['0 9 * * *', 'Asia/Kolkata', '2026-06-01 09:00', '2026-06-01T03:30:00.000Z'],
        // In a spring-forward gap: the first instant after it.
        ['0 * * * *', 'Europe/Berlin', '2026-03-29T02:30', '2026-03-29T01:00:00.000Z'],
        ['0 12 * * *', 'UTC', '2026-03-28T13:00:00+02:00', '2026-03-28T12:00:00.000Z'],
      ];
      for (const [expr, tz, from, first] of cases) {
        const r = await preview(expr, tz, from);
        assert.equal(r.statusCode, 200, `${expr} from ${from}: ${r.body}`);
        const runs = r.json().next_runs as string[];
        assert.equal(runs[0], first, `${expr} from ${from}`);
        assert.deepEqual(runs, nextCommand(expr, { timezone: tz, from, count: 3 }).runs.map((t) => new Date(t).toISOString()), `the CLI agrees: ${expr} from ${from}`);
      }
      // Date.parse would take each of these (2026-03-02, 2001, this year's March 7, ...).
      for (const from of ['2026-02-30', '1', 'March 7', '2026-03-28T25:00', '2026-03-28T10:00+25:00', 'Sat, 28 Mar 2026 12:00:00 GMT']) {
        const r = await preview('@daily', 'UTC', from);
        assert.equal(r.statusCode, 400, `from=${from}: ${r.body}`);
        assert.equal(r.json().error.field, 'from');
        assert.match(r.json().error.message, /^from: ".*" is not an ISO-8601 date or date-time \(expected e\.g\. 2026-03-29/);
      }
    });

    test('GET /api/review: disabled jobs from discovery and crontab import', async () => {
      const r = (await get('/api/review')).json();
      assert.deepEqual(r.jobs.map((j: { name: string }) => j.name), ['found-1', 'imported-1']);
      assert.ok(r.jobs.every((j: { enabled: boolean }) => !j.enabled));
    });
  });
}
