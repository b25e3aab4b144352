/**
 * /api/jobs/:id/dependencies: add a link (requires with a window, triggers on an outcome), update
 * it, refuse cycles, self links, unknown jobs and bad kinds/outcomes/windows, remove it; GET shows
 * the result and every change is announced as job.changed for the dependent job.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addJob, harness, type Harness, type InjectResponse } from './helpers.js';

describe('dependencies resource', () => {
  let h: Harness;
  let ids: Record<string, number>;
  const events: { id: number; change: string }[] = [];
  let req: (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) => Promise<InjectResponse>;
  const links = async (job: string) => (await req('GET', `/api/jobs/${job}/dependencies`)).json() as { upstream: Record<string, unknown>[]; downstream: Record<string, unknown>[] };

  before(async () => {
    h = await harness();
    req = (method, url, payload) => h.server.inject({ method, url, headers: h.auth, ...(payload === undefined ? {} : { payload: payload as object }) });
    ids = {};
    for (const name of ['extract', 'load', 'report', 'mail']) ids[name] = (await addJob(h, name)).id;
    h.bus.on('job.changed', (e) => events.push(e));
  });
  after(() => h.close());

  test('POST adds a requires link with a window (201, as `deps add --json`), announced as job.changed', async () => {
    events.length = 0;
    const r = await req('POST', '/api/jobs/report/dependencies', { job: 'load', kind: 'requires', window_seconds: '6h' });
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(r.headers.location, `/api/jobs/${ids.report}/dependencies`);
    assert.deepEqual(r.json(), {
      change: 'new',
      job: { id: ids.report, name: 'report' },
      depends_on: { job: { id: ids.load, name: 'load' }, kind: 'requires', on: 'success', window_seconds: 21600 },
    });
    assert.deepEqual(events, [{ id: ids.report, change: 'dependencies' }]);
    assert.deepEqual((await links('report')).upstream, [{ job: { id: ids.load, name: 'load' }, kind: 'requires', on: 'success', window_seconds: 21600 }]);
    assert.deepEqual((await links('load')).downstream, [{ job: { id: ids.report, name: 'report' }, kind: 'requires', on: 'success', window_seconds: 21600 }]);
  });

  test('POST adds a triggers link on failure, by id', async () => {
    const r = await req('POST', `/api/jobs/${ids.mail}/dependencies`, { job: ids.report, kind: 'triggers', on: 'failure' });
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(r.json().change, 'new');
    assert.deepEqual(r.json().depends_on, { job: { id: ids.report, name: 'report' }, kind: 'triggers', on: 'failure', window_seconds: null });
    assert.deepEqual((await links('mail')).upstream, [{ job: { id: ids.report, name: 'report' }, kind: 'triggers', on: 'failure', window_seconds: null }]);
  });

  test('POST again: 200 "updated" with the new window, then 200 "unchanged" (no event)', async () => {
    events.length = 0;
    const u = await req('POST', '/api/jobs/report/dependencies', { job: 'load', kind: 'requires', window_seconds: 1800 });
    assert.equal(u.statusCode, 200, u.body);
    assert.equal(u.json().change, 'updated');
    assert.equal(u.json().depends_on.window_seconds, 1800);
    assert.deepEqual(events, [{ id: ids.report, change: 'dependencies' }]);
    // A link as GET lists it goes back unchanged (on: success with requires is what is stored).
    const same = await req('POST', '/api/jobs/report/dependencies', { job: 'load', kind: 'requires', on: 'success', window_seconds: 1800 });
    assert.equal(same.statusCode, 200, same.body);
    assert.equal(same.json().change, 'unchanged');
    assert.equal(events.length, 1, 'nothing changed: no event');
    assert.equal((await links('report')).upstream.length, 1, 'still one link');
  });

  test('a link that would close a cycle is 409, naming the cycle', async () => {
    // extract <- load <- report <- mail: extract running after mail closes it.
    assert.equal((await req('POST', '/api/jobs/load/dependencies', { job: 'extract', kind: 'triggers' })).statusCode, 201);
    const r = await req('POST', '/api/jobs/extract/dependencies', { job: 'mail', kind: 'triggers' });
    assert.equal(r.statusCode, 409, r.body);
    assert.equal(r.json().error.code, 'CONFLICT');
    assert.equal(r.json().error.message, 'would create a cycle: extract → mail → report → load → extract');
    assert.deepEqual((await links('extract')).upstream, [], 'nothing added');
  });

  test('a job cannot depend on itself: 400 naming job', async () => {
    for (const ref of ['report', ids.report]) {
      const r = await req('POST', '/api/jobs/report/dependencies', { job: ref, kind: 'requires' });
      assert.equal(r.statusCode, 400, r.body);
      assert.equal(r.json().error.field, 'job');
      assert.match(r.json().error.message, /cannot depend on itself.*expected another job/);
    }
  });

  test('unknown jobs are 404 naming the parameter', async () => {
    const other = await req('POST', '/api/jobs/report/dependencies', { job: 'nope', kind: 'requires' });
    assert.equal(other.statusCode, 404, other.body);
    assert.equal(other.json().error.field, 'job');
    assert.match(other.json().error.message, /no job with the name or id "nope"/);
    const self = await req('POST', '/api/jobs/nope/dependencies', { job: 'report', kind: 'requires' });
    assert.equal(self.statusCode, 404);
    assert.equal(self.json().error.field, 'id');
  });

  test('bad kind, outcome or window: 400 naming the field and what was expected', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ job: 'load', kind: 'needs' }, 'kind', /"needs".*expected one of "requires", "triggers"/],
      [{ job: 'load' }, 'kind', /missing/],
      [{ kind: 'requires' }, 'job', /missing/],
      [{ job: 'load', kind: 'triggers', on: 'sometimes' }, 'on', /"sometimes".*expected one of "success", "failure", "always"/],
      [{ job: 'load', kind: 'requires', on: 'failure' }, 'on', /goes with kind triggers/],
      [{ job: 'load', kind: 'triggers', window_seconds: 60 }, 'window_seconds', /goes with kind requires/],
      [{ job: 'load', kind: 'requires', window_seconds: '6x' }, 'window_seconds', /"6x" is not a duration \(expected e\.g\. 30m, 6h, 2d/],
      [{ job: 'load', kind: 'requires', window_seconds: 0 }, 'window_seconds', /0 is not a usable window \(expected a whole number of seconds from 1 to 2147483647, or a duration such as 30m, 6h, 2d\)/],
      [{ job: 'load', kind: 'requires', window_seconds: 1.5 }, 'window_seconds', /1.5 is not a usable window/],
      [{ job: 'load', kind: 'requires', window_seconds: '' }, 'window_seconds', /"" is not a duration/],
      [{ job: 'load', kind: 'requires', window_seconds: true }, 'window_seconds', /expected/],
      [{ job: 'load', kind: 'requires', window_seconds: '99999999w' }, 'window_seconds', /not a usable window \(expected a whole number of seconds from 1/],
      [{ job: 'load', kind: 'requires', within: '6h' }, 'within', /unknown setting/],
    ];
    for (const [body, field, message] of cases) {
      const r = await req('POST', '/api/jobs/report/dependencies', body);
      assert.equal(r.statusCode, 400, `${JSON.stringify(body)} -> ${r.body}`);
      assert.equal(r.json().error.code, 'VALIDATION');
      assert.equal(r.json().error.field, field, `${JSON.stringify(body)}: ${r.body}`);
      assert.match(r.json().error.message, message, JSON.stringify(body));
    }
    const bad = await req('DELETE', '/api/jobs/report/dependencies/load?kind=both');
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal(bad.json().error.field, 'kind');
    assert.equal((await links('report')).upstream[0]!.window_seconds, 1800, 'nothing changed');
  });

  test('DELETE removes the link (as `deps remove --json`), announced; again is 404 naming the missing link', async () => {
    events.length = 0;
    const wrongKind = await req('DELETE', '/api/jobs/report/dependencies/load?kind=triggers');
    assert.equal(wrongKind.statusCode, 404, wrongKind.body);
    assert.equal(wrongKind.json().error.message, 'other: report does not depend on load (triggers) (see GET /api/jobs/report/dependencies)');
    const r = await req('DELETE', '/api/jobs/report/dependencies/load?kind=requires');
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json(), { job: { id: ids.report, name: 'report' }, depends_on: { id: ids.load, name: 'load' }, removed: ['requires'] });
    assert.deepEqual(events, [{ id: ids.report, change: 'dependencies' }]);
    assert.deepEqual((await links('report')).upstream, []);
    assert.deepEqual((await links('load')).downstream.map((l) => l.job), [], 'gone from the other side too');
    const again = await req('DELETE', `/api/jobs/${ids.report}/dependencies/${ids.load}`);
    assert.equal(again.statusCode, 404, again.body);
    assert.equal(again.json().error.field, 'other');
    assert.match(again.json().error.message, /report does not depend on load \(see/);
    const unknown = await req('DELETE', '/api/jobs/report/dependencies/nope');
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().error.field, 'other');
    assert.equal(events.length, 1, 'failed removals announce nothing');
  });

  test('the routes need the token', async () => {
    const add = await h.server.inject({ method: 'POST', url: '/api/jobs/report/dependencies', payload: { job: 'load', kind: 'requires' } });
    assert.equal(add.statusCode, 401);
    const del = await h.server.inject({ method: 'DELETE', url: '/api/jobs/mail/dependencies/report' });
    assert.equal(del.statusCode, 401);
    assert.equal((await links('mail')).upstream.length, 1);
  });
});
