/** /healthz (Postgres and Redis) and /metrics (the jobs' prom-client registry plus process metrics). */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { ApiContext } from '../context.js';
import { obj } from './schemas.js';

async function check(fn: () => Promise<unknown>, timeoutMs = 2000): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export function opsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Liveness and readiness: Postgres and (when a queue is attached) Redis',
        response: {
          200: obj({ status: { type: 'string' }, postgres: { type: 'object' }, redis: { type: 'object' } }),
          503: obj({ status: { type: 'string' }, postgres: { type: 'object' }, redis: { type: 'object' } }),
        },
      },
    },
    async (_req, reply) => {
      const q = ctx.queue?.bullQueue;
      const [postgres, redis] = await Promise.all([
        check(() => ctx.pool.query('SELECT 1')),
        q
          ? check(async () => ((await q.client) as unknown as { ping(): Promise<string> }).ping())
          : Promise.resolve({ ok: true, error: 'no queue attached' }),
      ]);
      const ok = postgres.ok && redis.ok;
      // The error texts come from the drivers (host and port at most; URLs are never echoed).
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', postgres, redis });
    },
  );

  // Process metrics, unless the registry passed in already has them (jobs/metrics.ts may, prefixed).
  const defaults = new Registry();
  const own = ctx.metricsRegistry;
  const hasProcessMetrics = own
    ?.getMetricsAsArray()
    .some((m) => m.name.endsWith('process_cpu_user_seconds_total'));
  if (!hasProcessMetrics) collectDefaultMetrics({ register: defaults });

  app.get(
    '/metrics',
    { schema: { tags: ['ops'], summary: 'Prometheus metrics', produces: ['text/plain'] } },
    async (_req, reply) => {
      const parts = [await defaults.metrics()];
      if (own) parts.push(await own.metrics());
      return reply.type(defaults.contentType).send(parts.filter((p) => p.trim() !== '').join('\n'));
    },
  );
}
