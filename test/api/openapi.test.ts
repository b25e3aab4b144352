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

  test('the document is OpenAPI 3.0 as a strict validator reads it, and says what the server does', async () => {
    const doc = (await h.server.inject({ url: '/api/openapi.json', headers: h.auth })).json();
    assert.equal(doc.openapi, '3.0.3');
    // The Schema Object keywords of OpenAPI 3.0 (no const, no type null, no numeric exclusive bounds, ...).
    const KEYWORDS = new Set(['title', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum', 'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'maxProperties', 'minProperties', 'required', 'enum', 'type', 'allOf', 'oneOf', 'anyOf', 'not', 'items', 'properties', 'additionalProperties', 'description', 'format', 'default', 'nullable', 'discriminator', 'readOnly', 'writeOnly', 'example', 'deprecated']);
    const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object']);
    const problems: string[] = [];
    const walk = (s: Record<string, unknown>, at: string): void => {
      for (const [k, v] of Object.entries(s)) {
        if (!KEYWORDS.has(k) && !k.startsWith('x-')) problems.push(`${at}: ${k} is not a 3.0 schema keyword`);
        if (k === 'type' && !TYPES.has(v as string)) problems.push(`${at}: type ${JSON.stringify(v)}`);
        if ((k === 'exclusiveMinimum' || k === 'exclusiveMaximum') && typeof v !== 'boolean') problems.push(`${at}: ${k} ${JSON.stringify(v)} (3.0 takes a boolean beside minimum/maximum)`);
        if (k === 'exclusiveMinimum' && typeof s.minimum !== 'number') problems.push(`${at}: exclusiveMinimum without minimum`);
        if (k === 'items' && (typeof v !== 'object' || Array.isArray(v))) problems.push(`${at}: items must be one schema`);
      }
      const kids = [...Object.entries((s.properties ?? {}) as object).map(([k, v]) => [`properties.${k}`, v]), ...['allOf', 'anyOf', 'oneOf'].flatMap((k) => ((s[k] ?? []) as unknown[]).map((v, i) => [`${k}.${i}`, v])), ['items', s.items], ['not', s.not], ['additionalProperties', s.additionalProperties]];
      for (const [k, v] of kids) if (v && typeof v === 'object') walk(v as Record<string, unknown>, `${at}.${k as string}`);
    };
    type Op = { security?: unknown[]; parameters?: { schema: object }[]; requestBody?: { required: boolean; content: Record<string, { schema: object }> }; responses: Record<string, { content?: Record<string, { schema: object }> }> };
    const ops = Object.entries(doc.paths as Record<string, Record<string, Op>>).flatMap(([path, m]) => Object.entries(m).map(([method, op]) => ({ path, method, op })));
    for (const { path, method, op } of ops) {
      const at = `${method.toUpperCase()} ${path}`;
      for (const p of op.parameters ?? []) walk(p.schema as Record<string, unknown>, `${at} parameter`);
      for (const [type, c] of Object.entries(op.requestBody?.content ?? {})) walk(c.schema as Record<string, unknown>, `${at} body ${type}`);
      for (const [status, r] of Object.entries(op.responses)) for (const c of Object.values(r.content ?? {})) walk(c.schema as Record<string, unknown>, `${at} ${status}`);
      // Who may call, and what every call may be refused with.
      const isPublic = path === '/api/session';
      assert.deepEqual(op.security, isPublic ? [] : undefined, `${at}: security`);
      const want = ['400', ...(isPublic ? [] : ['401']), ...(isPublic || method === 'get' ? [] : ['403']), ...(['post', 'patch'].includes(method) ? ['413', '415'] : [])];
      for (const status of want) assert.ok(op.responses[status], `${at} documents ${status}`);
      if (op.requestBody) {
        const needed = Object.values(op.requestBody.content).some((c) => ((c.schema as { required?: string[] }).required ?? []).length > 0);
        assert.equal(op.requestBody.required, needed, `${at}: requestBody.required`);
      }
    }
    for (const [name, schema] of Object.entries((doc.components?.schemas ?? {}) as Record<string, Record<string, unknown>>)) walk(schema, `components.schemas.${name}`);
    assert.deepEqual(problems, []);

    // The particular answers QA found untrue.
    const jobBody = doc.paths['/api/jobs'].post.requestBody.content['application/json'].schema;
    assert.equal(jobBody.additionalProperties, false, 'POST /api/jobs refuses unknown fields');
    assert.equal(doc.paths['/api/jobs/{id}'].patch.requestBody.content['application/json'].schema.additionalProperties, false, 'PATCH refuses unknown fields');
    for (const f of ['estimated_duration_seconds', 'memory_limit_mb']) assert.deepEqual([jobBody.properties[f].minimum, jobBody.properties[f].exclusiveMinimum], [0, true], f);
    assert.equal(doc.paths['/api/jobs/{id}/run'].post.requestBody.required, false);
    assert.equal(doc.paths['/api/runs/{id}/cancel'].post.requestBody.required, false);
    const okTypes = (path: string) => Object.keys(doc.paths[path].get.responses['200'].content);
    assert.deepEqual(okTypes('/api/events'), ['text/event-stream']);
    assert.deepEqual(okTypes('/api/runs/{id}/output'), ['text/plain']);
    assert.deepEqual(okTypes('/metrics'), ['text/plain']);
    assert.ok(doc.paths['/api/nodes'].get.responses['200'].content['application/json'].schema.properties.nodes.items.properties.stale, 'nodes carry stale');

    // And the server agrees: without a caller every protected route is 401, signing in is not;
    // an unknown query parameter is refused everywhere (before any handler, so /api/events answers too).
    await addJob(h, 'truth');
    const run = (await h.server.inject({ method: 'POST', url: '/api/jobs/truth/run', headers: h.auth })).json();
    for (const { path, method } of ops) {
      const url = path.replace(/\{id\}/, path.startsWith('/api/runs') ? String(run.id) : 'truth').replace('{other}', 'truth');
      const anon = await h.server.inject({ method: method.toUpperCase() as 'GET', url: `${url}?zz_unknown=1` });
      if (path === '/api/session') assert.notEqual(anon.statusCode, 401, `${method} ${path}`);
      else assert.equal(anon.statusCode, 401, `${method} ${path} without a caller`);
      const odd = await h.server.inject({ method: method.toUpperCase() as 'GET', url: `${url}?zz_unknown=1`, headers: h.auth });
      assert.equal(odd.statusCode, 400, `${method} ${path}?zz_unknown=1: ${odd.body.slice(0, 200)}`);
      assert.equal(odd.json().error.field, 'zz_unknown');
    }
    const metrics = await h.server.inject({ url: '/metrics', headers: h.auth });
    assert.match(String(metrics.headers['content-type']), /^text\/plain/);
    const output = await h.server.inject({ url: `/api/runs/${run.id}/output`, headers: h.auth });
    assert.match(String(output.headers['content-type']), /^text\/plain/);
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
