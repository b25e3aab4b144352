/**
 * The OpenAPI document (@fastify/swagger, generated from the route schemas) at
 * /api/openapi.json, and Swagger UI at /api/docs, served from the bundled assets
 * (no CDN, no validator URL: it works without internet access).
 */
import { requireCjs } from '../require.js';
import type { Api } from './types.js';

// CommonJS packages: required, not imported (see require.ts).
const swagger = requireCjs('@fastify/swagger') as typeof import('@fastify/swagger').default;
const swaggerUi = requireCjs('@fastify/swagger-ui') as typeof import('@fastify/swagger-ui').default;

export function registerOpenApi(server: Api): void {
  server.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'smart-cron API',
        version: '0.1.0',
        description:
          'Supervisor for cron jobs. Authenticate with `Authorization: Bearer <token>` (the token is in <home>/api-token), or sign in with POST /api/session and send X-CSRF-Token on calls that change state. Errors: `{ "error": { "code", "message", "field" } }`.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'smart_cron_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  server.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
  server.register(async (child) => {
    child.get('/api/openapi.json', { schema: { hide: true } }, async () => child.swagger());
  });
}
