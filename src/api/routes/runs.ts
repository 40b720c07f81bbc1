/** Run history, one run with its change log and problems, approval of held runs. */
import type { FastifyInstance } from 'fastify';
import { approveRun, rejectRun } from '../../pipeline/approve.js';
import { DirsyncError } from '../../errors.js';
import { connectorOf, type ApiContext } from '../context.js';
import { getRun, listChanges, listProblems, listRuns, removalsByGroup } from '../queries.js';
import {
  errorSchema,
  idParams,
  OBJECT_TYPES,
  obj,
  OPERATIONS,
  pageSchema,
  paging,
  RUN_STATUSES,
} from './schemas.js';

async function runOf(ctx: ApiContext, id: number) {
  const run = await getRun(ctx.pool, id);
  // Runs of connectors no longer configured are not shown (their config, title, ... are gone).
  if (!run || !ctx.names.includes(run.connector))
    throw new DirsyncError('DIRSYNC_E_RUN_NOT_FOUND', `run ${id}`);
  return run;
}

export function runRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: { connector?: string; status?: string; limit: number; offset: number } }>(
    '/api/runs',
    {
      schema: {
        tags: ['runs'],
        summary: 'Run history, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            connector: { type: 'string', minLength: 1 },
            status: { type: 'string', enum: [...RUN_STATUSES] },
            ...paging,
          },
        },
        response: { 200: pageSchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const q = req.query;
      const connectors = q.connector ? [connectorOf(ctx, q.connector).name] : ctx.names;
      return listRuns(ctx.pool, { connectors, status: q.status, limit: q.limit, offset: q.offset });
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/runs/:id',
    {
      schema: {
        tags: ['runs'],
        summary: 'One run: status, phase timings, counts, guard trips, error, and its first problems',
        params: idParams,
        response: { 200: { type: 'object' }, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const run = await runOf(ctx, req.params.id);
      return {
        ...run,
        problems: await listProblems(ctx.pool, run.id, 100, 0),
        // Where a guarded run cuts: memberships it removes per group (held, approved or rejected).
        ...(run.guard ? { removalsByGroup: await removalsByGroup(ctx.pool, run.id) } : {}),
      };
    },
  );

  app.get<{
    Params: { id: number };
    Querystring: { object?: string; operation?: string; limit: number; offset: number };
  }>(
    '/api/runs/:id/changes',
    {
      schema: {
        tags: ['runs'],
        summary: 'What a run changed (or would change, when held or dry), with before/after of updates',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            object: { type: 'string', enum: [...OBJECT_TYPES] },
            operation: { type: 'string', enum: [...OPERATIONS] },
            ...paging,
          },
        },
        response: { 200: pageSchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const run = await runOf(ctx, req.params.id);
      return listChanges(ctx.pool, run.id, req.query);
    },
  );

  app.get<{ Params: { id: number }; Querystring: { limit: number; offset: number } }>(
    '/api/runs/:id/problems',
    {
      schema: {
        tags: ['runs'],
        summary: 'Records the run held or skipped, with the reason',
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: { ...paging } },
        response: { 200: pageSchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const run = await runOf(ctx, req.params.id);
      return listProblems(ctx.pool, run.id, req.query.limit, req.query.offset);
    },
  );

  for (const action of ['approve', 'reject'] as const) {
    app.post<{ Params: { id: number }; Body: { by?: string } | undefined }>(
      `/api/runs/:id/${action}`,
      {
        schema: {
          tags: ['runs'],
          summary:
            action === 'approve'
              ? 'Apply exactly the change set of a run the deletion guard held'
              : 'Discard the change set of a held run',
          params: idParams,
          body: {
            type: 'object',
            nullable: true,
            additionalProperties: false,
            properties: {
              /** Who approves or rejects, as they typed it; recorded on the run. */
              by: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f]+$' },
            },
          },
          response: {
            200: obj({ id: { type: 'integer' }, status: { type: 'string' } }),
            404: errorSchema,
            409: errorSchema,
          },
        },
      },
      async (req) => {
        const run = await runOf(ctx, req.params.id);
        // The dashboard asks who approves and sends it; the API records it with how they signed in.
        const via = req.principal?.via ?? 'unknown';
        const name = req.body?.by?.trim();
        const by = name ? `${name} (dashboard, ${via})` : `api:${via}`;
        if (action === 'approve') await approveRun(ctx.pool, run.id, by);
        else await rejectRun(ctx.pool, run.id, by);
        req.log.info({ runId: run.id, connector: run.connector, by }, `held run ${action}d`);
        const after = await getRun(ctx.pool, run.id);
        return { id: run.id, status: after?.status ?? 'unknown' };
      },
    );
  }
}
