/**
 * Server-sent events at /api/events: the bus's events, one `event:` line per bus event
 * name and `data:` in the same shapes the REST routes return, a comment line every 15 s
 * so proxies and browsers keep the connection, and listeners removed when the client goes.
 */
import type { ServerResponse } from 'node:http';
import Type from 'typebox';
import type { BusEvents } from '../events.js';
import type { AlertRow, RunRow } from '../storage/schema.js';
import { jobNames, presentAlert, presentRun } from './present.js';
import type { Api, ApiContext } from './types.js';

type Streamed = Exclude<keyof BusEvents, 'cluster'>;
/** What a forwarder may ask for: a run's job name (runs carry job_name in their REST shape). */
interface Lookup {
  jobName(id: number): Promise<string | undefined>;
}
type Forward = { [K in Streamed]: (lookup: Lookup, ...args: BusEvents[K]) => unknown };

const run = async (lookup: Lookup, r: RunRow) => presentRun(r, { output: false, jobName: await lookup.jobName(r.job_id) });

const FORWARD: Forward = {
  'run.queued': run,
  'run.started': run,
  'run.cancelling': run,
  'run.finished': run,
  'alert.raised': (_l, a: AlertRow) => presentAlert(a),
  'alert.resolved': (_l, a: AlertRow) => presentAlert(a),
  slots: (_l, slots) => ({ slots }),
  'job.changed': (_l, e) => e,
};

export interface SseOptions {
  heartbeatMs?: number;
}

export function registerSse(server: Api, ctx: ApiContext, opts: SseOptions = {}): void {
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const clients = new Set<ServerResponse>();
  // A job's name never changes (PATCH takes no name): remembered by id, forgotten when the job goes.
  const names = new Map<number, string>();
  const lookup: Lookup = {
    async jobName(id) {
      if (!names.has(id)) {
        const name = (await jobNames(ctx.app.database, [id])).get(id);
        if (name !== undefined) names.set(id, name);
      }
      return names.get(id);
    },
  };
  const forget = (e: { id: number; change: string }) => {
    if (e.change !== 'updated' && e.change !== 'dependencies') names.delete(e.id);
  };
  ctx.bus.on('job.changed', forget);
  server.addHook('onClose', async () => void ctx.bus.off('job.changed', forget));

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
        response: { 200: { description: 'The event stream (it stays open)', content: { 'text/event-stream': { schema: Type.String() } } } },
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
      let lastSlots: string | undefined;
      // Events are written in the order they came, though presenting a run may wait for its job's name.
      let queue = Promise.resolve();
      const listeners: Array<[keyof BusEvents, (...a: never[]) => void]> = [];
      const send = (name: Streamed, args: unknown[]) => {
        const presented = Promise.resolve()
          .then(() => (FORWARD[name] as (l: Lookup, ...a: unknown[]) => unknown)(lookup, ...args))
          .then((v) => JSON.stringify(v));
        queue = queue.then(async () => {
          let data: string;
          try {
            data = await presented;
          } catch {
            return;
          }
          // The dispatcher reports slots every second; the stream says only when they changed.
          if (name === 'slots') {
            if (data === lastSlots) return;
            lastSlots = data;
          }
          if (!res.writableEnded) res.write(`id: ${++seq}\nevent: ${name}\ndata: ${data}\n\n`);
        });
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
