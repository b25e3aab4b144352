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
    assert.ok(t.json().error.message);
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
