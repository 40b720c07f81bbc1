/**
 * A Dirsync server for API and browser tests, on real Postgres and Redis: a fresh database, a
 * BullMQ queue with a random prefix, "sync now" through jobs/trigger.ts, and a small BullMQ worker
 * that runs the real pipeline with the file connector.
 */
import { randomBytes } from 'node:crypto';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';
import type { ConnectorConfig, DirsyncConfig } from '../../config/schema.js';
import { subscribeSyncEvents } from '../../jobs/events.js';
import { SYNC_QUEUE, type SyncJobData } from '../../jobs/payloads.js';
import { closeSyncQueue, openSyncQueue, redisUrl, type SyncQueue } from '../../jobs/queue.js';
import { triggerSync } from '../../jobs/trigger.js';
import { startServer, type ServerOptions, type StartedServer } from '../../src/api/server.js';
import { silentLogger } from '../../src/logger.js';
import { runSync } from '../../src/pipeline/run.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import type { Connector } from '../../connectors/types.js';
import { file } from '../helpers/snapshot.js';

export interface Harness {
  db: TestDatabase;
  config: DirsyncConfig;
  queue: SyncQueue;
  worker: Worker<SyncJobData> | null;
  registry: Registry;
  server: StartedServer;
  /**
   * Starts the worker (not started by default, so a test can look at a queued job first).
   * `beforeFetch` runs inside the run, before the connector opens: the run row is `running` then.
   */
  startWorker(o?: { beforeFetch?: () => Promise<void> }): Worker<SyncJobData>;
  close(): Promise<void>;
}

export function testConfig(connectors: ConnectorConfig[], prefix: string): DirsyncConfig {
  return {
    log: { level: 'silent' },
    queue: { prefix, concurrency: 1 },
    server: { host: '127.0.0.1', port: 0 },
    connectors,
  };
}

export async function harness(
  connectors: ConnectorConfig[],
  extra: Partial<ServerOptions> & { port?: number } = {},
): Promise<Harness> {
  const db = await createTestDatabase('dirsync_api');
  const prefix = `dirsync-test-${randomBytes(6).toString('hex')}`;
  const config = testConfig(connectors, prefix);
  const queue = openSyncQueue({ prefix, connection: redisUrl() });
  const events = await subscribeSyncEvents({ prefix }, {});
  const registry = new Registry();
  new Counter({
    name: 'dirsync_test_marker_total',
    help: 'a metric of the registry passed in',
    registers: [registry],
  }).inc();
  const server = await startServer({
    config,
    pool: db.pool,
    queue: {
      trigger: (name, o) => triggerSync(queue, name, o),
      bullQueue: queue,
      events: events.queueEvents,
    },
    metricsRegistry: registry,
    livePollMs: 200,
    auth: { token: null },
    port: 0,
    ...extra,
  });
  const workerConnection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  workerConnection.on('error', () => {});
  const h: Harness = {
    db,
    config,
    queue,
    worker: null,
    registry,
    server,
    startWorker(o = {}) {
      const connector: Connector = o.beforeFetch
        ? {
            ...file,
            open: async (cfg, ctx) => {
              await o.beforeFetch?.();
              return file.open(cfg, ctx);
            },
          }
        : file;
      h.worker = new Worker<SyncJobData>(
        SYNC_QUEUE,
        async (job) => {
          const cfg = config.connectors.find((c) => c.name === job.data.connector);
          if (!cfg) throw new Error(`unknown connector ${job.data.connector}`);
          const s = await runSync({
            pool: db.pool,
            config: cfg,
            connector,
            trigger: job.data.trigger,
            fullResync: job.data.fullResync ?? false,
            logger: silentLogger,
            job: { id: job.id ?? '', attempt: job.attemptsMade + 1, worker: 'test' },
            onProgress: (p) =>
              void job.updateProgress({ ...p, connector: cfg.name, attempt: 1 }).catch(() => {}),
          });
          return { connector: cfg.name, runId: s.runId, status: s.status };
        },
        { connection: workerConnection, prefix, concurrency: 1 },
      );
      h.worker.on('error', () => {});
      return h.worker;
    },
    async close() {
      await server.close();
      await h.worker?.close();
      await events.close();
      await queue.obliterate({ force: true }).catch(() => {});
      await closeSyncQueue(queue);
      workerConnection.disconnect();
      await db.drop();
    },
  };
  return h;
}

/** Polls `fn` until it returns a truthy value, or fails after `ms`. */
export async function waitFor<T>(
  fn: () => Promise<T | null | undefined | false>,
  what: string,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
