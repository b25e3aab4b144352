/** /api/runs: lists with filters and keyset paging, one run, its output (tail, log tail, download), cancel. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { addJob, harness, type Harness, type InjectResponse } from './helpers.js';

describe('runs', () => {
  let h: Harness;
  let get: (url: string) => Promise<InjectResponse>;
  let a: number, b: number;
  before(async () => {
    h = await harness();
    get = (url) => h.server.inject({ url, headers: h.auth });
    a = (await addJob(h, 'alpha')).id;
    b = (await addJob(h, 'beta')).id;
    const jm = h.app.jobs;
    for (let i = 0; i < 4; i++) await h.executor.requestRun({ job: a });
    for (let i = 0; i < 3; i++) await h.executor.requestRun({ job: b });
    await jm.recordExecution(1, { status: 'succeeded', exit_code: 0, duration_ms: 1200, output_tail: 'hello\nworld\n', output_bytes: 12 });
    await jm.recordExecution(2, { status: 'failed', exit_code: 2, duration_ms: 50, output_tail: 'boom' });
  });
  after(() => h.close());

  test('GET /api/runs: newest first, with job names; filter by status (list) and job; keyset paging', async () => {
    const all = (await get('/api/runs')).json();
    assert.deepEqual(all.runs.map((r: { id: number }) => r.id), [7, 6, 5, 4, 3, 2, 1]);
    assert.equal(all.runs[0].job_name, 'beta');
    assert.equal(all.next_before, null);
    const failed = (await get('/api/runs?status=failed,succeeded')).json();
    assert.deepEqual(failed.runs.map((r: { id: number }) => r.id), [2, 1]);
    const queuedAlpha = (await get('/api/runs?status=queued&job=alpha')).json();
    assert.deepEqual(queuedAlpha.runs.map((r: { id: number }) => r.id), [4, 3]);
    const p1 = (await get('/api/runs?limit=3')).json();
    assert.equal(p1.next_before, 5);
    const p2 = (await get(`/api/runs?limit=3&before=${p1.next_before}`)).json();
    assert.deepEqual(p2.runs.map((r: { id: number }) => r.id), [4, 3, 2]);
    for (const [qs, field] of [['status=done', 'status'], ['status=queued,', 'status'], ['limit=1000', 'limit'], ['before=x', 'before']] as const) {
      const r = await get(`/api/runs?${qs}`);
      assert.equal(r.statusCode, 400, qs);
      assert.equal(r.json().error.field, field);
    }
    // A status the API does not know is answered with the statuses it does, in words, not a regex.
    const typo = (await get('/api/runs?status=runing')).json().error.message as string;
    assert.match(typo, /status = "runing": expected one of queued, running, succeeded, .*skipped, or several of them separated by commas/);
    assert.doesNotMatch(typo, /pattern|\^|\$/);
    const nojob = await get('/api/runs?job=nope');
    assert.equal(nojob.statusCode, 404);
    assert.equal(nojob.json().error.field, 'job');
  });

  test('GET /api/runs/:id has every column; 404 unknown; 400 a non-number', async () => {
    const r = await get('/api/runs/1');
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().status, 'succeeded');
    assert.equal(r.json().output_tail, 'hello\nworld\n');
    assert.equal(r.json().output_truncated, false);
    assert.equal(r.json().job_name, 'alpha');
    assert.equal((await get('/api/runs/999')).statusCode, 404);
    for (const id of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
      const x = await get(`/api/runs/${id}`);
      assert.equal(x.statusCode, 400, id);
      assert.equal(x.json().error.field, 'id');
    }
  });

  test('output: output_tail without a log; the log tail (?bytes=) and the whole log as an attachment', async () => {
    let r = await get('/api/runs/1/output');
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.equal(r.body, 'hello\nworld\n');
    assert.equal((await get('/api/runs/1/output?bytes=6')).body, 'world\n');

    const log = join(h.dir, 'run-3.log');
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i} ✓`).join('\n') + '\n';
    writeFileSync(log, lines);
    await h.app.jobs.history.update(3, { log_path: log });
    r = await get('/api/runs/3/output?bytes=40');
    assert.ok(r.body.endsWith('line 999 ✓\n'));
    assert.ok(r.body.startsWith('line '), 'starts at a whole line');
    assert.ok(Buffer.byteLength(r.body) <= 40);
    const d = await get('/api/runs/3/output?download=1');
    assert.equal(d.statusCode, 200);
    assert.match(String(d.headers['content-disposition']), /attachment; filename="run-3.log"/);
    assert.equal(d.body, lines);
    assert.equal((await get('/api/runs/3/output?bytes=0')).json().error.field, 'bytes');
    assert.equal((await get('/api/runs/999/output')).statusCode, 404);
  });

  test('cancel: a queued run is skipped; a running one (on another node) gets the request and reads cancelling; a finished one is 409; unknown 404', async () => {
    const r = await h.server.inject({ method: 'POST', url: '/api/runs/4/cancel', headers: h.auth, payload: { reason: 'not today' } });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().status, 'skipped');
    assert.equal(r.json().skip_reason, 'not today');
    const again = await h.server.inject({ method: 'POST', url: '/api/runs/4/cancel', headers: h.auth });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'CONFLICT');
    assert.match(again.json().error.message, /run #4 has already finished \(status skipped\); nothing to cancel/);
    // Run 5 runs on a node this API's process does not hold: the request waits on the run for that node.
    await h.app.jobs.history.update(5, { status: 'running', node: 'elsewhere', started_at: new Date().toISOString() });
    const remote = await h.server.inject({ method: 'POST', url: '/api/runs/5/cancel', headers: h.auth, payload: { reason: 'wrong day' } });
    assert.equal(remote.statusCode, 200, remote.body);
    assert.equal(remote.json().status, 'running');
    assert.equal(remote.json().cancel_requested, 'wrong day');
    assert.equal(remote.json().job_name, 'beta', 'the run as GET /api/runs/:id shows it');
    assert.deepEqual(await h.app.jobs.history.cancelRequests('elsewhere'), [{ id: 5, cancel_requested: 'wrong day' }]);
    assert.deepEqual(await h.app.jobs.history.cancelRequests('here'), []);
    assert.equal((await h.server.inject({ method: 'POST', url: '/api/runs/999/cancel', headers: h.auth })).statusCode, 404);
    assert.equal((await h.server.inject({ method: 'POST', url: '/api/runs/6/cancel', headers: h.auth, payload: { reason: 5 } })).json().error.field, 'reason');
  });
});
