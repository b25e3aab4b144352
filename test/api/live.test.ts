/** Server-sent events over real HTTP, and Prometheus /metrics. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../../src/api/server.js';
import { addJob, harness, type Harness } from './helpers.js';

interface SseClient {
  events: Array<{ event: string; data: unknown }>;
  comments: number;
  status: number;
  headers: Record<string, unknown>;
  waitFor(pred: (e: { event: string; data: unknown }) => boolean, ms?: number): Promise<{ event: string; data: unknown }>;
  close(): void;
}

function connect(base: string, headers: Record<string, string>): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/events`, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const client: SseClient = {
        events: [],
        comments: 0,
        status: res.statusCode ?? 0,
        headers: res.headers,
        async waitFor(pred, ms = 3000) {
          const end = Date.now() + ms;
          while (Date.now() < end) {
            const hit = client.events.find(pred);
            if (hit) return hit;
            await new Promise((r) => setTimeout(r, 10));
          }
          throw new Error(`no matching event in ${ms} ms; got ${JSON.stringify(client.events)}`);
        },
        close: () => req.destroy(),
      };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.startsWith(':')) client.comments++;
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev && data) client.events.push({ event: ev, data: JSON.parse(data) });
        }
      });
      res.on('error', () => {});
      resolve(client);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('server-sent events', () => {
  let h: Harness;
  let base: string;
  before(async () => {
    h = await harness({ sseHeartbeatMs: 50 });
    base = await startServer(h.server, { host: '127.0.0.1', port: 0, allow_remote: false });
    await addJob(h, 'ping');
  });
  after(() => h.close());

  test('delivers run.queued and run.finished in the REST shapes, heartbeats, and cleans up on disconnect', async () => {
    const before = h.bus.listenerCount('run.finished');
    const c = await connect(base, h.auth);
    assert.equal(c.status, 200);
    assert.match(String(c.headers['content-type']), /^text\/event-stream/);
    assert.equal(h.bus.listenerCount('run.finished'), before + 1);

    const queued = await fetch(`${base}/api/jobs/ping/run`, { method: 'POST', headers: h.auth });
    const run = (await queued.json()) as { id: number };
    const q = await c.waitFor((e) => e.event === 'run.queued');
    assert.equal((q.data as { id: number }).id, run.id);
    assert.equal((q.data as { job_name: string }).job_name, 'ping', 'runs name their job, as /api/runs does');

    await h.app.jobs.recordExecution(run.id, { status: 'failed', exit_code: 1, duration_ms: 10 });
    const finished = (await h.app.jobs.history.byId(run.id))!;
    h.bus.emit('run.finished', finished);
    const f = await c.waitFor((e) => e.event === 'run.finished');
    const data = f.data as Record<string, unknown>;
    assert.equal(data.id, run.id);
    assert.equal(data.status, 'failed');
    assert.equal(data.output_truncated, false, 'same presented shape as /api/runs');
    const rest = (await (await fetch(`${base}/api/runs/${run.id}`, { headers: h.auth })).json()) as Record<string, unknown>;
    const { output_tail: _tail, ...restShape } = rest;
    assert.deepEqual(data, restShape, 'the event is the REST run, output_tail left out');

    h.bus.emit('job.changed', { id: 1, change: 'updated' });
    await c.waitFor((e) => e.event === 'job.changed');
    // The dispatcher reports slots every second; unchanged, they are not sent again.
    const usage = (running: number) => [{ node: 'test-node', slot: 'default', max_concurrent_jobs: 4, max_memory_mb: 1024, max_cpu_percent: 100, current_running_jobs: running, current_memory_mb: 0, current_cpu_percent: 0, queued: 0 }];
    for (const running of [0, 0, 0, 1, 1, 0]) h.bus.emit('slots', usage(running));
    h.bus.emit('job.changed', { id: 1, change: 'marker' });
    await c.waitFor((e) => e.event === 'job.changed' && (e.data as { change: string }).change === 'marker');
    const slotEvents = c.events.filter((e) => e.event === 'slots').map((e) => (e.data as { slots: { current_running_jobs: number }[] }).slots[0]!.current_running_jobs);
    assert.deepEqual(slotEvents, [0, 1, 0]);

    const t0 = Date.now();
    while (c.comments < 2 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 20));
    assert.ok(c.comments >= 2, 'heartbeat comments arrive');

    c.close();
    const t1 = Date.now();
    while (h.bus.listenerCount('run.finished') > before && Date.now() - t1 < 2000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(h.bus.listenerCount('run.finished'), before, 'listeners removed on disconnect');
    assert.equal(h.bus.listenerCount('slots'), 0);
  });

  test('the stream needs auth (token or session cookie)', async () => {
    const r = await fetch(`${base}/api/events`);
    assert.equal(r.status, 401);
    const s = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: h.token }) });
    const cookie = s.headers.get('set-cookie')!.split(';')[0]!;
    const c = await connect(base, { cookie });
    assert.equal(c.status, 200);
    c.close();
  });

  test('closing the server ends open streams', async () => {
    const c = await connect(base, h.auth);
    assert.equal(c.status, 200);
    const t = Date.now();
    await h.server.close();
    assert.ok(Date.now() - t < 3000);
  });
});

describe('/metrics', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
    await addJob(h, 'measured');
  });
  after(() => h.close());

  test('exposes runs, durations, memory, queue, slots, alerts, lateness, process and event-loop metrics', async () => {
    const run = await h.executor.requestRun({ job: 'measured' });
    h.bus.emit('run.started', { ...run, status: 'running', wait_ms: 1500 });
    await h.app.jobs.recordExecution(run.id, { status: 'succeeded', exit_code: 0, duration_ms: 2500, peak_memory_mb: 300 });
    h.bus.emit('run.finished', { ...(await h.app.jobs.history.byId(run.id))!, slot: 'default' });
    await h.executor.requestRun({ job: 'measured' });
    h.server.smartCron.metrics.observeLateness(120);
    const now = new Date(h.clock.now()).toISOString();
    await h.app.database.db.insertInto('smart_cron_performance_alerts').values({ job_id: 1, alert_type: 'failure', severity: 'error', message: 'x', created_at: now, updated_at: now }).execute();
    await new Promise((r) => setTimeout(r, 20));
    await h.server.inject({ url: '/api/jobs', headers: h.auth });

    const r = await h.server.inject({ url: '/metrics', headers: h.auth });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    const text = r.body;
    const expect = [
      /^smart_cron_runs_total\{job="measured",status="succeeded"\} 1$/m,
      /^smart_cron_run_duration_seconds_bucket\{le="5",slot="default"\} 1$/m,
      /^smart_cron_run_peak_memory_bytes_count\{slot="default"\} 1$/m,
      /^smart_cron_queue_wait_seconds_sum\{slot="default"\} 1.5$/m,
      /^smart_cron_queue_length\{node="test-node",slot="default"\} 1$/m,
      /^smart_cron_slot_running_jobs\{node="test-node",slot="heavy"\} 0$/m,
      /^smart_cron_slot_memory_budget_bytes\{node="test-node",slot="default"\} 3221225472$/m,
      /^smart_cron_slot_memory_reserved_bytes\{/m,
      /^smart_cron_slot_cpu_percent\{/m,
      /^smart_cron_slot_cpu_budget_percent\{node="test-node",slot="light"\} 50$/m,
      /^smart_cron_alerts_open\{severity="error"\} 1$/m,
      /^smart_cron_scheduler_lateness_seconds_count 1$/m,
      /^smart_cron_api_request_duration_seconds_count\{/m,
      /^process_resident_memory_bytes /m,
      /^nodejs_heap_size_used_bytes /m,
      /^nodejs_eventloop_lag_seconds /m,
    ];
    for (const re of expect) assert.match(text, re);
    assert.equal((await h.server.inject({ url: '/metrics' })).statusCode, 401);
  });
});
