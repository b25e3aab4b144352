/**
 * PostgreSQL LISTEN on one channel, on a connection of its own (a pooled one cannot hold a
 * LISTEN), reconnecting after the server goes away: 0.5 s, doubling up to 10 s. What is sent on
 * the channel while the connection is down is not seen; `onConnected` says when it is up again,
 * so the listener can catch up. Used by the daemon's cluster relay (daemon/relay.ts).
 */
import { sql } from 'kysely';
import { pgConnectionString, type Database } from './database.js';

export interface Listening {
  close(): Promise<void>;
}

export interface ListenOptions {
  /** The connection string, as the database was opened with. */
  url: string;
  channel: string;
  onPayload: (payload: string) => void;
  /** After each (re)connection, once LISTEN holds; `again` is false the first time. */
  onConnected?: (again: boolean) => void;
  log?: (m: string) => void;
}

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;
const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

export function listen(o: ListenOptions): Listening {
  if (!CHANNEL.test(o.channel)) throw new Error(`listen: "${o.channel}" is not a channel name (expected lowercase letters, digits and _)`);
  let closed = false;
  let retryMs = MIN_RETRY_MS;
  let retry: NodeJS.Timeout | undefined;
  let connectedOnce = false;
  let client: import('pg').Client | null = null;

  const again = (why: string) => {
    if (closed || retry) return;
    o.log?.(`cluster events: listening stopped (${why}); again in ${retryMs} ms`);
    retry = setTimeout(() => {
      retry = undefined;
      start();
    }, retryMs);
    retry.unref();
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  };

  const connect = async () => {
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: pgConnectionString(o.url), connectionTimeoutMillis: 10_000, keepAlive: true });
    client = c;
    // Only the current connection's end matters (an old one may report late).
    c.on('error', (e) => client === c && again(e.message));
    c.on('end', () => client === c && again('connection ended'));
    c.on('notification', (n) => {
      if (n.channel === o.channel && n.payload !== undefined) o.onPayload(n.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${o.channel}`);
    } catch (e) {
      void endSoon(c);
      again((e as Error).message);
      return;
    }
    if (closed) {
      await endSoon(c);
      return;
    }
    retryMs = MIN_RETRY_MS;
    o.onConnected?.(connectedOnce);
    connectedOnce = true;
  };

  const start = () => void connect().catch((e: Error) => again(e.message));
  start();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      if (client) await endSoon(client);
    },
  };
}

/**
 * End a connection, waiting at most a second: pg's end() waits for the socket's end, which a
 * connection broken mid-way may never report (a stop must not hang on it).
 */
function endSoon(c: import('pg').Client): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 1000);
    t.unref();
    c.end().catch(() => {}).finally(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Send `payload` on `channel` (PostgreSQL's limit: under 8000 bytes). */
export async function notify(database: Database, channel: string, payload: string): Promise<void> {
  await sql`select pg_notify(${channel}, ${payload})`.execute(database.db);
}
