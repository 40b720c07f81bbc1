/** Connectors: status overview, one connector, "sync now" / "full resync". */
import type { FastifyInstance } from 'fastify';
import { connectorStatuses } from '../../store/queries.js';
import { connectorOf, describeConfig, describeSchedule, type ApiContext } from '../context.js';
import { liveRuns, loadConnectorProblems, runTrend, type RunRow } from '../queries.js';
import { sendError } from '../security.js';
import { errorSchema, nameParams, obj } from './schemas.js';

export type ConnectorHealth = 'healthy' | 'failing' | 'running' | 'needs_approval' | 'never_run';

/** Next run of each connector from the BullMQ job schedulers, when a queue is attached. */
async function nextRuns(ctx: ApiContext): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const q = ctx.queue?.bullQueue;
  if (!q) return out;
  try {
    for (const s of await q.getJobSchedulers(0, -1, true)) {
      const data = (s.template?.data ?? {}) as { connector?: unknown };
      const name =
        typeof data.connector === 'string'
          ? data.connector
          : ctx.names.find((n) => s.key === n || s.key.endsWith(`:${n}`) || s.name === n);
      if (name && s.next !== undefined) {
        const prev = out.get(name);
        if (prev === undefined || s.next < prev) out.set(name, s.next);
      }
    }
  } catch {
    // Redis down: the overview still shows what Postgres knows; /healthz says what is wrong.
  }
  return out;
}

export async function connectorOverview(ctx: ApiContext, names = ctx.names) {
  const [statuses, live, next, problems] = await Promise.all([
    connectorStatuses(ctx.pool, names),
    liveRuns(ctx.pool, names),
    nextRuns(ctx),
    loadConnectorProblems(ctx.pool, names),
  ]);
  const { rows: lastDone } = await ctx.pool.query<{ connector: string; status: string }>(
    `SELECT DISTINCT ON (connector) connector, status FROM dirsync.runs
      WHERE connector = ANY($1::text[]) AND status NOT IN ('running', 'needs_approval') AND NOT dry_run
      ORDER BY connector, id DESC`,
    [names],
  );
  const lastStatus = new Map(lastDone.map((r) => [r.connector, r.status]));
  return statuses.map((s) => {
    const cfg = connectorOf(ctx, s.connector);
    const running = live.find((r) => r.connector === s.connector && r.status === 'running') ?? null;
    const held = live.filter((r) => r.connector === s.connector && r.status === 'needs_approval');
    const status: ConnectorHealth = running
      ? 'running'
      : held.length > 0
        ? 'needs_approval'
        : lastStatus.get(s.connector) === 'failed'
          ? 'failing'
          : s.lastRun
            ? 'healthy'
            : 'never_run';
    const n = next.get(s.connector);
    return {
      name: s.connector,
      title: cfg.title ?? null,
      kind: cfg.kind,
      schedule: describeSchedule(cfg.schedule),
      status,
      users: s.users,
      activeUsers: s.activeUsers,
      groups: s.groups,
      lastRun: s.lastRun,
      lastSuccessAt: s.lastSuccessAt,
      nextRunAt: n === undefined ? null : new Date(n).toISOString(),
      running: running ? liveView(running) : null,
      heldRuns: held.map((r) => r.id),
      /** What a worker found wrong with this connector's setup at its start (missing secret...). */
      configProblems: problems.get(s.connector) ?? null,
    };
  });
}

export function liveView(r: RunRow) {
  return {
    id: r.id,
    connector: r.connector,
    status: r.status,
    phase: r.phase,
    progress: r.progress,
    startedAt: r.startedAt,
    durationMs: r.durationMs,
    trigger: r.trigger,
  };
}

export function connectorRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/api/connectors',
    {
      schema: {
        tags: ['connectors'],
        summary: 'Every configured connector with its status, last and next run, and directory size',
        response: { 200: obj({ items: { type: 'array', items: { type: 'object' } } }) },
      },
    },
    async () => ({ items: await connectorOverview(ctx) }),
  );

  app.get<{ Params: { name: string } }>(
    '/api/connectors/:name',
    {
      schema: {
        tags: ['connectors'],
        summary: 'One connector: status, its config with secret references described, and a run trend',
        params: nameParams,
        response: { 200: { type: 'object' }, 404: errorSchema },
      },
    },
    async (req) => {
      const cfg = connectorOf(ctx, req.params.name);
      const [overview] = await connectorOverview(ctx, [cfg.name]);
      return {
        ...overview,
        config: describeConfig(cfg),
        trend: await runTrend(ctx.pool, cfg.name),
      };
    },
  );

  app.post<{ Params: { name: string }; Body: { fullResync?: boolean } | undefined }>(
    '/api/connectors/:name/sync',
    {
      schema: {
        tags: ['connectors'],
        summary: 'Sync now (or a full resync): enqueues a job, joined with one already waiting',
        params: nameParams,
        body: {
          type: 'object',
          nullable: true,
          additionalProperties: false,
          properties: { fullResync: { type: 'boolean', default: false } },
        },
        response: {
          202: obj({ jobId: { type: 'string' }, state: { type: 'string', enum: ['queued', 'joined'] } }),
          404: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const cfg = connectorOf(ctx, req.params.name);
      if (!ctx.queue) {
        return sendError(
          reply,
          503,
          'QUEUE_UNAVAILABLE',
          'This server has no job queue attached; run `dirsync sync`',
        );
      }
      const requestedBy = `api:${req.principal?.via ?? 'unknown'}`;
      const r = await ctx.queue.trigger(cfg.name, { fullResync: req.body?.fullResync ?? false, requestedBy });
      req.log.info({ connector: cfg.name, jobId: r.jobId, state: r.state }, 'sync requested');
      return reply.code(202).send(r);
    },
  );
}
