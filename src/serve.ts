/**
 * The dashboard and API wired to the job queue: what `dirsync serve` and the demo run. The server
 * itself (src/api) knows nothing of BullMQ; this module gives it "sync now", queue events for the
 * live view, bull-board and the metrics registry.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { DirsyncConfig } from '../config/schema.js';
import { subscribeSyncEvents } from '../jobs/events.js';
import { syncMetrics } from '../jobs/metrics.js';
import { assertRedis, closeSyncQueue, openSyncQueue, redisUrl as defaultRedisUrl } from '../jobs/queue.js';
import { triggerSync } from '../jobs/trigger.js';
import { startServer } from './api/server.js';

export interface ServeOptions {
  config: DirsyncConfig;
  pool: pg.Pool;
  redisUrl?: string;
  /** Overrides config.server.host / port. */
  host?: string;
  port?: number;
  logger?: Logger;
}

export interface Serving {
  url: string;
  close(): Promise<void>;
}

export async function serve(o: ServeOptions): Promise<Serving> {
  const url = o.redisUrl ?? defaultRedisUrl();
  await assertRedis(url);
  const queue = openSyncQueue({ prefix: o.config.queue.prefix, connection: url });
  const events = await subscribeSyncEvents({ prefix: o.config.queue.prefix, redisUrl: url }, {});
  try {
    const server = await startServer({
      config: o.config,
      pool: o.pool,
      queue: {
        trigger: (connector, t) => triggerSync(queue, connector, t),
        bullQueue: queue,
        events: events.queueEvents,
      },
      metricsRegistry: syncMetrics().registry,
      ...(o.host ? { host: o.host } : {}),
      ...(o.port !== undefined ? { port: o.port } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
    });
    return {
      url: server.url,
      async close() {
        await server.close();
        await events.close();
        await closeSyncQueue(queue);
      },
    };
  } catch (e) {
    await events.close().catch(() => {});
    await closeSyncQueue(queue).catch(() => {});
    throw e;
  }
}
