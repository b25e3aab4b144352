import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { App } from '../daemon/app.js';
import type { EventBus } from '../events.js';
import type { Executor } from '../execution/types.js';
import type { AlertsService } from './alerts.js';
import type { ApiMetrics } from './metrics.js';

export type Api = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** What every route module is given. */
export interface ApiContext {
  app: App;
  executor: Executor;
  bus: EventBus;
  alerts: AlertsService;
  metrics: ApiMetrics;
  now(): number;
}
