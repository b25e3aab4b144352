/**
 * The HTTP server: REST API, session auth, OpenAPI and docs, server-sent events, /metrics,
 * and the dashboard's static files. buildServer wires the routes to what the daemon built;
 * startServer binds it, and refuses a non-loopback address unless api.allow_remote is set.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import Type, { type TSchema } from 'typebox';
import type { Config } from '../config/load.js';
import type { App } from '../daemon/app.js';
import { ConfigError, SmartCronError, ValidationError, httpStatusFor } from '../errors.js';
import { requireCjs } from '../require.js';
import type { EventBus } from '../events.js';
import type { Executor } from '../execution/types.js';
import { TableAlerts, type AlertsService } from './alerts.js';
import { Sessions, registerAuth, registerSessionRoutes } from './auth.js';
import { ApiMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { registerDependencyRoutes } from './routes/dependencies.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerRunRoutes } from './routes/runs.js';
import { registerSeedRoutes } from './routes/seed.js';
import { registerSystemRoutes } from './routes/system.js';
import { registerSse } from './sse.js';
import type { Api, ApiContext } from './types.js';
import { undeclaredInput, validatorCompiler } from './validation.js';

// CommonJS packages: required, not imported (see require.ts).
const Fastify = requireCjs('fastify') as typeof import('fastify').default;
const cookie = requireCjs('@fastify/cookie') as typeof import('@fastify/cookie').default;
const fastifyStatic = requireCjs('@fastify/static') as typeof import('@fastify/static').default;

export type { AlertsService } from './alerts.js';
export type { Api } from './types.js';

export interface ServerOptions {
  app: App;
  executor: Executor;
  bus: EventBus;
  /** The AlertManager; without one, alerts are read from (and acknowledged in) the table directly. */
  alerts?: AlertsService;
  /** The API token (the contents of <home>/api-token). */
  token: string;
  /** The built dashboard; default dist/web under the package root. Not served when missing. */
  webRoot?: string;
  /** false (default), true, or pino options; secrets are redacted either way. */
  logger?: boolean | Record<string, unknown>;
  /** Give a metrics object built earlier (e.g. so the Dispatcher holds observeLateness before the server exists). */
  metrics?: ApiMetrics;
  sseHeartbeatMs?: number;
  bodyLimit?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    smartCron: { metrics: ApiMetrics; sessions: Sessions };
  }
}

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  '*.token',
  '*.password',
  '*.smtp_url',
];

function loggerOption(logger: ServerOptions['logger']) {
  if (!logger) return false;
  const base = logger === true ? { level: 'info' } : logger;
  return { ...base, redact: { paths: REDACT, censor: '[redacted]' } };
}

/**
 * In a checkout, the first file of web/src changed after the dashboard in `webRoot` was built
 * (what the daemon would serve is then the old one); null when none is, or there is no web/src
 * beside the build (an installed package).
 */
export function staleDashboard(webRoot = join(packageRoot(), 'dist', 'web'), sources = join(packageRoot(), 'web', 'src')): string | null {
  const index = join(webRoot, 'index.html');
  if (!existsSync(sources) || !existsSync(index)) return null;
  const builtAt = statSync(index).mtimeMs;
  for (const f of readdirSync(sources, { recursive: true }) as string[]) {
    if (statSync(join(sources, f)).mtimeMs > builtAt && /\.(tsx?|css|html)$/.test(f)) return join('web', 'src', f);
  }
  return null;
}

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'smart-cron') return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** The API token from <home>/api-token: the rule is auth.ts's (doctor uses it too). */
export { readApiToken } from './auth.js';

/** Response schemas document and type the answers; JSON.stringify never drops a field a schema forgot. */
const serializerCompiler = () => (data: unknown) => JSON.stringify(data);

function errorBody(code: string, message: string, field: string | null | undefined) {
  return { error: { code, message, field: field ?? null } };
}

