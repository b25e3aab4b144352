/** The OpenAPI document lists every route; the docs UI is served from bundled files; binding rules. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TSchema } from 'typebox';
import Value from 'typebox/value';
import { isLoopback, startServer } from '../../src/api/server.js';
import { DependencyChangeOut, DependencyLinks, DependencyRemovedOut, JobDetail, JobOut, RunOut } from '../../src/api/schemas.js';
import { ConfigError } from '../../src/errors.js';
import { addJob, harness, type Harness } from './helpers.js';

const ROUTES: Array<[string, string]> = [
  ['get', '/api/jobs/list'],
  ['post', '/api/jobs/enable'],
  ['post', '/api/jobs/disable'],
  ['post', '/api/jobs/execute'],
  ['get', '/api/jobs/history'],
  ['get', '/api/jobs'],
  ['post', '/api/jobs'],
  ['get', '/api/jobs/{id}'],
  ['patch', '/api/jobs/{id}'],
  ['delete', '/api/jobs/{id}'],
  ['post', '/api/jobs/{id}/enable'],
  ['post', '/api/jobs/{id}/disable'],
  ['post', '/api/jobs/{id}/run'],
  ['get', '/api/jobs/{id}/runs'],
  ['get', '/api/jobs/{id}/trends'],
  ['get', '/api/jobs/{id}/dependencies'],
  ['post', '/api/jobs/{id}/dependencies'],
  ['delete', '/api/jobs/{id}/dependencies/{other}'],
  ['get', '/api/runs'],
  ['get', '/api/runs/{id}'],
  ['get', '/api/runs/{id}/output'],
  ['post', '/api/runs/{id}/cancel'],
  ['get', '/api/slots'],
  ['get', '/api/queue'],
  ['get', '/api/alerts'],
  ['post', '/api/alerts/{id}/ack'],
  ['get', '/api/health'],
  ['get', '/api/overview'],
  ['get', '/api/nodes'],
  ['get', '/api/schedule/preview'],
  ['get', '/api/review'],
  ['get', '/api/events'],
  ['post', '/api/session'],
  ['get', '/api/session'],
  ['delete', '/api/session'],
  ['get', '/metrics'],
];

/** Routes other modules add to the server (documented when present, not required here). */
const OPTIONAL = new Set<string>([]);

