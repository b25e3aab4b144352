/**
 * Who may call the API: a bearer token (the contents of <home>/api-token), or the
 * dashboard's session cookie. The cookie holds an opaque random id, never the token, and
 * state-changing calls made with it must echo the session's CSRF token in X-CSRF-Token
 * (SameSite=Strict already stops cross-site sends; the header is the second lock).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { ConfigError, UnauthorizedError } from '../errors.js';
import { ErrorBody } from './schemas.js';
import type { Api } from './types.js';

export const SESSION_COOKIE = 'smart_cron_session';
const SESSION_IDLE_MS = 12 * 3600_000;
const SESSION_MAX_AGE_MS = 7 * 24 * 3600_000;
const MAX_SESSIONS = 1000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

interface Session {
  csrf: string;
  createdAt: number;
  seenAt: number;
}

export type AuthVia = { via: 'token' } | { via: 'session'; id: string; csrf: string };

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthVia | null;
  }
}

/**
 * A token a caller can send: "Authorization: Bearer <token>" carries one word of visible ASCII
 * (identify() reads \S+), and POST /api/session takes at most 1000 characters. A token with a
 * space, say, would start the API and then refuse every caller, /metrics scrapers included.
 */
const TOKEN_RULE = /^[\x21-\x7e]{16,1000}$/;
const TOKEN_EXPECTED = '16 to 1000 visible ASCII characters, no spaces';

/**
 * The API token from <home>/api-token (written by `smart-cron init`): the one check, for the
 * daemon (which will not serve without it) and doctor. init keeps a file that exists, so the
 * advice for a bad one is to replace it, not to run init over it.
 */
export function readApiToken(tokenPath: string): string {
  if (!existsSync(tokenPath)) throw new ConfigError(`API token file ${tokenPath} is missing: run \`smart-cron init\` to create it`, 'api-token');
  let token: string;
  try {
    token = readFileSync(tokenPath, 'utf8').trim();
  } catch (e) {
    throw new ConfigError(`API token file ${tokenPath}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'api-token');
  }
  if (!TOKEN_RULE.test(token)) {
    throw new ConfigError(
      `API token file ${tokenPath} holds no usable token (expected ${TOKEN_EXPECTED}): write one into it, or delete it and run \`smart-cron init\` to create a new one`,
      'api-token',
    );
  }
  return token;
}

/** What is unsafe about a usable token file: readable by other users of the machine (init writes it 0600). */
export function apiTokenWarnings(tokenPath: string): string[] {
  let mode: number;
  try {
    mode = statSync(tokenPath).mode;
  } catch {
    return []; // missing or unreadable: readApiToken says so
  }
  if ((mode & 0o077) === 0) return [];
  return [`API token file ${tokenPath} is readable by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): anyone on this machine can call the API; chmod 600 ${tokenPath}`];
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Equal length digests, so the comparison time says nothing about the secret. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export class Sessions {
  private readonly byId = new Map<string, Session>();
  constructor(private readonly now: () => number = Date.now) {}

  create(): { id: string; csrf: string } {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const t = this.now();
    if (this.byId.size >= MAX_SESSIONS) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
    this.byId.set(id, { csrf, createdAt: t, seenAt: t });
    return { id, csrf };
  }

  get(id: string | undefined): (Session & { id: string }) | undefined {
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.seenAt > SESSION_IDLE_MS || t - s.createdAt > SESSION_MAX_AGE_MS) {
      this.byId.delete(id);
      return undefined;
    }
    s.seenAt = t;
    return { ...s, id };
  }

  delete(id: string | undefined): void {
    if (id) this.byId.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }
}

/** Routes under /api and /metrics need a caller; the session endpoints, /healthz and the dashboard files do not. */
function needsAuth(route: string | undefined): boolean {
  if (!route) return false;
  if (route === '/api/session') return false;
  return route === '/metrics' || route.startsWith('/api/') || route === '/api';
}

function identify(req: FastifyRequest, token: string, sessions: Sessions): AuthVia | null {
  const header = req.headers.authorization;
  if (typeof header === 'string' && header.length > 0) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m || !safeEqual(m[1]!, token)) throw new UnauthorizedError('invalid API token in the Authorization header (expected "Bearer <contents of <home>/api-token>")');
    return { via: 'token' };
  }
  const s = sessions.get(req.cookies?.[SESSION_COOKIE]);
  return s ? { via: 'session', id: s.id, csrf: s.csrf } : null;
}

function forbidden(reply: FastifyReply, message: string) {
  return reply.code(403).send({ error: { code: 'FORBIDDEN', message, field: 'X-CSRF-Token' } });
}

export function registerAuth(server: Api, opts: { token: string; sessions: Sessions }): void {
  const { token, sessions } = opts;
  server.decorateRequest('auth', null);

  server.addHook('onRequest', async (req, reply) => {
    if (!needsAuth(req.routeOptions.url)) {
      if (req.routeOptions.url === '/api/session') req.auth = identifySoft(req);
      return;
    }
    const auth = identify(req, token, sessions);
    if (!auth) throw new UnauthorizedError('authentication required: send "Authorization: Bearer <token>" (the token is in <home>/api-token) or sign in with POST /api/session');
    req.auth = auth;
    if (auth.via === 'session' && !SAFE_METHODS.has(req.method)) {
      const sent = req.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !safeEqual(sent, auth.csrf)) {
        return forbidden(reply, 'X-CSRF-Token header missing or wrong: calls that change state with the session cookie must send the csrf value from POST /api/session');
      }
    }
  });

  function identifySoft(req: FastifyRequest): AuthVia | null {
    try {
      return identify(req, token, sessions);
    } catch {
      return null;
    }
  }
}

/** POST/GET/DELETE /api/session (registered with the other routes, so the OpenAPI document lists them). */
export function registerSessionRoutes(server: Api, opts: { token: string; sessions: Sessions }): void {
  const { token, sessions } = opts;

  const cookieOptions = { path: '/', httpOnly: true, sameSite: 'strict' as const };
  const SessionState = Type.Object({ signed_in: Type.Boolean(), via: Type.Optional(Type.String()), csrf: Type.Optional(Type.String()) });

  server.post(
    '/api/session',
    {
      schema: {
        tags: ['session'],
        summary: 'Sign in with the API token; sets an HttpOnly session cookie and returns the CSRF token',
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 1000 }) }),
        response: { 200: SessionState, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req, reply) => {
      if (!safeEqual(req.body.token, token)) throw new UnauthorizedError('wrong token (expected the contents of <home>/api-token)');
      sessions.delete(req.cookies?.[SESSION_COOKIE]);
      const s = sessions.create();
      reply.setCookie(SESSION_COOKIE, s.id, cookieOptions);
      return { signed_in: true, via: 'session', csrf: s.csrf };
    },
  );

  server.get(
    '/api/session',
    { schema: { tags: ['session'], summary: 'Whether this caller is signed in (and the session CSRF token)', response: { 200: SessionState } } },
    async (req) => {
      const a = req.auth;
      if (!a) return { signed_in: false };
      return a.via === 'session' ? { signed_in: true, via: 'session', csrf: a.csrf } : { signed_in: true, via: 'token' };
    },
  );

  server.delete(
    '/api/session',
    { schema: { tags: ['session'], summary: 'Sign out: forget the session and clear the cookie', response: { 200: SessionState } } },
    async (req, reply) => {
      sessions.delete(req.cookies?.[SESSION_COOKIE]);
      reply.clearCookie(SESSION_COOKIE, cookieOptions);
      return { signed_in: false };
    },
  );
}
