/** The history of one user or group across runs, and "test connection", for the dashboard. */
import type { FastifyInstance } from 'fastify';
import { testConnection } from '../../connection-test.js';
import { objectHistory } from '../../store/history.js';
import { connectorOf, type ApiContext } from '../context.js';
import { sendError } from '../security.js';
import { errorSchema, nameParams } from './schemas.js';

const objectParams = {
  type: 'object',
  required: ['name', 'type', 'id'],
  properties: {
    name: { type: 'string' },
    type: { type: 'string', enum: ['users', 'groups'] },
    id: { type: 'string', minLength: 1, maxLength: 1024 },
  },
} as const;

export function historyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { name: string; type: 'users' | 'groups'; id: string } }>(
    '/api/connectors/:name/:type/:id/history',
    {
      schema: {
        tags: ['directory'],
        summary:
          'Every change that touched one user or group across runs (newest first), and when a deactivated user will be deleted',
        params: objectParams,
        response: { 200: { type: 'object' }, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const cfg = connectorOf(ctx, req.params.name);
      const h = await objectHistory(ctx.pool, cfg.name, req.params.id, {
        type: req.params.type === 'users' ? 'user' : 'group',
        deleteAfterMs: cfg.deletion.deleteAfter === 'never' ? -1 : cfg.deletion.deleteAfter,
      });
      if (!h)
        return sendError(reply, 404, 'NOT_FOUND', `${cfg.name} has no such ${req.params.type.slice(0, -1)}`);
      return h;
    },
  );

  app.post<{ Params: { name: string } }>(
    '/api/connectors/:name/test',
    {
      schema: {
        tags: ['connectors'],
        summary:
          'Test the connection: sign in, read the first users, groups and memberships, and say what is missing',
        params: nameParams,
        response: { 200: { type: 'object' }, 404: errorSchema },
      },
    },
    async (req) => {
      const cfg = connectorOf(ctx, req.params.name);
      const r = await testConnection(cfg);
      req.log.info({ connector: cfg.name, ok: r.ok, code: r.error?.code }, 'connection tested');
      return r;
    },
  );
}
