/**
 * Server-sent events at /api/events: the bus's events, one `event:` line per bus event
 * name and `data:` in the same shapes the REST routes return, a comment line every 15 s
 * so proxies and browsers keep the connection, and listeners removed when the client goes.
 */
import type { ServerResponse } from 'node:http';
import Type from 'typebox';
import type { BusEvents } from '../events.js';
import type { AlertRow, RunRow } from '../storage/schema.js';
import { presentAlert, presentRun } from './present.js';
import type { Api, ApiContext } from './types.js';

type Streamed = Exclude<keyof BusEvents, 'cluster'>;
type Forward = { [K in Streamed]: (...args: BusEvents[K]) => unknown };

const FORWARD: Forward = {
  'run.queued': (run: RunRow) => presentRun(run, { output: false }),
  'run.started': (run: RunRow) => presentRun(run, { output: false }),
  'run.cancelling': (run: RunRow) => presentRun(run, { output: false }),
  'run.finished': (run: RunRow) => presentRun(run, { output: false }),
  'alert.raised': (a: AlertRow) => presentAlert(a),
  'alert.resolved': (a: AlertRow) => presentAlert(a),
  slots: (slots) => ({ slots }),
  'job.changed': (e) => e,
};

export interface SseOptions {
  heartbeatMs?: number;
}

export function registerSse(server: Api, ctx: ApiContext, opts: SseOptions = {}): void {
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const clients = new Set<ServerResponse>();

  // A hijacked stream is never idle: end them, or close() would wait for the browsers.
  server.addHook('preClose', async () => {
    for (const res of clients) res.end();
    clients.clear();
  });

  server.get(
    '/api/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Server-sent events: run.queued, run.started, run.cancelling, run.finished, alert.raised, alert.resolved, slots, job.changed',
        description: 'text/event-stream. Each event: `event: <name>` and `data: <JSON>` (runs and alerts in the REST shapes; output_tail left out). A comment line every 15 s keeps the connection. On PostgreSQL the other nodes\' runs, alerts and job changes come too (a `job.changed` with change `resync` after a gap: reload).',
        response: { 200: Type.String({ description: 'text/event-stream' }) },
      },
    },
    (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      res.write('retry: 3000\n\n');
      clients.add(res);
      let seq = 0;
      const listeners: Array<[keyof BusEvents, (...a: never[]) => void]> = [];
      const send = (name: Streamed, args: unknown[]) => {
        let data: string;
        try {
          data = JSON.stringify((FORWARD[name] as (...a: unknown[]) => unknown)(...args));
        } catch {
          return;
        }
        res.write(`id: ${++seq}\nevent: ${name}\ndata: ${data}\n\n`);
      };
      const listen = <K extends keyof BusEvents>(name: K, fn: (...a: BusEvents[K]) => void) => {
        ctx.bus.on(name, fn as never);
        listeners.push([name, fn as never]);
      };
      for (const name of Object.keys(FORWARD) as Streamed[]) listen(name, (...args: unknown[]) => send(name, args));
      // Another node's events (daemon/relay.ts), under their own names: the dashboard shows the whole cluster.
      listen('cluster', (e) => send(e.event, [e.data]));
      const beat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
      beat.unref();
      const cleanup = () => {
        clearInterval(beat);
        for (const [name, fn] of listeners) ctx.bus.off(name, fn as never);
        listeners.length = 0;
        clients.delete(res);
      };
      req.raw.on('close', cleanup);
      res.on('close', cleanup);
      res.on('error', cleanup);
    },
  );
}
