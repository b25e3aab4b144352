/** Bad input never gets a 5xx: malformed JSON, wrong types, huge values, unicode, oversized bodies. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addJob, harness, type Harness } from './helpers.js';

describe('bad input', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ bodyLimit: 64 * 1024 });
    await addJob(h, 'j');
  });
  after(() => h.close());

  const bodies = [
    '{',
    '{"job": }',
    'null',
    '[]',
    '123',
    '"x"',
    'true',
    '{"__proto__": {"admin": true}}',
    '{"constructor": {"prototype": {"x": 1}}}',
    '{"job": null}',
    '{"job": {}}',
    '{"job": 1e400}',
    '{"job": -1}',
    '{"job": 1.5}',
    '{"job": "💥"}',
    '{"job": "\\u0000"}',
    `{"job": "${'a'.repeat(5000)}"}`,
    '{"name": "ä", "schedule": "@daily", "command": ["x"]}',
    '{"name": "x", "schedule": "@daily", "command": ["x"], "timeout_seconds": 1e308}',
    '{"name": "x", "schedule": "@daily", "command": ["x"], "estimated_memory_mb": -1}',
    '{"name": "x", "schedule": "\\u0000", "command": ["x"]}',
    '{"name": "x", "schedule": "@daily", "command": ["x"], "tags": ["🏷"]}',
    '{"args": [' + Array.from({ length: 2000 }, () => '"a"').join(',') + ']}',
    '{"priority": {"$gt": ""}}',
    '{"token": ["x"]}',
  ];
  const targets: Array<['POST' | 'PATCH', string]> = [
    ['POST', '/api/jobs/enable'],
    ['POST', '/api/jobs/execute'],
    ['POST', '/api/jobs'],
    ['PATCH', '/api/jobs/j'],
    ['POST', '/api/jobs/j/run'],
    ['POST', '/api/runs/1/cancel'],
    ['POST', '/api/session'],
  ];

  test('malformed or wrong-typed JSON bodies get 4xx with the error shape', async () => {
    for (const [method, url] of targets) {
      for (const payload of bodies) {
        const r = await h.server.inject({ method, url, headers: { ...h.auth, 'content-type': 'application/json' }, payload });
        assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${method} ${url} ${payload.slice(0, 60)} -> ${r.statusCode} ${r.body.slice(0, 200)}`);
        const err = r.json().error;
        assert.equal(typeof err.code, 'string');
        assert.equal(typeof err.message, 'string');
      }
    }
    const j = await h.app.jobs.getJob('j');
    assert.equal(j.priority, 'medium', 'nothing slipped through');
    assert.equal(({} as Record<string, unknown>).admin, undefined, 'no prototype pollution');
  });

  test('an oversized body is 413 with the error shape; other content types are 415', async () => {
    const big = JSON.stringify({ name: 'big', schedule: '@daily', command: ['x'], description: 'x'.repeat(100_000) });
    const r = await h.server.inject({ method: 'POST', url: '/api/jobs', headers: { ...h.auth, 'content-type': 'application/json' }, payload: big });
    assert.equal(r.statusCode, 413);
    assert.equal(r.json().error.field, 'body');
    const t = await h.server.inject({ method: 'POST', url: '/api/jobs', headers: { ...h.auth, 'content-type': 'text/xml' }, payload: '<job/>' });
    assert.equal(t.statusCode, 415);
    assert.equal(t.json().error.message, 'body: content type "text/xml" is not accepted (expected application/json)');
    const form = await h.server.inject({ method: 'POST', url: '/api/jobs/j/run', headers: { ...h.auth, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, payload: 'args=x' });
    assert.equal(form.statusCode, 415);
    assert.equal(form.json().error.message, 'body: content type "application/x-www-form-urlencoded" is not accepted (expected application/json)');
  });

  test('valid JSON with a key that could change prototypes is refused as such, not as "not valid JSON"', async () => {
    for (const [payload, message] of [
      ['{"__proto__": {"admin": true}}', /^body: the key "__proto__" is not allowed: it is valid JSON, but/],
      ['{"env": {"__proto__": {"x": "1"}}}', /^body: the key "__proto__" is not allowed \(at env\.__proto__\)/],
      ['{"constructor": {"prototype": {"x": 1}}}', /^body: the key "constructor" is not allowed/],
    ] as const) {
      const r = await h.server.inject({ method: 'POST', url: '/api/jobs/j/run', headers: { ...h.auth, 'content-type': 'application/json' }, payload });
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.json().error.message, message);
      assert.equal(r.json().error.field, 'body');
    }
    const broken = await h.server.inject({ method: 'POST', url: '/api/jobs/j/run', headers: { ...h.auth, 'content-type': 'application/json' }, payload: '{"__proto__": ' });
    assert.match(broken.json().error.message, /not valid JSON/, 'broken JSON is still called so');
  });

  test('an unknown query parameter, or a body where a route takes none, is refused naming it', async () => {
    const cases: Array<['GET' | 'POST' | 'DELETE', string, object | undefined, string, string]> = [
      ['GET', '/api/jobs?helth=critical', undefined, 'helth', 'query parameter helth: unknown (did you mean health?)'],
      ['GET', '/api/jobs/list?limt=5', undefined, 'limt', 'query parameter limt: unknown (did you mean limit?)'],
      ['GET', '/api/runs?zzz=1', undefined, 'zzz', 'query parameter zzz: unknown (expected one of: limit, before, output, status, job)'],
      ['GET', '/api/slots?node=x', undefined, 'node', 'query parameter node: unknown (this endpoint takes no query parameters)'],
      ['GET', '/api/jobs/j?verbose=1', undefined, 'verbose', 'query parameter verbose: unknown (this endpoint takes no query parameters)'],
      ['POST', '/api/alerts/1/ack', { note: 'x' }, 'body', 'body: this endpoint takes no body (got "note"; send none, or {})'],
      ['POST', '/api/jobs/j/enable', { enabled: false }, 'body', 'body: this endpoint takes no body (got "enabled"; send none, or {})'],
      ['DELETE', '/api/jobs/j', { force: true }, 'body', 'body: this endpoint takes no body (got "force"; send none, or {})'],
    ];
    for (const [method, url, payload, field, message] of cases) {
      const r = await h.server.inject({ method, url, headers: h.auth, ...(payload ? { payload } : {}) });
      assert.equal(r.statusCode, 400, `${method} ${url}: ${r.body}`);
      assert.deepEqual(r.json().error, { code: 'VALIDATION', message, field }, `${method} ${url}`);
    }
    assert.equal((await h.app.jobs.getJob('j')).enabled, 1, 'the refused calls changed nothing');
    // What the dashboard sends: no body, or {} on a POST; the query parameters a route names.
    assert.equal((await h.server.inject({ method: 'POST', url: '/api/jobs/j/disable', headers: h.auth, payload: {} })).statusCode, 200);
    assert.equal((await h.server.inject({ method: 'POST', url: '/api/jobs/j/enable', headers: h.auth })).statusCode, 200);
    assert.equal((await h.server.inject({ url: '/api/jobs?health=critical&limit=5', headers: h.auth })).statusCode, 200);
  });

  test('odd query strings and paths get 4xx, never 5xx', async () => {
    const urls = [
      '/api/jobs?limit=%00',
      '/api/jobs?limit=1e999',
      '/api/jobs?limit[]=1',
      '/api/jobs?offset=NaN',
      '/api/jobs?sort=name;drop table x',
      '/api/jobs?q=%F0%9F%92%A5',
      '/api/jobs?q=%E0%A4%A',
      '/api/jobs?category=%ZZ',
      '/api/jobs/%E0%A4%A',
      '/api/jobs/' + 'x'.repeat(3000),
      '/api/jobs/%F0%9F%92%A5',
      '/api/jobs/..%2F..%2Fetc%2Fpasswd',
      '/api/runs/1%00',
      '/api/runs/1/output?bytes=99999999999',
      '/api/jobs/history?job=',
      '/api/schedule/preview?expr=' + encodeURIComponent('*/0 * * * *'),
      '/api/schedule/preview?expr=' + encodeURIComponent('1-99999999999999999999 * * * *'),
      '/api/schedule/preview?expr=' + encodeURIComponent('💥 * * * *'),
      '/api/schedule/preview?expr=@daily&timezone=' + encodeURIComponent('../../etc'),
      '/api/alerts?limit=0',
    ];
    for (const url of urls) {
      const r = await h.server.inject({ url, headers: h.auth });
      assert.ok(r.statusCode < 500, `${url} -> ${r.statusCode} ${r.body.slice(0, 200)}`);
      if (r.statusCode >= 400) assert.ok(r.json().error, url);
    }
    const q = await h.server.inject({ url: '/api/jobs?q=%F0%9F%92%A5', headers: h.auth });
    assert.equal(q.statusCode, 200);
  });
});
