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

  test('cancel a running run through the API', async () => {
    const run = (await (await fetch(`${base}/api/jobs/sleeper/run`, { method: 'POST', headers: h.auth })).json()) as { id: number };
    await waitFor(async () => ((await h.app.jobs.history.byId(run.id))?.status === 'running' ? true : undefined));
    const c = await fetch(`${base}/api/runs/${run.id}/cancel`, { method: 'POST', headers: h.auth });
    assert.equal(c.status, 200);
    const final = await waitFor(async () => {
      const r = await h.app.jobs.history.byId(run.id);
      return r && !['queued', 'running'].includes(r.status) ? r : undefined;
    });
    assert.equal(final.status, 'interrupted');
    const again = await fetch(`${base}/api/runs/${run.id}/cancel`, { method: 'POST', headers: h.auth });
    assert.equal(again.status, 409);
  });
});
