/**
 * The OpenAPI document (@fastify/swagger, generated from the route schemas) at
 * /api/openapi.json, and Swagger UI at /api/docs, served from the bundled assets
 * (no CDN, no validator URL: it works without internet access).
 */
import type { TSchema } from 'typebox';
import { requireCjs } from '../require.js';
import { ErrorBody } from './schemas.js';
import type { Api } from './types.js';

// CommonJS packages: required, not imported (see require.ts).
const swagger = requireCjs('@fastify/swagger') as typeof import('@fastify/swagger').default;
const swaggerUi = requireCjs('@fastify/swagger-ui') as typeof import('@fastify/swagger-ui').default;

/** Signing in needs no caller (auth.ts's needsAuth lets /api/session through); every other route does. */
const PUBLIC_PATHS = new Set(['/api/session']);
const BODY_METHODS = new Set(['post', 'put', 'patch']);

type Json = Record<string, unknown>;
interface Operation {
  security?: unknown[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: { required?: string[] } }> };
  responses: Record<string, unknown>;
}

/**
 * The schemas are TypeBox's (JSON Schema 2020-12): where that differs from OpenAPI 3.0's
 * dialect, say it in 3.0's words. @fastify/swagger already turns `type: null` into nullable
 * and patternProperties into additionalProperties; a numeric exclusiveMinimum is left to here.
 */
function toOpenApi30(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(toOpenApi30);
  if (typeof node !== 'object' || node === null) return;
  const s = node as Json;
  for (const [bound, exclusive] of [['minimum', 'exclusiveMinimum'], ['maximum', 'exclusiveMaximum']] as const) {
    if (typeof s[exclusive] === 'number') {
      s[bound] = s[exclusive];
      s[exclusive] = true;
    }
  }
  for (const v of Object.values(s)) toOpenApi30(v);
}

/** ErrorBody as 3.0 has it (its field is nullable, not a union with null). */
function errorResponse(description: string): Json {
  const schema = JSON.parse(JSON.stringify(ErrorBody)) as TSchema & { properties: { error: { properties: Json } } };
  schema.properties.error.properties.field = { type: 'string', nullable: true };
  return { description, content: { 'application/json': { schema } } };
}

/**
 * What the route schemas cannot say, stated where the server decides it: who may call
 * (auth.ts), what every call may be refused with (an unknown query parameter is 400 on any
 * route, validation.ts), and that a body without required fields may be left out
 * (validation.ts reads a missing body as {}).
 */
function describeServer(doc: { paths?: Record<string, Record<string, Operation>> }): void {
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(ops)) {
      const add = (status: string, description: string) => {
        op.responses[status] ??= errorResponse(description);
      };
      add('400', 'Bad input: the field (a query parameter, path parameter or body field) and what was expected');
      if (PUBLIC_PATHS.has(path)) op.security = [];
      else {
        add('401', 'No caller: send "Authorization: Bearer <token>" or the session cookie of POST /api/session');
        if (method !== 'get' && method !== 'head') add('403', 'Session cookie without the X-CSRF-Token header of its session');
      }
      if (BODY_METHODS.has(method)) {
        add('413', 'The body is larger than the server takes (1 MiB by default)');
        add('415', 'The body is not application/json');
      }
      if (op.requestBody) op.requestBody.required = Object.values(op.requestBody.content ?? {}).some((c) => (c.schema?.required?.length ?? 0) > 0);
    }
  }
}

export function registerOpenApi(server: Api): void {
  server.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'smart-cron API',
        version: '0.1.0',
        description:
          'Supervisor for cron jobs. Authenticate with `Authorization: Bearer <token>` (the token is in the file api-token of the smart-cron home, ~/.smart-cron by default), or sign in with POST /api/session and send X-CSRF-Token on calls that change state. Errors: `{ "error": { "code", "message", "field" } }`.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'smart_cron_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transformObject: (documents) => {
      // A copy: the generated document shares schema objects with the routes' validators.
      const doc = structuredClone('openapiObject' in documents ? documents.openapiObject : documents.swaggerObject) as Parameters<typeof describeServer>[0] & Json;
      toOpenApi30(doc);
      describeServer(doc);
      return doc;
    },
  });
  server.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
  server.register(async (child) => {
    child.get('/api/openapi.json', { schema: { hide: true } }, async () => child.swagger());
  });
}