describe('OpenAPI and docs', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(() => h.close());

  test('/api/openapi.json lists every route, with a summary and the error schema', async () => {
    const r = await h.server.inject({ url: '/api/openapi.json', headers: h.auth });
    assert.equal(r.statusCode, 200);
    const doc = r.json();
    assert.match(doc.openapi, /^3\./);
    for (const [method, path] of ROUTES) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method.toUpperCase()} ${path} missing from the OpenAPI document`);
      assert.ok(op.summary, `${method} ${path} has a summary`);
    }
    const create = doc.paths['/api/jobs'].post;
    assert.ok(create.requestBody.content['application/json'].schema, 'JobDefinition is the request body');
    assert.ok(create.responses['400'], 'errors documented');
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    const known = new Set(ROUTES.map(([m, p]) => `${m} ${p}`));
    for (const d of documented) if (!d.includes('/api/docs') && !OPTIONAL.has(d)) assert.ok(known.has(d), `${d} is documented but not in this test's route list`);
  });

  test('/api/docs serves Swagger UI from bundled assets (no internet needed)', async () => {
    const page = await h.server.inject({ url: '/api/docs/', headers: h.auth });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /swagger-ui/);
    assert.ok(!/https?:\/\/(?!localhost)[a-z0-9.-]+\.[a-z]{2,}\/[^"']*\.(js|css)/i.test(page.body), 'no external scripts or styles');
    for (const asset of ['/api/docs/static/swagger-ui-bundle.js', '/api/docs/static/swagger-ui.css', '/api/docs/static/swagger-initializer.js']) {
      const a = await h.server.inject({ url: asset, headers: h.auth });
      assert.equal(a.statusCode, 200, asset);
      assert.ok(!/validator\.swagger\.io/.test(a.body) || asset.endsWith('bundle.js'), `${asset} calls no online validator`);
    }
    const init = await h.server.inject({ url: '/api/docs/static/swagger-initializer.js', headers: h.auth });
    assert.match(init.body, /validatorUrl: null/);
  });

  test('answers match their documented schemas', async () => {
    await addJob(h, 'shape');
    const job = (await h.server.inject({ url: '/api/jobs/shape', headers: h.auth })).json();
    assert.ok(Value.Check(JobDetail, job), JSON.stringify([...Value.Errors(JobDetail, job)].slice(0, 3)));
    const run = (await h.server.inject({ method: 'POST', url: '/api/jobs/shape/run', headers: h.auth })).json();
    assert.ok(Value.Check(RunOut, run), JSON.stringify([...Value.Errors(RunOut, run)].slice(0, 3)));
    // And nothing is sent undocumented (the schemas allow extra keys, so Check alone would not see one).
    const documented = (schema: { properties: object }, ...more: string[]) => new Set([...Object.keys(schema.properties), ...more]);
    assert.deepEqual(Object.keys(job).filter((k) => !documented(JobOut, 'next_runs').has(k)), [], 'job fields missing from JobOut');
    assert.deepEqual(Object.keys(run).filter((k) => !documented(RunOut).has(k)), [], 'run fields missing from RunOut');

    await addJob(h, 'shape-upstream');
    const dep = async (method: 'GET' | 'POST' | 'DELETE', url: string, schema: TSchema, payload?: object) => {
      const r = await h.server.inject({ method, url, headers: h.auth, ...(payload ? { payload } : {}) });
      assert.ok(r.statusCode < 300, `${method} ${url}: ${r.body}`);
      assert.ok(Value.Check(schema, r.json()), `${method} ${url}: ${JSON.stringify([...Value.Errors(schema, r.json())].slice(0, 3))}`);
    };
    await dep('POST', '/api/jobs/shape/dependencies', DependencyChangeOut, { job: 'shape-upstream', kind: 'requires', window_seconds: '1h' });
    await dep('GET', '/api/jobs/shape/dependencies', DependencyLinks);
    await dep('DELETE', '/api/jobs/shape/dependencies/shape-upstream', DependencyRemovedOut);
  });
});

describe('binding', () => {
  test('loopback addresses', () => {
    for (const [host, want] of [
      ['127.0.0.1', true],
      ['127.1.2.3', true],
      ['localhost', true],
      ['::1', true],
      ['[::1]', true],
      ['0.0.0.0', false],
      ['::', false],
      ['192.168.1.10', false],
      ['example.com', false],
      ['', false],
    ] as const) {
      assert.equal(isLoopback(host), want, host);
    }
  });

  test('0.0.0.0 or a LAN address without allow_remote is refused, naming the setting', async () => {
    const h = await harness();
    try {
      await assert.rejects(startServer(h.server, { host: '0.0.0.0', port: 0, allow_remote: false }), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.field, 'api.allow_remote');
        assert.match(e.message, /allow_remote: true/);
        return true;
      });
      assert.equal(h.server.server.listening, false);
      await assert.rejects(startServer(h.server, { host: '192.168.77.1', port: 0, allow_remote: false }), /allow_remote/);
      // (Not bound with allow_remote: true here: tests listen on 127.0.0.1 only.)
    } finally {
      await h.close();
    }
  });

  test('127.0.0.1 binds; a port in use is a clear error', async () => {
    const a = await harness();
    const b = await harness();
    try {
      const addr = await startServer(a.server, { host: '127.0.0.1', port: 0, allow_remote: false });
      const res = await fetch(`${addr}/healthz`);
      assert.equal(res.status, 200);
      const port = Number(new URL(addr).port);
      await assert.rejects(startServer(b.server, { host: '127.0.0.1', port, allow_remote: false }), /api\.port/);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
