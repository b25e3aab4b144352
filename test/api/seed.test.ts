/** The seed's five endpoints, by their names, with the token; refused without it or with a wrong one. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addJob, harness, type Harness } from './helpers.js';

describe('seed endpoints', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
    await addJob(h, 'backup-db', { priority: 'high' });
    await addJob(h, 'rotate-logs', { enabled: false });
  });
  after(() => h.close());

  const call = (method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = h.auth) =>
    h.server.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as object }) });

  test('GET /api/jobs/list lists every job', async () => {
    const r = await call('GET', '/api/jobs/list');
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.equal(body.total, 2);
    assert.deepEqual(body.jobs.map((j: { name: string }) => j.name).sort(), ['backup-db', 'rotate-logs']);
    const j = body.jobs.find((x: { name: string }) => x.name === 'backup-db');
    assert.equal(j.enabled, true);
    assert.deepEqual(j.command, ['/bin/true']);
    assert.equal(j.health_status, 'healthy');
    assert.equal(j.execution_status, 'never_run');
  });

  test('POST /api/jobs/enable and /disable take {"job": name or id}', async () => {
    let r = await call('POST', '/api/jobs/enable', { job: 'rotate-logs' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().enabled, true);
    assert.ok(r.json().next_scheduled_run);
    const id = r.json().id as number;
    r = await call('POST', '/api/jobs/disable', { job: id });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().enabled, false);
    r = await call('POST', '/api/jobs/disable', { job: String(id) });
    assert.equal(r.statusCode, 200);
  });

  test('POST /api/jobs/execute queues a run (202) and GET /api/jobs/history shows it newest first', async () => {
    const a = await call('POST', '/api/jobs/execute', { job: 'backup-db' });
    assert.equal(a.statusCode, 202);
    assert.equal(a.json().status, 'queued');
    assert.equal(a.json().trigger, 'manual');
    assert.equal(a.headers.location, `/api/runs/${a.json().id}`);
    const b = await call('POST', '/api/jobs/execute', { job: 'backup-db' });
    const r = await call('GET', '/api/jobs/history?job=backup-db');
    assert.equal(r.statusCode, 200);
    const runs = r.json().runs as Array<Record<string, unknown>>;
    assert.deepEqual(runs.map((x) => x.id), [b.json().id, a.json().id]);
    for (const col of ['job_id', 'scheduled_for', 'attempt', 'trigger', 'status', 'skip_reason', 'node', 'slot', 'reservation_mb', 'queued_at', 'started_at', 'finished_at', 'wait_ms', 'duration_ms', 'exit_code', 'signal', 'peak_memory_mb', 'memory_source', 'cpu_time_ms', 'cpu_percent', 'output_tail', 'output_bytes', 'output_truncated', 'error_message', 'pid']) {
      assert.ok(col in runs[0]!, `history column ${col}`);
    }
    const byId = await call('GET', `/api/jobs/history?job=${a.json().job_id}`);
    assert.equal(byId.json().runs.length, 2);
  });

  test('unknown jobs are 404 naming the field; a missing field is 400', async () => {
    for (const [m, url, body] of [
      ['POST', '/api/jobs/enable', { job: 'nope' }],
      ['POST', '/api/jobs/disable', { job: 999 }],
      ['POST', '/api/jobs/execute', { job: 'nope' }],
      ['GET', '/api/jobs/history?job=nope', undefined],
    ] as const) {
      const r = await call(m, url, body);
      assert.equal(r.statusCode, 404, url);
      assert.equal(r.json().error.code, 'NOT_FOUND');
      assert.equal(r.json().error.field, 'job');
    }
    for (const [m, url, body] of [
      ['POST', '/api/jobs/enable', {}],
      ['POST', '/api/jobs/execute', { job: ['a'] }],
      ['GET', '/api/jobs/history', undefined],
    ] as const) {
      const r = await call(m, url, body);
      assert.equal(r.statusCode, 400, url);
      assert.equal(r.json().error.field, 'job', url);
    }
  });

  test('unknown body fields are refused (400) naming them, and change nothing', async () => {
    for (const url of ['/api/jobs/enable', '/api/jobs/disable', '/api/jobs/execute']) {
      const r = await call('POST', url, { job: 'rotate-logs', x: 1 });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.equal(r.json().error.code, 'VALIDATION');
      assert.equal(r.json().error.field, 'x');
      assert.equal(r.json().error.message, 'body unknown setting "x" (expected one of: job)');
      const typo = await call('POST', url, { jbo: 'rotate-logs' });
      assert.equal(typo.statusCode, 400, url);
    }
    const misspelt = await call('POST', '/api/jobs/enable', { job: 'rotate-logs', enabeld: true });
    assert.match(misspelt.json().error.message, /unknown setting "enabeld"/);
    const list = (await call('GET', '/api/jobs/list')).json().jobs as { name: string; enabled: boolean }[];
    assert.equal(list.find((j) => j.name === 'rotate-logs')!.enabled, false, 'the refused enable changed nothing');
  });

  test('every seed endpoint refuses a call without the token, and with a wrong one', async () => {
    const calls = [
      ['GET', '/api/jobs/list'],
      ['POST', '/api/jobs/enable', { job: 'backup-db' }],
      ['POST', '/api/jobs/disable', { job: 'backup-db' }],
      ['POST', '/api/jobs/execute', { job: 'backup-db' }],
      ['GET', '/api/jobs/history?job=backup-db'],
    ] as const;
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${h.token}x` }, { authorization: `Bearer ${'0'.repeat(64)}` }, { authorization: h.token }, { authorization: 'Basic abc' }]) {
      for (const [m, url, body] of calls) {
        const r = await call(m, url, body, headers);
        assert.equal(r.statusCode, 401, `${m} ${url} with ${JSON.stringify(headers)}`);
        assert.equal(r.json().error.code, 'UNAUTHORIZED');
        assert.ok(!r.body.includes(h.token));
      }
    }
    const runs = await call('GET', '/api/jobs/history?job=backup-db');
    assert.equal(runs.json().runs.length, 2, 'the refused execute queued nothing');
  });
});
