/** Bearer token, the dashboard's cookie session with CSRF, and secrets kept out of answers and logs. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { addJob, harness, type Harness } from './helpers.js';

function cookieOf(setCookie: string | string[] | undefined): { header: string; raw: string } {
  const raw = Array.isArray(setCookie) ? setCookie[0]! : setCookie!;
  return { raw, header: raw.split(';')[0]! };
}

describe('auth', () => {
  let h: Harness;
  const logs: string[] = [];
  before(async () => {
    const stream = new Writable({
      write(chunk, _enc, cb) {
        logs.push(String(chunk));
        cb();
      },
    });
    h = await harness({ logger: { level: 'debug', stream } });
    await addJob(h, 'nightly');
  });
  after(() => h.close());

  test('a session: sign in with the token, cookie is HttpOnly SameSite=Strict Path=/ and not the token', async () => {
    const bad = await h.server.inject({ method: 'POST', url: '/api/session', payload: { token: 'wrong' } });
    assert.equal(bad.statusCode, 401);
    assert.equal(bad.headers['set-cookie'], undefined);

    const r = await h.server.inject({ method: 'POST', url: '/api/session', payload: { token: h.token } });
    assert.equal(r.statusCode, 200);
    const { csrf } = r.json();
    assert.ok(typeof csrf === 'string' && csrf.length >= 20);
    assert.ok(!r.body.includes(h.token));
    const c = cookieOf(r.headers['set-cookie']);
    assert.match(c.raw, /HttpOnly/i);
    assert.match(c.raw, /SameSite=Strict/i);
    assert.match(c.raw, /Path=\//);
    assert.ok(!c.raw.includes(h.token), 'the cookie holds a session id, not the token');

    const cookie = c.header;
    const state = await h.server.inject({ url: '/api/session', headers: { cookie } });
    assert.deepEqual(state.json(), { signed_in: true, via: 'session', csrf });
    assert.equal((await h.server.inject({ url: '/api/session' })).json().signed_in, false);

    const list = await h.server.inject({ url: '/api/jobs', headers: { cookie } });
    assert.equal(list.statusCode, 200);

    // A state change with the cookie but without the CSRF header is refused.
    for (const headers of [{ cookie }, { cookie, 'x-csrf-token': 'nope' }]) {
      const r2 = await h.server.inject({ method: 'POST', url: '/api/jobs/nightly/disable', headers });
      assert.equal(r2.statusCode, 403);
      assert.equal(r2.json().error.field, 'X-CSRF-Token');
    }
    const del = await h.server.inject({ method: 'DELETE', url: '/api/jobs/nightly', headers: { cookie } });
    assert.equal(del.statusCode, 403);
    const ok = await h.server.inject({ method: 'POST', url: '/api/jobs/nightly/disable', headers: { cookie, 'x-csrf-token': csrf } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().enabled, false);

    // Sign out: the cookie stops working.
    const out = await h.server.inject({ method: 'DELETE', url: '/api/session', headers: { cookie } });
    assert.equal(out.statusCode, 200);
    assert.match(cookieOf(out.headers['set-cookie']).raw, /smart_cron_session=;/);
    assert.equal((await h.server.inject({ url: '/api/jobs', headers: { cookie } })).statusCode, 401);
  });

  test('a forged or stale cookie is not a session', async () => {
    const r = await h.server.inject({ url: '/api/jobs', headers: { cookie: `smart_cron_session=${h.token}` } });
    assert.equal(r.statusCode, 401);
  });

  test('the token works without CSRF; a wrong bearer is refused even with a good cookie', async () => {
    const r = await h.server.inject({ method: 'POST', url: '/api/jobs/nightly/enable', headers: h.auth });
    assert.equal(r.statusCode, 200);
    const s = await h.server.inject({ method: 'POST', url: '/api/session', payload: { token: h.token } });
    const cookie = cookieOf(s.headers['set-cookie']).header;
    const bad = await h.server.inject({ url: '/api/jobs', headers: { cookie, authorization: 'Bearer wrong' } });
    assert.equal(bad.statusCode, 401);
  });

  test('/metrics, /api/openapi.json, /api/docs and /api/events need auth; /healthz and the dashboard do not', async () => {
    for (const url of ['/metrics', '/api/openapi.json', '/api/docs', '/api/events', '/api/overview']) {
      assert.equal((await h.server.inject({ url })).statusCode, 401, url);
    }
    assert.equal((await h.server.inject({ url: '/healthz' })).statusCode, 200);
    assert.notEqual((await h.server.inject({ url: '/' })).statusCode, 401);
  });

  test('encoded paths do not slip past auth', async () => {
    for (const url of ['/%61pi/jobs', '/api/%6Aobs', '/API/jobs', '/api//jobs', '/api/jobs/', '/metrics/']) {
      const r = await h.server.inject({ url });
      assert.ok(r.statusCode === 401 || r.statusCode === 404, `${url} -> ${r.statusCode}`);
      assert.ok(!r.body.includes('"jobs":['), url);
    }
  });

  test('the token and the cookie never appear in the logs', async () => {
    await h.server.inject({ url: '/api/jobs', headers: { ...h.auth, cookie: 'smart_cron_session=abc' } });
    await h.server.inject({ method: 'POST', url: '/api/session', payload: { token: h.token } });
    await h.server.inject({ method: 'POST', url: '/api/session', payload: { token: 12345 } });
    const text = logs.join('');
    assert.ok(text.length > 0, 'the logger wrote something');
    assert.ok(!text.includes(h.token), 'token leaked into the log');
  });

  test('a malformed token value in the session body is not echoed back', async () => {
    const r = await h.server.inject({ method: 'POST', url: '/api/session', payload: { token: 'x'.repeat(2000) } });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.field, 'token');
    assert.ok(!r.body.includes('xxxxxxxx'));
  });
});
