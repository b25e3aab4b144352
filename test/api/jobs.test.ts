/** /api/jobs as a resource: create, read, change, delete, enable/disable, run, runs, trends; filters, sort, paging. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addJob, harness, type Harness, type InjectResponse } from './helpers.js';

describe('jobs resource', () => {
  let h: Harness;
  let req: (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) => Promise<InjectResponse>;
  before(async () => {
    h = await harness();
    req = (method, url, payload) => h.server.inject({ method, url, headers: h.auth, ...(payload === undefined ? {} : { payload: payload as object }) });
  });
  after(() => h.close());

  test('POST /api/jobs creates (201, Location), GET by id and by name with next_runs', async () => {
    const r = await req('POST', '/api/jobs', { name: 'reports/daily', schedule: '0 3 * * *', timezone: 'UTC', command: ['/usr/bin/report', '--daily'], tags: ['reports'], category: 'reporting' });
    assert.equal(r.statusCode, 201, r.body);
    const job = r.json();
    assert.equal(r.headers.location, `/api/jobs/${job.id}`);
    assert.equal(job.source, 'manual');
    assert.equal(job.enabled, true);
    assert.deepEqual(job.tags, ['reports']);
    for (const url of [`/api/jobs/${job.id}`, `/api/jobs/${encodeURIComponent('reports/daily')}`]) {
      const g = await req('GET', url);
      assert.equal(g.statusCode, 200, url);
      assert.equal(g.json().name, 'reports/daily');
      assert.deepEqual(g.json().next_runs, ['2026-03-02T03:00:00.000Z', '2026-03-03T03:00:00.000Z', '2026-03-04T03:00:00.000Z', '2026-03-05T03:00:00.000Z', '2026-03-06T03:00:00.000Z']);
    }
  });

  test('POST /api/jobs: 409 for a name in use, 400 naming the field for bad definitions', async () => {
    const dup = await req('POST', '/api/jobs', { name: 'reports/daily', schedule: '@daily', command: ['x'] });
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.json().error.field, 'name');
    const cases: Array<[unknown, string, RegExp?]> = [
      [{ schedule: '@daily', command: ['x'] }, 'name', /missing/],
      [{ name: 'a', command: ['x'] }, 'schedule', /missing/],
      [{ name: 'a b', schedule: '@daily', command: ['x'] }, 'name'],
      // Digits alone would read as a job id (here the id of reports/daily): not "exists already".
      [{ name: '1', schedule: '@daily', command: ['x'] }, 'name', /not a number alone/],
      [{ name: 'a', schedule: '61 * * * *', command: ['x'] }, 'schedule', /minute/],
      [{ name: 'a', schedule: '@daily', command: 'echo hi' }, 'command'],
      [{ name: 'a', schedule: '@daily', command: [] }, 'command', /^body command = an empty list: expected at least 1 item$/],
      [{ name: 'a', schedule: '@daily', command: ['x'], working_dir: '' }, 'working_dir', /^body working_dir = "": expected an absolute path \(starting with \/\) or null \(not set\)$/],
      // Accepted before, and then every run failed: as `jobs add` refuses them.
      [{ name: 'a', schedule: '@daily', command: ['x'], working_dir: 'relative/dir' }, 'working_dir', /^body working_dir = "relative\/dir": expected an absolute path/],
      [{ name: 'a', schedule: '@daily', command: ['  '] }, 'command.0', /command\.0 = "  ": expected the program to run/],
      [{ name: 'a', schedule: '@daily', command: [''] }, 'command.0', /command\.0 = "": expected the program to run/],
      [{ name: 'a', schedule: '@daily', command: ['x'], memory_limit_mb: 1e308 }, 'memory_limit_mb', /^body memory_limit_mb = 1e\+308: expected/],
      [{ name: 'a', schedule: '@daily' }, 'command', /nothing to run/],
      [{ name: 'a', schedule: '@daily', command: ['x'], priority: 'urgent' }, 'priority', /critical/],
      [{ name: 'a', schedule: '@daily', command: ['x'], timeout_seconds: 1e12 }, 'timeout_seconds'],
      [{ name: 'a', schedule: '@daily', command: ['x'], timeout_seconds: '10' }, 'timeout_seconds'],
      [{ name: 'a', schedule: '@daily', command: ['x'], timezone: 'Mars/Olympus' }, 'timezone', /unknown timezone/],
      [{ name: 'a', schedule: '@daily', command: ['x'], slot: 'nowhere' }, 'slot', /slot "nowhere" is not configured \(expected auto or one of: default, heavy, light/],
      [{ name: 'a', schedule: '@daily', command: ['x'], priorty: 'high' }, 'priorty', /did you mean "priority"/],
      [{ name: 'a', schedule: '@daily', command: ['x'], env: { X: 1 } }, 'env.X'],
      [[1, 2], 'body'],
      ['"just a string"', 'body'],
    ];
    for (const [body, field, msg] of cases) {
      const r = await h.server.inject({ method: 'POST', url: '/api/jobs', headers: { ...h.auth, 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });
      assert.equal(r.statusCode, 400, `${JSON.stringify(body)} -> ${r.body}`);
      const err = r.json().error;
      assert.equal(err.code, 'VALIDATION');
      assert.ok(err.field === field || String(err.field).startsWith(`${field}.`), `${JSON.stringify(body)}: field ${err.field}, wanted ${field} (${err.message})`);
      if (msg) assert.match(err.message, msg);
    }
  });

  test('PATCH changes fields (they become user overrides); bad patches are 400 naming the field; unknown job 404', async () => {
    const r = await req('PATCH', '/api/jobs/reports%2Fdaily', { priority: 'high', timeout_seconds: 600 });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().priority, 'high');
    assert.equal(r.json().timeout_seconds, 600);
    assert.ok(r.json().user_overrides.includes('priority'));
    for (const [body, field] of [
      [{ name: 'x' }, 'name'],
      [{ schedule: '* * *' }, 'schedule'],
      [{ memory_limit_mb: -5 }, 'memory_limit_mb'],
      [{ memory_limit_mb: 1e308 }, 'memory_limit_mb'],
      [{ working_dir: 'relative/dir' }, 'working_dir'],
      [{ command: [' '] }, 'command.0'],
      [{ enabled: 'yes' }, 'enabled'],
    ] as const) {
      const p = await req('PATCH', '/api/jobs/reports%2Fdaily', body);
      assert.equal(p.statusCode, 400, JSON.stringify(body));
      assert.equal(p.json().error.field, field, p.body);
    }
    // Only the program must be there: an empty argument is an argument.
    const emptyArg = await req('PATCH', '/api/jobs/reports%2Fdaily', { command: ['/usr/bin/printf', '%s', ''] });
    assert.equal(emptyArg.statusCode, 200, emptyArg.body);
    assert.deepEqual(emptyArg.json().command, ['/usr/bin/printf', '%s', '']);
    assert.equal((await req('PATCH', '/api/jobs/nope', { priority: 'low' })).statusCode, 404);
    assert.equal((await req('PATCH', '/api/jobs/nope', { priority: 'low' })).json().error.field, 'id');
  });

  test('enable/disable by id; enabling a job whose script is missing is 409', async () => {
    const j = await addJob(h, 'gone-script', { command: undefined, script_path: '/opt/cron/gone.sh', enabled: false });
    await h.app.jobs.jobs.update(j.id, { missing: 1 });
    const r = await req('POST', `/api/jobs/${j.id}/enable`);
    assert.equal(r.statusCode, 409);
    assert.equal(r.json().error.code, 'CONFLICT');
    assert.equal((await req('POST', `/api/jobs/${j.id}/disable`)).json().enabled, false);
    assert.equal((await req('POST', '/api/jobs/nope/enable')).statusCode, 404);
  });

  test('POST /api/jobs/:id/run: 202 with the queued run, args and env; 400 for bad args', async () => {
    const r = await req('POST', '/api/jobs/reports%2Fdaily/run', { args: ['--since', 'yesterday'], env: { LANG: 'C' } });
    assert.equal(r.statusCode, 202, r.body);
    assert.equal(r.json().status, 'queued');
    assert.deepEqual(r.json().args, ['--since', 'yesterday']);
    assert.deepEqual(r.json().env_extra, { LANG: 'C' });
    const noBody = await h.server.inject({ method: 'POST', url: '/api/jobs/reports%2Fdaily/run', headers: h.auth });
    assert.equal(noBody.statusCode, 202);
    const emptyJson = await h.server.inject({ method: 'POST', url: '/api/jobs/reports%2Fdaily/run', headers: { ...h.auth, 'content-type': 'application/json' }, payload: '' });
    assert.equal(emptyJson.statusCode, 202);
    for (const [body, field] of [
      [{ args: 'x' }, 'args'],
      [{ args: [1] }, 'args.0'],
      [{ env: { '1X': 'y' } }, 'env'],
      [{ env: { X: 1 } }, 'env.X'],
      [{ wat: 1 }, 'wat'],
    ] as const) {
      const b = await req('POST', '/api/jobs/reports%2Fdaily/run', body);
      assert.equal(b.statusCode, 400, JSON.stringify(body));
      assert.ok(String(b.json().error.field).startsWith(field), `${JSON.stringify(body)}: ${b.body}`);
    }
    assert.equal((await req('POST', '/api/jobs/404/run', {})).statusCode, 404);
  });

  test("GET /api/jobs/:id/runs pages newest first with next_before; trends answer per day", async () => {
    const j = await addJob(h, 'pager');
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) ids.push((await h.executor.requestRun({ job: j.id })).id);
    const seen: number[] = [];
    let before: number | null = null;
    do {
      const r = await req('GET', `/api/jobs/pager/runs?limit=3${before ? `&before=${before}` : ''}`);
      assert.equal(r.statusCode, 200);
      seen.push(...r.json().runs.map((x: { id: number }) => x.id));
      assert.ok(!('output_tail' in r.json().runs[0]), 'lists leave output_tail out');
      before = r.json().next_before;
    } while (before);
    assert.deepEqual(seen, [...ids].reverse());
    const withOut = await req('GET', '/api/jobs/pager/runs?limit=1&output=true');
    assert.ok('output_tail' in withOut.json().runs[0]);
    for (const q of ['limit=0', 'limit=501', 'limit=abc', 'before=0', 'before=-1', 'before=1e400', 'limit=1&limit=2']) {
      const r = await req('GET', `/api/jobs/pager/runs?${q}`);
      assert.equal(r.statusCode, 400, q);
      assert.ok(['limit', 'before'].includes(r.json().error.field), `${q}: ${r.body}`);
    }
    const t = await req('GET', '/api/jobs/pager/trends?days=7');
    assert.equal(t.statusCode, 200);
    assert.deepEqual(t.json().trends, []);
    assert.equal((await req('GET', '/api/jobs/pager/trends?days=0')).json().error.field, 'days');
    assert.equal((await req('GET', '/api/jobs/nope/trends')).statusCode, 404);
  });

  test('DELETE removes the job; then it is 404', async () => {
    const j = await addJob(h, 'to-delete');
    const r = await req('DELETE', '/api/jobs/to-delete');
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().id, j.id);
    assert.equal((await req('GET', `/api/jobs/${j.id}`)).statusCode, 404);
    assert.equal((await req('DELETE', '/api/jobs/to-delete')).statusCode, 404);
  });
});

describe('jobs list: filters, sorting, paging', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
    const jm = h.app.jobs;
    for (let i = 0; i < 30; i++) {
      const j = await addJob(h, `job-${String(i).padStart(2, '0')}`, {
        category: i % 3 === 0 ? 'backup' : 'maintenance',
        priority: (['critical', 'high', 'medium', 'low'] as const)[i % 4],
        tags: i % 5 === 0 ? ['db'] : [],
        enabled: i % 7 !== 0,
        description: i === 13 ? 'Sends the Zahlungsüberweisung report' : null,
      });
      // Health: 3 consecutive failures -> critical; 2 -> warning.
      if (i < 4) await jm.jobs.update(j.id, { consecutive_failures: 3, last_executed_at: '2026-03-01T11:00:00.000Z' });
      else if (i < 10) await jm.jobs.update(j.id, { consecutive_failures: 2, last_executed_at: `2026-03-01T0${i - 4}:00:00.000Z` });
    }
  });
  after(() => h.close());

  const list = async (qs: string) => {
    const r = await h.server.inject({ url: `/api/jobs?${qs}`, headers: h.auth });
    assert.equal(r.statusCode, 200, `${qs}: ${r.body}`);
    return r.json() as { jobs: Array<Record<string, unknown>>; total: number; limit: number; offset: number };
  };

  test('default order is the dashboard order: health, then priority, then next run; disabled jobs (health not judged) last', async () => {
    const { jobs, total } = await list('limit=500');
    assert.equal(total, 30);
    const firstDisabled = jobs.findIndex((j) => !j.enabled);
    assert.equal(firstDisabled, 25, 'the 25 enabled jobs first');
    assert.ok(jobs.slice(firstDisabled).every((j) => !j.enabled));
    const rank = { critical: 0, warning: 1, healthy: 2 } as Record<string, number>;
    const prio = { critical: 0, high: 1, medium: 2, low: 3 } as Record<string, number>;
    const enabled = jobs.slice(0, firstDisabled);
    for (let i = 1; i < enabled.length; i++) {
      const a = enabled[i - 1]!, b = enabled[i]!;
      const ka = [rank[a.health_status as string]!, prio[a.priority as string]!];
      const kb = [rank[b.health_status as string]!, prio[b.priority as string]!];
      assert.ok(ka[0]! < kb[0]! || (ka[0] === kb[0] && ka[1]! <= kb[1]!), `${a.name} before ${b.name}`);
    }
  });

  test('filters: health, category, tag, enabled, q (unicode), source; combined', async () => {
    // Health is judged for enabled jobs: job-00 and job-07 (disabled) match no health.
    assert.equal((await list('health=critical')).total, 3);
    assert.equal((await list('health=warning')).total, 5);
    assert.ok((await list('health=warning')).jobs.every((j) => j.health_status === 'warning'));
    assert.equal((await list('category=backup')).total, 10);
    assert.equal((await list('tag=db')).total, 6);
    assert.equal((await list('enabled=false')).total, 5);
    assert.equal((await list('enabled=true&category=backup')).total, 8, 'backup jobs 0..27 step 3, less disabled 0 and 21');
    const q = await list(`q=${encodeURIComponent('überweisung')}`);
    assert.deepEqual(q.jobs.map((j) => j.name), ['job-13']);
    assert.equal((await list('q=%25')).total, 0, 'LIKE wildcards are literal');
    assert.equal((await list('source=manual')).total, 30);
    assert.equal((await list('source=crontab')).total, 0);
  });

  test('sort by a column, ascending and descending; paging with limit/offset', async () => {
    const asc = await list('sort=name&limit=5');
    assert.deepEqual(asc.jobs.map((j) => j.name), ['job-00', 'job-01', 'job-02', 'job-03', 'job-04']);
    const desc = await list('sort=-name&limit=2&offset=1');
    assert.deepEqual(desc.jobs.map((j) => j.name), ['job-28', 'job-27']);
    assert.equal(desc.total, 30);
    assert.equal(desc.offset, 1);
    const last = await list('sort=-last_executed_at&limit=1');
    assert.equal(last.jobs[0]!.last_executed_at, '2026-03-01T11:00:00.000Z');
    const pages: unknown[] = [];
    for (let off = 0; off < 30; off += 7) pages.push(...(await list(`sort=name&limit=7&offset=${off}`)).jobs.map((j) => j.name));
    assert.equal(new Set(pages).size, 30);
  });

  test('bad list queries are 400 naming the parameter', async () => {
    for (const [qs, field] of [
      ['health=sick', 'health'],
      ['sort=password', 'sort'],
      ['sort=--name', 'sort'],
      ['limit=501', 'limit'],
      ['limit=-1', 'limit'],
      ['offset=-1', 'offset'],
      ['offset=99999999999999999999', 'offset'],
      ['enabled=maybe', 'enabled'],
      [`q=${'x'.repeat(300)}`, 'q'],
      ['source=ftp', 'source'],
    ] as const) {
      const r = await h.server.inject({ url: `/api/jobs?${qs}`, headers: h.auth });
      assert.equal(r.statusCode, 400, qs);
      assert.equal(r.json().error.field, field, `${qs}: ${r.body}`);
    }
  });
});