/** Where valid JSON holds a key the safe parser refuses (`__proto__`, or `constructor` with a `prototype`); null for invalid JSON. */
function forbiddenKey(text: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const walk = (v: unknown, path: string): string | null => {
    if (typeof v !== 'object' || v === null) return null;
    for (const [k, child] of Object.entries(v)) {
      const here = path ? `${path}.${k}` : k;
      if (k === '__proto__' || (k === 'constructor' && typeof child === 'object' && child !== null && 'prototype' in child)) return here;
      const deeper = walk(child, here);
      if (deeper) return deeper;
    }
    return null;
  };
  return walk(parsed, '');
}

function unsupportedType(contentType: string | undefined): string {
  const type = (contentType ?? '').split(';')[0]!.trim();
  return `body: content type ${type ? JSON.stringify(type) : '(none)'} is not accepted (expected application/json)`;
}

function isApiPath(url: string): boolean {
  return url === '/api' || url.startsWith('/api/') || url === '/metrics' || url.startsWith('/metrics?');
}

export function buildServer(opts: ServerOptions): Api {
  if (!opts.token || opts.token.length < 16) throw new ConfigError('the API token is empty or too short (expected 16+ characters from <home>/api-token)', 'api-token');
  const server = Fastify({
    logger: loggerOption(opts.logger),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    routerOptions: { maxParamLength: 1000 },
    forceCloseConnections: true,
    // Our own compilers from the start: fastify then never loads its Ajv and fast-json-stringify
    // compilers (some 100 modules the daemon would hold for nothing).
    // (The factory types name Ajv's compiler; fastify calls ours exactly as setValidatorCompiler would.)
    schemaController: { compilersFactory: { buildValidator: (() => validatorCompiler) as never, buildSerializer: (() => serializerCompiler) as never } },
    // The router rejects some URLs (a broken %-escape, an overlong id) before any handler runs;
    // they still get the API's error shape.
    frameworkErrors: (error, _req, reply) => {
      const status = (error as FastifyError).statusCode ?? 400;
      void (reply as unknown as FastifyReply).code(status).send(errorBody(status === 414 ? 'URI_TOO_LONG' : 'BAD_REQUEST', error.message, null));
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as Api;

  const metrics = opts.metrics ?? new ApiMetrics({ bus: opts.bus, executor: opts.executor, database: opts.app.database });
  const sessions = new Sessions(() => Date.now());
  const ctx: ApiContext = {
    app: opts.app,
    executor: opts.executor,
    bus: opts.bus,
    alerts: opts.alerts ?? new TableAlerts(opts.app.database, opts.app.clock),
    metrics,
    now: () => opts.app.clock.now(),
  };
  server.decorate('smartCron', { metrics, sessions });


  // An empty JSON body (fetch(url, {method: 'POST', headers: json})) means "no body", not an error.
  const defaultJson = server.getDefaultJsonParser('error', 'error');
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    defaultJson(req, text, (err, value) => {
      // Valid JSON the safe parser refused: say so, and which key, not "not valid JSON".
      const key = err ? forbiddenKey(text) : null;
      if (key) {
        const name = JSON.stringify(key.split('.').pop());
        return done(new ValidationError(`body: the key ${name} is not allowed${key.includes('.') ? ` (at ${key})` : ''}: it is valid JSON, but a key that can change the prototype of objects is refused`, 'body'), undefined);
      }
      // Validation sees a missing body as null; a literal null must not pass for "no body".
      if (!err && value === null) return done(new ValidationError('body: expected a JSON object, got null', 'body'), undefined);
      done(err, value);
    });
  });

  server.register(cookie);
  registerAuth(server, { token: opts.token, sessions });

  // The documented routes take what their schema names and nothing else (hidden ones: the docs UI's files, /healthz).
  server.addHook('preValidation', async (req) => {
    const schema = req.routeOptions.schema as { hide?: boolean; querystring?: TSchema; body?: TSchema } | undefined;
    if (!schema || schema.hide) return;
    const problem = undeclaredInput(schema, req.query, req.body);
    if (problem) throw problem;
  });

  server.addHook('onResponse', async (req, reply) => {
    metrics.httpDuration.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  server.addHook('onClose', async () => metrics.close());

  registerOpenApi(server);

  server.register(async (child) => {
    const api = child as unknown as Api;
    registerSessionRoutes(api, { token: opts.token, sessions });
    registerSystemRoutes(api, ctx);
    registerSeedRoutes(api, ctx);
    registerJobRoutes(api, ctx);
    registerRunRoutes(api, ctx);
    registerDependencyRoutes(api, ctx);
    registerSse(api, ctx, { heartbeatMs: opts.sseHeartbeatMs });
    const exposition = { description: 'Prometheus text exposition format (version 0.0.4)', content: { 'text/plain': { schema: Type.String() } } };
    api.get('/metrics', { schema: { tags: ['metrics'], summary: 'Prometheus metrics (text exposition format)', response: { 200: exposition } } }, async (_req, reply) => {
      const { contentType, body } = await metrics.render();
      return reply.type(contentType).send(body);
    });
  });

  const webRoot = opts.webRoot ?? join(packageRoot(), 'dist', 'web');
  const hasWeb = existsSync(join(webRoot, 'index.html')) && statSync(webRoot).isDirectory();
  if (hasWeb) server.register(fastifyStatic, { root: webRoot, prefix: '/', index: ['index.html'] });

  server.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    if (!isApiPath(path) && (req.method === 'GET' || req.method === 'HEAD')) {
      // Client-side routes of the dashboard (/jobs/42) load index.html and route in the browser.
      if (hasWeb) return reply.type('text/html; charset=utf-8').sendFile('index.html');
      return reply.code(404).type('text/plain; charset=utf-8').send('The dashboard is not built (run `npm run build:web`); the API is at /api, its docs at /api/docs.\n');
    }
    return reply.code(404).send(errorBody('NOT_FOUND', `no such endpoint: ${req.method} ${path} (see /api/docs)`, null));
  });

  server.setErrorHandler((err: FastifyError | SmartCronError, req, reply) => {
    if (err instanceof SmartCronError) {
      const status = httpStatusFor(err);
      if (status >= 500) req.log.error({ err }, 'request failed');
      return reply.code(status).send(errorBody(err.code, err.message, err.field));
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = (err as FastifyError).code ?? '';
      const field = code.startsWith('FST_ERR_CTP') || status === 413 ? 'body' : null;
      const kind = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 401 ? 'UNAUTHORIZED' : status === 404 ? 'NOT_FOUND' : 'VALIDATION';
      const message = status === 415 ? unsupportedType(req.headers['content-type']) : field === 'body' ? `body: ${err.message}` : err.message;
      return reply.code(status).send(errorBody(kind, message, field));
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send(errorBody('INTERNAL', 'internal error; the daemon log has the details', null));
  });

  return server;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/** Why the API may not be served on api.host (null: it may): startServer's rule, and doctor's. */
export function remoteBindProblem(api: Pick<Config['api'], 'host' | 'allow_remote'>): string | null {
  if (isLoopback(api.host) || api.allow_remote) return null;
  return `api.host: refusing to serve the API on ${api.host}, which is not a loopback address; set api.allow_remote: true in config.yaml to allow it (anyone who can reach the port and has the token can run jobs)`;
}

/**
 * Bind to api.host:api.port. A non-loopback host (0.0.0.0, a LAN address, a name) is refused
 * unless api.allow_remote is true: the API can run commands, so exposing it is a decision.
 */
export async function startServer(server: FastifyInstance | Api, api: Pick<Config['api'], 'host' | 'port' | 'allow_remote'>): Promise<string> {
  const refused = remoteBindProblem(api);
  if (refused) throw new ConfigError(refused, 'api.allow_remote');
  try {
    return await server.listen({ host: api.host, port: api.port });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') throw new ConfigError(`api.port: ${api.host}:${api.port} is already in use (another smart-cron daemon?); choose another api.port`, 'api.port');
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') throw new ConfigError(`api.host: cannot bind to ${api.host} (${err.code}): not an address of this machine`, 'api.host');
    throw e;
  }
}
