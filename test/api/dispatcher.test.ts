/**
 * The API in front of the real Dispatcher (portable enforcement, real processes): a run
 * requested over HTTP starts, finishes, arrives on the event stream, shows its output, and a
 * long one is cancelled through the API.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../../src/api/server.js';
import { systemClock } from '../../src/clock.js';
import type { App } from '../../src/daemon/app.js';
import { hostProbe } from '../../src/daemon/engine.js';
import type { EventBus } from '../../src/events.js';
import { Dispatcher } from '../../src/execution/dispatcher.js';
import { createBackend, probeHost } from '../../src/execution/enforcement/detect.js';
import type { EnforcementBackend } from '../../src/execution/enforcement/types.js';
import { LoadBalancer } from '../../src/execution/load-balancer.js';
import { ProcessLauncher } from '../../src/execution/process-launcher.js';
import { runnerOptionsFromConfig } from '../../src/execution/runner.js';
import { Sampler } from '../../src/execution/sampler.js';
import { addJob, harness, type Harness } from './helpers.js';
import { testCgroup } from '../helpers/cgroups.js';
import { insertRun } from '../helpers/fixtures.js';

describe('API with the real Dispatcher', () => {
  let h: Harness;
  let base: string;
  let dispatcher: Dispatcher;
  let backend: EnforcementBackend;
  const sampler = new Sampler({ intervalMs: 50 });

  before(async () => {
    h = await harness({
      clock: systemClock,
      executor: (app: App, bus: EventBus) => {
        backend = createBackend('portable', { groupName: testCgroup('api') }, probeHost());
        backend.configureSlots(app.config.slots);
        const launcher = new ProcessLauncher(backend, runnerOptionsFromConfig({ kill_grace_seconds: 1, output_tail_bytes: 8192, log_max_bytes: 1 << 20 }, sampler));
        const lb = new LoadBalancer({ node: 'test-node', slots: app.config.slots, reserveMb: 0, psiVeto: 0, host: hostProbe, clock: systemClock, database: app.database });
        dispatcher = new Dispatcher({ node: 'test-node', jobs: app.jobs, lb, launcher, clock: systemClock, bus, runsDir: join(app.config.home, 'runs'), maxSleepMs: 500 });
        return dispatcher;
      },
    });
    dispatcher.start();
    base = await startServer(h.server, { host: '127.0.0.1', port: 0, allow_remote: false });
    // Far-off schedules: only the runs this test asks for happen.
    await addJob(h, 'hello', { schedule: '0 0 1 1 *', command: ['/bin/sh', '-c', 'echo hello from $NAME "$@"', 'sh'], estimated_memory_mb: 1 });
    await addJob(h, 'sleeper', { schedule: '0 0 1 1 *', command: ['/bin/sleep', '30'], estimated_memory_mb: 1 });
  });
  after(async () => {
    await dispatcher.stop({ drain: true });
    sampler.stop();
    await h.close();
    backend.dispose();
  });

  async function waitFor<T>(fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  test('run over HTTP -> run.finished on the event stream -> output', async () => {
    const ac = new AbortController();
    const stream = await fetch(`${base}/api/events`, { headers: h.auth, signal: ac.signal });
    assert.equal(stream.status, 200);
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const finished = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return null;
        text += value;
        const m = /event: run\.finished\ndata: (.*)\n/.exec(text);
        if (m) return JSON.parse(m[1]!) as Record<string, unknown>;
      }
    })();

    const res = await fetch(`${base}/api/jobs/hello/run`, { method: 'POST', headers: { ...h.auth, 'content-type': 'application/json' }, body: JSON.stringify({ args: ['and', 'args'], env: { NAME: 'api' } }) });
    assert.equal(res.status, 202);
    const run = (await res.json()) as { id: number; status: string };
    assert.equal(run.status, 'queued');

    const ev = await Promise.race([finished, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
    ac.abort();
    assert.ok(ev, `run.finished arrived (stream so far: ${text.slice(0, 500)})`);
    assert.equal(ev.id, run.id);
    assert.equal(ev.status, 'succeeded');
    assert.ok(/event: run\.started/.test(text), 'run.started came first');

    const out = await fetch(`${base}/api/runs/${run.id}/output`, { headers: h.auth });
    assert.equal((await out.text()).trim(), 'hello from api and args');
    const detail = (await (await fetch(`${base}/api/runs/${run.id}`, { headers: h.auth })).json()) as Record<string, unknown>;
    assert.equal(detail.exit_code, 0);
    const metrics = await (await fetch(`${base}/metrics`, { headers: h.auth })).text();
    assert.match(metrics, /smart_cron_runs_total\{job="hello",status="succeeded"\} 1/);
  });

  /** The event stream, and the first event of `name` for run `id`, with the text seen before it. */
  async function listen(): Promise<{ next: (name: string, id: number) => Promise<{ data: Record<string, unknown>; before: string }>; close: () => void }> {
    const ac = new AbortController();
    const stream = await fetch(`${base}/api/events`, { headers: h.auth, signal: ac.signal });
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const next = async (name: string, id: number) => {
      const end = Date.now() + 15_000;
      for (;;) {
        for (const m of text.matchAll(/event: (\S+)\ndata: (.*)\n/g)) {
          const data = JSON.parse(m[2]!) as Record<string, unknown>;
          if (m[1] === name && data.id === id) return { data, before: text.slice(0, m.index) };
        }
        if (Date.now() > end) throw new Error(`no ${name} for run ${id}: ${text.slice(-500)}`);
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${text.slice(-500)}`);
        text += value;
      }
    };
    return { next, close: () => ac.abort() };
  }

  test('cancel a running run through the API: run.cancelling, then run.finished interrupted', async () => {
    const events = await listen();
    try {
      const run = (await (await fetch(`${base}/api/jobs/sleeper/run`, { method: 'POST', headers: h.auth })).json()) as { id: number };
      await waitFor(async () => ((await h.app.jobs.history.byId(run.id))?.status === 'running' ? true : undefined));
      const c = await fetch(`${base}/api/runs/${run.id}/cancel`, { method: 'POST', body: JSON.stringify({ reason: 'enough' }), headers: { ...h.auth, 'content-type': 'application/json' } });
      assert.equal(c.status, 200);
      const cancelling = await events.next('run.cancelling', run.id);
      assert.deepEqual([cancelling.data.status, cancelling.data.cancel_requested], ['running', 'enough']);
      const finished = await events.next('run.finished', run.id);
      assert.ok(finished.before.includes('event: run.cancelling'), 'run.cancelling came first');
      assert.deepEqual([finished.data.status, finished.data.error_message], ['interrupted', 'enough']);
      const again = await fetch(`${base}/api/runs/${run.id}/cancel`, { method: 'POST', headers: h.auth });
      assert.equal(again.status, 409);

      // Another node's run: that node stops it; this node's dashboards see the request at once.
      const job = await h.app.jobs.getJob('sleeper');
      const remote = await insertRun(h.app.database, job.id, { status: 'running', node: 'elsewhere', started_at: new Date().toISOString(), slot: 'default' });
      assert.equal((await fetch(`${base}/api/runs/${remote.id}/cancel`, { method: 'POST', headers: h.auth })).status, 200);
      const asked = await events.next('run.cancelling', remote.id);
      assert.deepEqual([asked.data.status, asked.data.node, asked.data.cancel_requested], ['running', 'elsewhere', 'cancelled through the API']);
    } finally {
      events.close();
    }
  });
});
